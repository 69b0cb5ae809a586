// OnEvent hooks: each stored event a hook wants runs the hook's command once, with the event as JSON
// on its standard input. What is decided for each (queued, skipped by MinInterval, dropped when too many
// wait) is recorded together with the cursor, the newest event decided, so that a hook never runs
// twice for one event and an event a dead controller stored runs its hooks at the next start.
import type { EventHook } from '../schema/config/types.js';
import { formatDuration } from '../schema/durations.js';
import type { ServiceEvent } from '../schema/records.js';
import type { Clock, Timer } from '../system/clock.js';
import { sameHooks } from './config-change-words.js';
import type { EventQueries } from './event-queries.js';
import { runHookProcess, type HookCommand, type HookProcess, type HookProcessEnd } from './hook-process.js';
import type { HookDecision, HookRuns } from './hook-runs.js';
import type { Logger } from './log.js';

/** Hook runs at once; the others wait. */
export const HOOKS_RUNNING_MAX = 4;
/** Runs that may wait; beyond, an event's run is dropped (and recorded so). */
export const HOOKS_QUEUED_MAX = 100;
/** How long a controller that stops waits for the runs in progress before it kills them. */
export const HOOKS_STOP_GRACE_MS = 5000;
/** Events read at once when catching up from the database. */
const CATCH_UP_PAGE = 1000;

/** The variables a hook gets besides the controller's environment (only those the event sets). */
export const HOOK_VARIABLES = [
  'UPK_HOOK',
  'UPK_EVENT_ID',
  'UPK_EVENT_TYPE',
  'UPK_EVENT_TIME',
  'UPK_SERVICE',
  'UPK_SERVICE_UUID',
  'UPK_PID',
  'UPK_CODE',
  'UPK_SIGNAL',
] as const;

export interface EventHooksParts {
  readonly runs: HookRuns;
  readonly events: Pick<EventQueries, 'after' | 'byId' | 'lastId'>;
  readonly log: Logger;
  readonly clock: Clock;
  /** The folder hooks run in (StateDir). */
  cwd(): string;
  /** Starts a hook's command (runHookProcess). */
  spawn?: (cmd: HookCommand, clock: Clock) => HookProcess;
}

interface Job {
  id: number;
  hook: EventHook;
  event: ServiceEvent;
}

export class EventHooks {
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, HookProcess>();
  /** When each hook last ran for each service (its key: hook and service uuid). */
  private readonly lastRun = new Map<string, number>();
  /** The newest event decided. */
  private cursor = 0;
  private resumed = false;
  private stopping = false;
  private closed = false;
  /** The decisions for some events could not be recorded: the next dispatch reads them from the database. */
  private behind = false;
  /** Runs are being dropped (told once until the queue has room again). */
  private dropping = false;

  constructor(
    private readonly p: EventHooksParts,
    private hooks: EventHook[],
  ) {}

  /** A reloaded configuration: its hooks decide the events from now on (runs already queued keep theirs). */
  configure(hooks: EventHook[]): void {
    if (!sameHooks(hooks, this.hooks)) {
      this.p.log.info(`OnEvent: ${hooks.length === 0 ? 'no hooks' : hooks.map((h) => `${h.name} (${h.events.join(', ')})`).join('; ')}`);
    }
    this.hooks = hooks;
    const names = new Set(hooks.map((h) => h.name));
    for (const key of this.lastRun.keys()) if (!names.has(key.slice(0, key.indexOf('\0')))) this.lastRun.delete(key);
  }

  /**
   * At start, before any event is stored: runs a previous controller left running are recorded as
   * interrupted (never run again), those it left queued wait again, and the events stored after the
   * cursor (by a controller that died before deciding them) are decided now.
   */
  resume(): void {
    try {
      this.takeUp();
    } catch (err) {
      this.p.log.error(`cannot take up the hook runs a previous controller left: ${(err as Error).message}`);
    }
    this.cursor = this.p.runs.cursor();
    this.resumed = true;
    this.dispatch([]);
  }

