// HealthCheck, HealthFailLine and ReadyCheck: run while the service's process runs (never two of a kind
// at once), counted into healthy and unhealthy, recorded as events and told to the machine.
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { NewEvent } from '../schema/event-details.js';
import { describeProbe, parseProbe, type Probe } from '../schema/probe.js';
import { isoTime, type HealthStatus } from '../schema/records.js';
import type { Clock, Timer } from '../system/clock.js';
import type { Input, Snapshot } from './machine.js';
import { LineMatcher } from './line-matcher.js';
import { bounded, runProbe, type ProbeResult, type RunningProbe } from './probe-runner.js';
import type { SpawnContext } from './spawn-script.js';

export interface HealthWorld {
  clock: Clock;
  context: () => SpawnContext;
  emit: (event: NewEvent) => void;
  input: (input: Input) => void;
  run?: typeof runProbe;
}

/** One repeating check (the health check or the readiness probe): the next run's timer, the one under way. */
class Repeater {
  private timer: Timer | null = null;
  private running: RunningProbe | null = null;
  private generation = 0;

  constructor(
    private readonly clock: Clock,
    private readonly once: () => RunningProbe,
    private readonly seen: (r: ProbeResult) => void,
  ) {}

  get active(): boolean {
    return this.timer !== null || this.running !== null;
  }

  /** Run after `delayMs`, then every `intervalMs` after each run ends. */
  begin(delayMs: number, intervalMs: () => number): void {
    this.end();
    const generation = this.generation;
    const next = (ms: number): void => {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        const running = this.once();
        this.running = running;
        void running.result.then((r) => {
          if (generation !== this.generation) return; // ended meanwhile: what it saw no longer counts
          this.running = null;
          this.seen(r);
          if (generation === this.generation) next(intervalMs());
        });
      }, ms);
    };
    next(delayMs);
  }

  end(): void {
    this.generation += 1;
    this.timer?.clear();
    this.timer = null;
    this.running?.cancel();
    this.running = null;
  }
}

export class HealthChecks {
  private health: Repeater;
  private ready: Repeater;
  private probe: Probe | null = null;
  private readyProbe: Probe | null = null;
  private failLine: RegExp | null = null;
  /** The process the checks run for; null while none runs. */
  private pid: number | null = null;
  private startedAt = 0;
  private state: HealthStatus = fresh();
  private successes = 0;
  /** HealthFailLine on each stream (their partial lines are their own), or null. */
  private failLines: Record<'stdout' | 'stderr', LineMatcher> | null = null;

  constructor(
    private settings: BuddySettings,
    private readonly world: HealthWorld,
  ) {
    const run = world.run ?? runProbe;
    this.health = new Repeater(
      world.clock,
      () => run(this.probe!, this.settings.healthTimeout * 1000, this.settings.healthExpect, world.context),
      (r) => (r.ok ? this.passed() : this.failed(describeProbe(this.probe!), r.output)),
    );
    this.ready = new Repeater(
      world.clock,
      () => run(this.readyProbe!, this.settings.healthTimeout * 1000, this.settings.healthExpect, world.context),
      (r) => {
        if (!r.ok || this.pid === null) return;
        this.ready.end();
        this.world.input({ kind: 'ready', how: 'probe' });
      },
    );
    this.configure(settings);
  }

  /** Health as the status tells it; null without a health check. */
  get status(): HealthStatus | null {
    return this.pid !== null && (this.probe !== null || this.failLine !== null) ? { ...this.state } : null;
  }

  configure(settings: BuddySettings): void {
    this.settings = settings;
    this.probe = probeOf(settings.healthCheck);
    this.readyProbe = probeOf(settings.readyCheck);
    this.failLine = regexOf(settings.healthFailLine);
    this.failLines = this.failLine && { stdout: new LineMatcher(this.failLine), stderr: new LineMatcher(this.failLine) };
    if (this.probe === null) this.health.end();
    else if (this.pid !== null && !this.health.active) this.health.begin(settings.healthInterval * 1000, () => this.interval());
  }

  /** After every input: checks run while the service's process runs (starting or running), and end at a stop. */
  follow(s: Snapshot): void {
    const runs = s.pid !== null && (s.state === 'starting' || s.state === 'running');
    if (!runs) {
      if (this.pid !== null) this.end();
      return;
    }
    if (s.pid !== this.pid) {
      this.end();
      this.pid = s.pid;
      this.startedAt = s.started ?? this.world.clock.now();
      if (this.probe !== null) this.health.begin(this.interval(), () => this.interval());
      if (this.readyProbe !== null && s.state === 'starting') this.ready.begin(0, () => this.settings.readyCheckInterval * 1000);
    }
    if (s.state !== 'starting') this.ready.end();
  }

  /** Output of the service: a line matching HealthFailLine is a failed check. */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.failLine === null || this.failLines === null || this.pid === null) return;
    for (const line of this.failLines[stream].feed(chunk)) {
      if (this.pid === null) return; // (a failure above stopped it)
      this.failed(`output /${this.failLine.source}/`, line);
    }
  }

  close(): void {
    this.end();
  }

  private interval(): number {
    return this.settings.healthInterval * 1000;
  }

  private end(): void {
    this.health.end();
    this.ready.end();
    this.pid = null;
    this.state = fresh();
    this.successes = 0;
    this.failLines = this.failLine && { stdout: new LineMatcher(this.failLine), stderr: new LineMatcher(this.failLine) };
  }

  private passed(): void {
    const wasUnhealthy = this.state.status === 'unhealthy';
    this.successes += 1;
    this.state = { ...this.state, failures: 0, lastCheck: isoTime(this.world.clock.now()) };
    if (wasUnhealthy && this.successes < this.settings.healthRecoveries) return;
    this.state.status = 'healthy';
    if (wasUnhealthy) this.world.emit({ type: 'healthy', pid: this.pid, detail: { check: describeProbe(this.probe!) } });
  }

  private failed(check: string, output: string): void {
    const now = this.world.clock.now();
    this.successes = 0;
    this.state = { ...this.state, lastCheck: isoTime(now), lastOutput: bounded(output) };
    // Within HealthStartPeriod a failure does not count.
    if (now - this.startedAt < this.settings.healthStartPeriod * 1000) return;
    this.state.failures += 1;
    if (this.state.status === 'unhealthy' || this.state.failures < this.settings.healthRetries) return;
    this.state.status = 'unhealthy';
    const action = this.settings.healthAction;
    const detail = { check, failures: this.state.failures, output: this.state.lastOutput ?? '', action };
    this.world.emit({ type: 'unhealthy', pid: this.pid, detail });
    if (action !== 'none') this.world.input({ kind: 'unwell', action, cause: 'unhealthy' });
  }
}

function fresh(): HealthStatus {
  return { status: 'starting', failures: 0, lastCheck: null, lastOutput: null };
}

function probeOf(text: string | null): Probe | null {
  if (text === null) return null;
  const probe = parseProbe(text);
  return 'message' in probe ? null : probe;
}

/** HealthFailLine, checked by the configuration; a hand-edited buddy.json's bad one is no check rather than a crash. */
function regexOf(source: string | null): RegExp | null {
  if (source === null) return null;
  try {
    return new RegExp(source);
  } catch {
    return null;
  }
}
