// A service's status at a past moment, replayed from the events its buddies recorded: the buddy's state
// machine (buddy/machine.ts) read back from what it emitted. Pure: events, a policy and what was known
// before the first event in; the status at `at` out (docs/controller.md, "The status at a past time").
import type { ServiceConfig } from './config/types.js';
import { detailOf } from './event-details.js';
import { isoTime, type DesiredState, type EventType, type ExitInfo, type HealthStatus, type Hold, type ServiceState } from './records.js';

/** An event as stored: `time` in ms since the epoch, `detail` parsed. */
export interface PastEvent {
  time: number;
  type: EventType;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * What of a service's configuration the replay needs: when a start becomes `running` (MinUptime, or a
 * `ready` event), whether it is a job, and whether its status has a health. From the configuration
 * the database holds now: a change of these keys since the time asked about is not known (docs).
 */
export interface PastPolicy {
  minUptimeMs: number;
  readiness: 'uptime' | 'signal';
  /** Type oneshot: a job; `scheduled`: it has a Schedule (between runs it is `scheduled`). */
  job: { scheduled: boolean } | null;
  /** HealthCheck (a probe, first run HealthInterval after a start) and HealthFailLine. */
  health: { probe: boolean; failLine: boolean; intervalMs: number };
}

/** The policy of a configuration, as buddy/machine-policy.ts makes the machine's (the controller cannot import it). */
export function pastPolicy(c: ServiceConfig): PastPolicy {
  const job = c.serviceType === 'oneshot';
  const signalled =
    !job &&
    (c.serviceType === 'notify' || c.serviceType === 'forking' || c.readyFd !== null || c.readyLine !== null || c.readyCheck != null);
  return {
    minUptimeMs: Math.round(c.minUptime * 1000),
    readiness: signalled ? 'signal' : 'uptime',
    job: job ? { scheduled: c.schedule !== null } : null,
    health: { probe: c.healthCheck !== null, failLine: c.healthFailLine !== null, intervalMs: Math.round(c.healthInterval * 1000) },
  };
}

/** What was true just before the first event replayed (the defaults: a service's beginning). */
export interface Carried {
  /** The desired state of record (the controller's, which a shutdown leaves as it was). */
  desired: DesiredState;
  restarts: number;
  failures: number;
  lastExit: ExitInfo | null;
  /** The buddy then, or null. */
  buddyPid: number | null;
}

export const NOTHING_CARRIED: Carried = { desired: 'stopped', restarts: 0, failures: 0, lastExit: null, buddyPid: null };

/** A service's status at a time: the fields of ServiceStatus that its events tell (times in ms). */
export interface PastStatus {
  state: ServiceState;
  desired: DesiredState;
  pid: number | null;
  buddyPid: number | null;
  started: number | null;
  since: number | null;
  restarts: number;
  failures: number;
  lastExit: ExitInfo | null;
  hold: Hold | null;
  health: HealthStatus | null;
}

/** The status at `at` after `events` (oldest first, none after `at`), from what `carried` says was true before them. */
export function replay(events: readonly PastEvent[], at: number, policy: PastPolicy, carried: Carried = NOTHING_CARRIED): PastStatus {
  const r = new Replay(policy, carried);
  for (const e of events) {
    if (e.time > at) break;
    r.apply(e);
  }
  return r.statusAt(at);
}

/** The health seen in the current run: the last `unhealthy` not yet followed by `healthy`, the last `healthy`. */
interface RunHealth {
  /** When the checks began: the run's start (or adoption) event. */
  from: number;
  unhealthy: { at: number; failures: number; output: string } | null;
  healthyAt: number | null;
  lastOutput: string | null;
}

/** The machine's fields, moved by each event as the machine moved them when it emitted it. */
class Replay {
  private state: ServiceState = 'stopped';
  private since: number | null = null;
  private desired: DesiredState;
  private pid: number | null = null;
  private started: number | null = null;
  private restarts: number;
  private failures: number;
  private lastExit: ExitInfo | null;
  private hold: Hold | null = null;
  private buddyPid: number | null;
  /** Uptime readiness: when the run now starting becomes running (MinUptime after its start). */
  private runningAt: number | null = null;
  /** The restarts before the last buddy started: a buddy that adopts the lost one's process carries them on. */
  private lostRestarts = 0;
  /** An overlap restart: the run being replaced, while it lives. */
  private previous: { pid: number; started: number | null } | null = null;
  private health: RunHealth | null = null;

  constructor(
    private readonly policy: PastPolicy,
    carried: Carried,
  ) {
    this.desired = carried.desired;
    this.restarts = carried.restarts;
    this.failures = carried.failures;
    this.lastExit = carried.lastExit;
    this.buddyPid = carried.buddyPid;
  }