  /** The runs a previous controller left: running ones are interrupted, queued ones wait again. */
  private takeUp(): void {
    const { runs, clock, log } = this.p;
    const interrupted = runs.interruptRunning('the controller stopped while it ran: its outcome is unknown, and it is not run again');
    if (interrupted > 0) log.warn(`${interrupted} hook run(s) of a previous controller were cut short; recorded as interrupted`);
    const longest = Math.max(0, ...this.hooks.map((h) => h.minInterval));
    for (const r of runs.lastRuns(clock.now() - longest * 1000)) this.lastRun.set(runKey(r.hook, r.serviceUuid), r.time);
    for (const q of runs.queued()) {
      const hook = this.hooks.find((h) => h.name === q.hook);
      const event = hook ? this.p.events.byId(q.eventId) : null;
      if (!hook) runs.drop(q.id, `the hook ${q.hook} is no longer configured`);
      else if (!event) runs.drop(q.id, 'its event is no longer in the database');
      else if (this.queue.length >= HOOKS_QUEUED_MAX) runs.drop(q.id, queueFull());
      else this.queue.push({ id: q.id, hook, event });
    }
  }

  /** Events just stored (AuditStore.onInserted). */
  dispatch(events: ServiceEvent[]): void {
    // Before resume() and while stopping: left to the database, from which the next start reads them.
    if (!this.resumed || this.stopping) return;
    try {
      // At resume, and after a failure, everything stored after the cursor; else the events given.
      if (this.behind || events.length === 0) this.catchUp();
      else this.decide(events);
      this.behind = false;
    } catch (err) {
      if (!this.behind)
        this.p.log.error(`cannot record the hook runs of new events (tried again with the next ones): ${(err as Error).message}`);
      this.behind = true;
    }
    this.pump();
  }

  /** Stop: no new run; those in progress get HOOKS_STOP_GRACE_MS, then are killed and recorded as interrupted. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.running.size > 0) {
      this.p.log.info(`waiting up to ${formatDuration(HOOKS_STOP_GRACE_MS)} for ${this.running.size} hook run(s) in progress`);
      let timer: Timer | null = null;
      await Promise.race([
        Promise.all([...this.running.values()].map((r) => r.done)),
        new Promise<void>((resolve) => (timer = this.p.clock.setTimeout(resolve, HOOKS_STOP_GRACE_MS))),
      ]);
      (timer as Timer | null)?.clear();
    }
    for (const [id, run] of this.running) {
      run.kill();
      const reason = 'the controller stopped while it ran: killed, and not run again';
      this.record(() =>
        this.p.runs.finished(id, { outcome: 'interrupted', reason, exitCode: null, signal: null, output: '' }, this.p.clock.now()),
      );
    }
    this.running.clear();
    this.closed = true; // the audit database closes next
  }

  /** Decide every event stored after the cursor, a page at a time. */
  private catchUp(): void {
    if (this.hooks.length === 0) {
      // Nothing to run: the cursor moves past what is stored (a hook added later starts from there).
      const last = this.p.events.lastId();
      if (last > this.cursor) this.p.runs.decide([], last, this.p.clock.now());
      this.cursor = Math.max(this.cursor, last);
      return;
    }
    for (;;) {
      const page = this.p.events.after({}, null, this.cursor, CATCH_UP_PAGE);
      if (page.length === 0) return;
      this.decide(page);
    }
  }

  /** For each event after the cursor and each hook that wants it: queue a run, or skip it, or drop it; recorded, then queued. */
  private decide(events: ServiceEvent[]): void {
    const fresh = events.filter((e) => e.id > this.cursor);
    const upTo = fresh.at(-1)?.id;
    if (upTo === undefined) return;
    const now = this.p.clock.now();
    const decisions: (HookDecision & { job: EventHook })[] = [];
    const ran = new Map<string, number>(); // this round's runs, over lastRun
    let pending = this.queue.length + this.running.size;
    for (const event of fresh) {
      for (const hook of this.hooks) {
        if (!wants(hook, event)) continue;
        const key = runKey(hook.name, event.uuid);
        const last = ran.get(key) ?? this.lastRun.get(key);
        const base = { hook: hook.name, event, job: hook };
        if (last !== undefined && now - last < hook.minInterval * 1000) {
          const reason = `MinInterval ${formatDuration(hook.minInterval * 1000)}: it ran for ${event.service} ${formatDuration(now - last)} before`;
          decisions.push({ ...base, outcome: 'skipped', reason });
        } else if (pending >= HOOKS_RUNNING_MAX + HOOKS_QUEUED_MAX) {
          decisions.push({ ...base, outcome: 'dropped', reason: queueFull() });
        } else {
          pending++;
          ran.set(key, now);
          decisions.push({ ...base, outcome: 'queued', reason: null });
        }
      }
    }
    const rows = this.p.runs.decide(decisions, upTo, now);
    this.cursor = upTo;
    for (const [key, time] of ran) this.lastRun.set(key, time);
    rows.forEach((id, i) => {
      const d = decisions[i]!;
      if (id !== null) this.queue.push({ id, hook: d.job, event: d.event });
    });
    const dropped = decisions.filter((d) => d.outcome === 'dropped').length;
    if (dropped > 0 && !this.dropping) {
      this.p.log.warn(`hook runs dropped: ${HOOKS_QUEUED_MAX} wait already (a storm of events?); each is recorded in hook_runs as dropped`);
    }
    this.dropping = dropped > 0 || (this.dropping && this.queue.length > HOOKS_QUEUED_MAX / 2);
  }

  /** Start queued runs while there is a free slot. */
  private pump(): void {
    while (!this.stopping && this.running.size < HOOKS_RUNNING_MAX) {
      const job = this.queue.shift();
      if (!job) return;
      this.start(job);
    }
  }

  private start(job: Job): void {
    const { hook, event } = job;
    const { clock, log } = this.p;
    const command: HookCommand = {
      argv: hook.command,
      env: hookEnvironment(hook, event),
      cwd: this.p.cwd(),
      input: `${JSON.stringify(event)}\n`,
      timeoutMs: hook.timeout * 1000,
    };
    const started = clock.now();
    const run = (this.p.spawn ?? runHookProcess)(command, clock);
    this.running.set(job.id, run);
    this.record(() => this.p.runs.started(job.id, run.pid, started));
    void run.done.then((end: HookProcessEnd) => {
      if (this.closed || !this.running.delete(job.id)) return; // stop() recorded it
      this.record(() => this.p.runs.finished(job.id, end, clock.now()));
      const how = end.reason ?? (end.signal ? `signal ${end.signal}` : `exit ${end.exitCode ?? '?'}`);
      const line = `hook ${hook.name}: ${event.service} ${event.type} (event ${event.id}): ${end.outcome}, ${how}, in ${formatDuration(clock.now() - started)}`;
      if (end.outcome === 'ok') log.info(line);
      else log.warn(line);
      this.pump();
    });
  }

  /** A write of a run's progress; one that fails is logged (the next controller finds the run interrupted). */
  private record(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.p.log.error(`cannot record a hook run: ${(err as Error).message}`);
    }
  }
}

/** The controller's environment with the event's main fields (a variable the event leaves unset is removed). */
export function hookEnvironment(hook: EventHook, event: ServiceEvent, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const name of HOOK_VARIABLES) delete env[name];
  const values: Record<(typeof HOOK_VARIABLES)[number], string | number | null> = {
    UPK_HOOK: hook.name,
    UPK_EVENT_ID: event.id,
    UPK_EVENT_TYPE: event.type,
    UPK_EVENT_TIME: event.time,
    UPK_SERVICE: event.service,
    UPK_SERVICE_UUID: event.uuid,
    UPK_PID: event.pid,
    UPK_CODE: event.code,
    UPK_SIGNAL: event.signal,
  };
  for (const [name, value] of Object.entries(values)) if (value !== null) env[name] = String(value);
  return env;
}

/** Whether a hook runs for an event: its type, and its service (or the service it is an instance of). */
export function wants(hook: EventHook, event: ServiceEvent): boolean {
  if (!hook.events.includes(event.type)) return false;
  return hook.services === null || hook.services.includes(event.service) || hook.services.includes(event.service.replace(/@\d+$/, ''));
}

const runKey = (hook: string, serviceUuid: string): string => `${hook}\0${serviceUuid}`;

const queueFull = (): string => `${HOOKS_QUEUED_MAX} hook runs wait already: dropped`;