  apply(e: PastEvent): void {
    // A run starting by MinUptime was running from then on, if that came before this event.
    this.advance(e.time, false);
    switch (e.type) {
      case 'buddy_started':
        return this.buddyStarted(e);
      case 'buddy_exiting':
        this.buddyPid = null;
        return;
      case 'desired': {
        const d = detailOf(e, 'desired');
        // A shutdown changes the buddy's copy only: the controller keeps the desired state of record.
        if (d.desired !== undefined && d.cause !== 'shutdown') this.desired = d.desired;
        // A job with a Schedule wanted running while nothing runs waits for its next run (no event says
        // so); a start that runs it now says `spawned` next, at once.
        if (d.desired === 'running' && this.policy.job?.scheduled && (this.state === 'stopped' || this.state === 'failed'))
          this.enter('scheduled', e.time);
        return;
      }
      case 'spawned':
        return this.spawned(e);
      case 'spawn_failed':
        return this.spawnFailed(e);
      case 'adopted':
        return this.adopted(e);
      case 'ready':
        if (this.state === 'starting' && this.pid !== null) this.becomeRunning(e.time);
        return;
      case 'exited':
        return this.exited(e);
      case 'stopping':
        this.runningAt = null;
        this.enter('stopping', e.time);
        return;
      case 'stopped':
        this.endRun();
        this.previous = null;
        this.hold = null;
        this.enter('stopped', e.time);
        return;
      case 'backoff': {
        const d = detailOf(e, 'backoff');
        this.hold = d.reason !== undefined && d.until !== undefined ? { reason: d.reason, until: d.until } : null;
        this.enter('backoff', e.time);
        return;
      }
      case 'failed': {
        const n = detailOf(e, 'failed').failures;
        if (n !== undefined) this.failures = n;
        this.hold = null;
        this.enter('failed', e.time);
        return;
      }
      case 'start_timeout':
        this.failures += 1;
        return;
      case 'timed_out':
        if (this.policy.job) this.failures += 1; // (a long-running service is stopped and wanted stopped)
        return;
      case 'unhealthy':
        return this.unhealthy(e);
      case 'healthy':
        if (this.health) {
          this.health.unhealthy = null;
          this.health.healthyAt = e.time;
        }
        return;
      case 'limit_exceeded':
        if (detailOf(e, 'limit_exceeded').action === 'restart' && this.pid !== null) this.failures += 1;
        return;
      case 'overlap_abandoned':
        return this.abandoned(e);
      default:
        return; // signal_sent, runaway, actions, output, reconfigured, cron_restart (its stopping follows) …
    }
  }

  statusAt(at: number): PastStatus {
    this.advance(at, true);
    return {
      state: this.state,
      desired: this.desired,
      pid: this.pid,
      buddyPid: this.buddyPid,
      started: this.pid === null ? null : this.started,
      since: this.since,
      restarts: this.restarts,
      failures: this.failures,
      lastExit: this.lastExit,
      hold: this.state === 'backoff' ? this.hold : null,
      health: this.healthAt(at),
    };
  }

  // ---- the events that move the run -------------------------------------------------------------

  /** A new buddy: a fresh machine (stopped, counts at 0, no last exit), which an `adopted` may carry on. */
  private buddyStarted(e: PastEvent): void {
    this.lostRestarts = this.restarts;
    this.endRun();
    this.previous = null;
    this.restarts = 0;
    this.failures = 0;
    this.lastExit = null;
    this.hold = null;
    this.buddyPid = e.pid;
    this.state = 'stopped';
    this.since = e.time;
  }

  private spawned(e: PastEvent): void {
    const d = detailOf(e, 'spawned');
    if (d.replaces !== undefined && this.pid !== null) this.previous = { pid: this.pid, started: this.started };
    if (d.restart === true) this.restarts += 1;
    else {
      // A user's start, or a scheduled one: the counts begin afresh.
      this.restarts = 0;
      this.failures = 0;
    }
    this.hold = null;
    this.beginRun(e.pid, e.time, e.time);
    if (this.policy.job) this.enter('running', e.time);
    else {
      this.enter('starting', e.time);
      this.awaitReadiness(e.time, e.time);
    }
  }

  private spawnFailed(e: PastEvent): void {
    if (detailOf(e, 'spawn_failed').restart === true) this.restarts += 1;
    else {
      this.restarts = 0;
      this.failures = 0;
    }
    this.failures += 1;
    this.lastExit = { code: null, signal: null, at: isoTime(e.time) };
    this.hold = null;
    this.endRun();
    // The restart policy decides next (backoff, failed, or a start at once): starting until its event.
    this.enter('starting', e.time);
  }

  private adopted(e: PastEvent): void {
    const d = detailOf(e, 'adopted');
    const startedAt = d.startedAt !== undefined && Number.isFinite(Date.parse(d.startedAt)) ? Date.parse(d.startedAt) : e.time;
    if (d.how === 'forked') {
      this.pid = e.pid; // Type forking: the same run goes on as the process its PidFile names
      return;
    }
    if (d.how === undefined) {
      // A lost buddy's process: its restarts carry on; ready unless it could not yet be (MinUptime).
      this.restarts = this.lostRestarts;
      this.beginRun(e.pid, startedAt, e.time);
      if (this.policy.readiness === 'uptime' && !this.policy.job && startedAt + this.policy.minUptimeMs > e.time) {
        this.enter('starting', e.time);
        this.runningAt = startedAt + this.policy.minUptimeMs;
      } else this.enter('running', e.time);
      return;
    }
    // Found running by PidFile or ProcessMatch: by a start (its counts already begun), or upk attach.
    if (this.state !== 'starting') {
      this.restarts = 0;
      this.failures = 0;
      this.hold = null;
    }
    this.beginRun(e.pid, startedAt, e.time);
    if (this.policy.readiness === 'signal') this.becomeRunning(e.time);
    else {
      this.enter('starting', e.time);
      this.awaitReadiness(startedAt, e.time);
    }
  }

  private exited(e: PastEvent): void {
    const d = detailOf(e, 'exited');
    if (d.replaced === true) {
      if (this.previous?.pid === e.pid) this.previous = null; // the replaced run: the service did not stop
      return;
    }
    const early = this.state === 'starting';
    this.lastExit = { code: e.code, signal: e.signal, at: isoTime(e.time) };
    this.endRun();
    if (d.requested === true) {
      this.enter('stopping', e.time); // a stop, or a job's MaxRunTime (counted at timed_out)
      return;
    }
    if (this.policy.job) {
      if (d.outcome === 'failure') this.failures += 1;
      else this.failures = 0;
      // A run that ended well leaves a scheduled job waiting for its next run (no event says so).
      this.enter(d.outcome !== 'failure' && this.policy.job.scheduled ? 'scheduled' : 'stopping', e.time);
      return;
    }
    if (early) this.failures += 1;
    this.enter('stopping', e.time); // what it left in its group is cleaned up; then the policy decides
  }

  private unhealthy(e: PastEvent): void {
    const d = detailOf(e, 'unhealthy');
    if (this.health) {
      this.health.unhealthy = { at: e.time, failures: d.failures ?? 0, output: d.output ?? '' };
      this.health.lastOutput = d.output ?? null;
    }
    if (d.action === 'restart' && this.pid !== null) this.failures += 1;
  }

  /** An overlap restart's new run failed before it was ready: the run it was to replace is the service's run again. */
  private abandoned(e: PastEvent): void {
    const prev = this.previous;
    this.previous = null;
    this.pid = prev?.pid ?? e.pid;
    this.started = prev?.started ?? null;
    this.runningAt = null;
    this.failures = 0;
    this.health = this.pid === null ? null : { from: e.time, unhealthy: null, healthyAt: null, lastOutput: null };
    this.enter('running', e.time);
  }

  // ---- steps ------------------------------------------------------------------------------------

  private beginRun(pid: number | null, started: number, checksFrom: number): void {
    this.pid = pid;
    this.started = started;
    this.runningAt = null;
    this.health = { from: checksFrom, unhealthy: null, healthyAt: null, lastOutput: null };
  }

  private endRun(): void {
    this.pid = null;
    this.started = null;
    this.runningAt = null;
    this.health = null;
  }

  /** Uptime readiness: running MinUptime after `startedAt` (at once when that has passed by `now`). */
  private awaitReadiness(startedAt: number, now: number): void {
    if (this.policy.readiness !== 'uptime') return;
    const at = startedAt + this.policy.minUptimeMs;
    if (at <= now) this.becomeRunning(now);
    else this.runningAt = at;
  }

  private becomeRunning(t: number): void {
    this.runningAt = null;
    this.failures = 0;
    this.enter('running', t);
  }

  /**
   * The MinUptime timer: a run still starting at its time became running. Up to an event, strictly
   * before it (an exit at that very millisecond came first: the timer fires no sooner); up to the
   * time asked about, inclusive.
   */
  private advance(t: number, inclusive: boolean): void {
    const at = this.runningAt;
    if (this.state !== 'starting' || at === null) return;
    if (at < t || (inclusive && at === t)) this.becomeRunning(at);
  }

  private enter(state: ServiceState, t: number): void {
    if (this.state === state) return;
    this.state = state;
    this.since = t;
  }

  /**
   * Health while the run starts or runs, with a check: `unhealthy` from its event until `healthy`;
   * `healthy` after a `healthy` event, or once a HealthCheck has had time to pass (HealthInterval after
   * the start: a check that passes records nothing); `starting` before. When a check last ran and
   * failures that did not yet make it unhealthy are not recorded: `lastCheck` is the time of the event.
   */
  private healthAt(at: number): HealthStatus | null {
    const h = this.health;
    const { probe, failLine, intervalMs } = this.policy.health;
    if (!h || !(probe || failLine) || this.pid === null || (this.state !== 'starting' && this.state !== 'running')) return null;
    if (h.unhealthy) {
      return { status: 'unhealthy', failures: h.unhealthy.failures, lastCheck: isoTime(h.unhealthy.at), lastOutput: h.unhealthy.output };
    }
    if (h.healthyAt !== null) return { status: 'healthy', failures: 0, lastCheck: isoTime(h.healthyAt), lastOutput: h.lastOutput };
    if (probe && at >= h.from + intervalMs) return { status: 'healthy', failures: 0, lastCheck: null, lastOutput: null };
    return { status: 'starting', failures: 0, lastCheck: null, lastOutput: null };
  }
}
