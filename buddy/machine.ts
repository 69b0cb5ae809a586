// The buddy's state machine: every input (command, child exit, group check, timer) goes through
// `dispatch`, which returns the effects to carry out. Pure: no I/O; time comes in with each input.
// docs/buddy.md has it as a table; test/unit/machine.test.ts walks the same table.
import type { AdoptedHow, DesiredCause, EventDetails, NewEvent, ReadyHow, SignalSentReason } from '../schema/event-details.js';
import type { DesiredState, ExitInfo, Hold } from '../schema/records.js';
import { planRestart, pruneStarts, type RestartPolicy } from './restart-policy.js';

export type MachineState = 'stopped' | 'starting' | 'running' | 'stopping' | 'backoff' | 'failed' | 'scheduled';
export type TimerName = 'restart' | 'uptime' | 'term' | 'kill' | 'start' | 'runtime' | 'drain';

export interface MachinePolicy extends RestartPolicy {
  /** Stop script's grace before SIGTERM to the group, and SIGTERM's before SIGKILL; <0: never SIGKILL. */
  killTimeoutMs: number;
  /** <0 never gives up; 0 never restarts automatically. */
  maxConsecutiveFailures: number;
  minUptimeMs: number;
  /**
   * How a started service becomes running: `uptime`, after MinUptime; `signal`, when it says it is
   * ready (the runtime's `ready` input: ReadyFd, Type notify, ReadyLine, ReadyCheck).
   */
  readiness: 'uptime' | 'signal';
  /** With `signal` readiness: not ready this long after the start is a failure (0: no limit). */
  startTimeoutMs: number;
  /** A run longer than this is stopped, and recorded as timed out (0: no limit). */
  maxRunTimeMs: number;
  /** Type oneshot: each run ends by itself, and its exit status is its outcome (absent: a long-running service). */
  job?: JobPolicy | null;
  /** RestartMode overlap: a restart starts the new run beside the one running, which drains once the new one is ready. */
  overlap?: boolean;
}

/** A oneshot job's policy (docs/buddy.md, "Jobs"). */
export interface JobPolicy {
  /** A Schedule runs it: between runs it waits, `scheduled`, wanted running; without one a run that ends well leaves it stopped. */
  scheduled: boolean;
  /** A scheduled run due while the last one still runs: skipped, or kept waiting (at most one) until it ends. */
  overlap: 'skip' | 'queue';
}

export type Input =
  /**
   * Commands; `byController`: a controller sent it (its `desired` event says so, detail.by). `resume`: the
   * controller's reconciliation asks for the desired state again: a scheduled job's schedule goes on, no run now.
   */
  | { kind: 'start'; byController?: boolean; resume?: boolean }
  | { kind: 'stop'; byController?: boolean }
  /** `overlap`: `upk restart --overlap` (else RestartMode decides). */
  | { kind: 'restart'; byController?: boolean; overlap?: boolean }
  | { kind: 'shutdown'; byController?: boolean }
  | { kind: 'spawned'; pid: number }
  /**
   * A process left running by a lost buddy, proven the same (start time), to supervise from now on;
   * `starting`: the lost buddy's service was not yet ready (it stays starting until it is). With `how`:
   * found by a start (PidFile, ProcessMatch) instead of a second copy started.
   */
  | {
      kind: 'adopted';
      pid: number;
      startedAt: number;
      restarts: number;
      desired: DesiredState;
      starting?: boolean;
      /** Found by a start, or by `upk attach` (in a state where nothing runs: taken over without a start). */
      how?: 'pidfile' | 'match';
      byController?: boolean;
      /** The run an overlap restart of the lost buddy was replacing, still alive: it is drained once this one is ready. */
      previous?: { pid: number; startedAt: number };
    }
  /** Type forking: the start script exited 0, and its PidFile names the process to supervise from now on. */
  | { kind: 'forked'; pid: number; startedAt: number; pgid?: number }
  | { kind: 'spawn_failed'; error: string }
  /**
   * `pid`: the process that ended (the run being replaced by an overlap restart, or the current one);
   * `error`: why an exit 0 of a Type forking start script is a failed start (no pid file, a dead pid).
   */
  | { kind: 'exited'; pid?: number; code: number | null; signal: string | null; unknown?: boolean; error?: string }
  /** Answers to `watch_group` for group `pgid`: something of the group is still alive / nothing is left. */
  | { kind: 'group_alive'; pgid?: number }
  | { kind: 'group_gone'; pgid?: number }
  | { kind: 'timer'; timer: TimerName }
  /** The service said it is ready (`how`); counts only while it starts, with `signal` readiness. */
  | { kind: 'ready'; how: ReadyHow }
  /**
   * A health check or a limit found the service not working (the runtime recorded what it saw):
   * restart it, as a failure, or stop it (and want it stopped).
   */
  | { kind: 'unwell'; action: 'restart' | 'stop'; cause: 'unhealthy' | 'limit' }
  /** A time of the Schedule (a job's run) or of CronRestart (a long-running service's restart) came; `at`: that time. */
  | { kind: 'due'; at: number }
  /** New settings (a reconfigure): the policy from now on; a run still starting is judged by its new readiness. */
  | { kind: 'policy'; policy: MachinePolicy };

/** The machine's reasons to signal the group (a user's signal is the supervisor's). */
export type SignalReason = Exclude<SignalSentReason, 'user'>;

export type Effect =
  | { kind: 'spawn' }
  | { kind: 'run_stop_script'; pid: number }
  /** `previous`: the group of the run an overlap restart replaces (that group alone, not the service's marked processes). */
  | { kind: 'signal_group'; pgid: number; signal: 'SIGTERM' | 'SIGKILL'; reason: SignalReason; previous?: true }
  /** Check group `pgid` now: answer `group_alive` (then keep watching) or `group_gone`, with its pgid. */
  | { kind: 'watch_group'; pgid: number; previous?: true }
  | { kind: 'set_timer'; timer: TimerName; at: number }
  | { kind: 'clear_timer'; timer: TimerName }
  | { kind: 'emit'; event: NewEvent }
  /** Answer waiting commands: `up` (start, restart) or `down` (stop, shutdown). */
  | { kind: 'settle'; want: 'up' | 'down'; ok: boolean; message: string }
  | { kind: 'exit' };

export interface Snapshot {
  state: MachineState;
  desired: DesiredState;
  pid: number | null;
  /** When the current process started (ms), or null when none runs. */
  started: number | null;
  since: number;
  restarts: number;
  failures: number;
  lastExit: ExitInfo | null;
  hold: Hold | null;
  /** The run an overlap restart replaces, while it lives: `pid` null once it has exited (its group may linger). */
  previous: PreviousRun | null;
}

/** The run an overlap restart replaces: it serves until its successor is ready, then drains (SIGTERM, KillTimeout, SIGKILL). */
export interface PreviousRun {
  pid: number | null;
  pgid: number;
  startedAt: number;
  /** The drain signal went (or it ended by itself): it no longer stands in for a successor that fails. */
  draining: boolean;
}

/** What has been done to the group being taken down. */
type Phase = 'script' | 'cleanup' | 'term' | 'kill';

export class Machine {
  private state: MachineState = 'stopped';
  /** The input being handled is a command a controller sent. */
  private byController = false;
  private desired: DesiredState = 'stopped';
  private pid: number | null = null;
  /** Process group being supervised or taken down (pid of the last start). */
  private pgid: number | null = null;
  private startedAt = 0;
  private since: number;
  private restarts = 0;
  private failures = 0;
  private starts: number[] = [];
  private lastExit: ExitInfo | null = null;
  private hold: Hold | null = null;
  private phase: Phase | null = null;
  /** A user asked for a start while the group was going down: start afresh once it is gone. */
  private startAfterStop = false;
  private byUser = false;
  /** The next spawn is a scheduled one (a job's run, or the start after a CronRestart): its `spawned` says so. */
  private bySchedule = false;
  /** A job's run ended (its exit, or MaxRunTime): its outcome, answered once its group is gone. */
  private outcome: { ok: boolean; message: string } | null = null;
  /** A scheduled run waits for the run under way (ScheduleOverlap queue). */
  private queued = false;
  private exiting = false;
  /** RestartMode overlap: the run being replaced, alive beside the current one. */
  private previous: PreviousRun | null = null;
  /** Stopped but for the previous run, which is draining: `stopped` once it is gone. */
  private awaitingPrevious = false;
  /** An overlap restart asked (or a CronRestart due) while the previous run still drains: it begins once that run is gone. */
  private overlapAfterDrain: 'restart' | 'cron' | null = null;
  private out: Effect[] = [];
  private now = 0;

  constructor(
    private policy: MachinePolicy,
    now: number,
    private readonly random: () => number = Math.random,
  ) {
    this.since = now;
  }

  snapshot(): Snapshot {
    return {
      state: this.state,
      desired: this.desired,
      pid: this.pid,
      started: this.pid === null ? null : this.startedAt,
      since: this.since,
      restarts: this.restarts,
      failures: this.failures,
      lastExit: this.lastExit,
      hold: this.hold,
      previous: this.previous === null ? null : { ...this.previous },
    };
  }

  dispatch(input: Input, now: number): Effect[] {
    this.out = [];
    this.now = now;
    this.byController = 'byController' in input && input.byController === true;
    if (input.kind === 'policy') {
      this.changePolicy(input.policy);
      return this.out;
    }
    if (this.previous !== null && this.forPrevious(input, this.previous)) return this.out;
    switch (this.state) {
      case 'stopped':
      case 'failed':
      case 'scheduled':
        this.whenDown(input);
        break;
      case 'starting':
      case 'running':
        this.whenUp(input);
        break;
      case 'stopping':
        this.whenStopping(input);
        break;
      case 'backoff':
        this.whenBackoff(input);
        break;
    }
    return this.out;
  }

  // ---- one handler per group of states ---------------------------------------------------------

  /** stopped, failed, scheduled: nothing runs. */
  private whenDown(input: Input): void {
    switch (input.kind) {
      case 'start':
      case 'restart':
        this.setDesired('running', 'command');
        if (input.kind === 'start' && input.resume === true && this.policy.job?.scheduled === true) {
          this.enter('scheduled'); // the schedule goes on; a reconciliation runs nothing now
          this.settle('up', true, 'scheduled');
          return;
        }
        this.spawnForUser();
        // A reconciliation does not wait for a job's run (it would hold the other services' starts).
        if (input.kind === 'start' && input.resume === true && this.policy.job) this.settle('up', true, 'started');
        return;
      case 'due':
        if (this.desired === 'running' && this.policy.job?.scheduled === true) this.spawnForUser(true);
        return;
      case 'stop':
      case 'shutdown':
        this.setDesired('stopped', input.kind === 'stop' ? 'command' : 'shutdown');
        this.queued = false;
        if (input.kind === 'shutdown') this.exiting = true;
        this.becomeStopped(this.state === 'failed' || this.state === 'scheduled');
        return;
      case 'adopted':
        if (input.how !== undefined) return this.attached(input.pid, input.startedAt, input.how);
        // The lost buddy's wish stands: a stop it had begun is carried on, not reversed.
        if (this.state !== 'stopped') return;
        this.pid = input.pid;
        this.pgid = input.pid;
        this.startedAt = input.startedAt;
        this.restarts = input.restarts;
        this.emit({ type: 'adopted', pid: input.pid, detail: { startedAt: iso(input.startedAt), desired: input.desired } });
        // The run its overlap restart was replacing: drained once this one is ready (at once, if it is).
        if (input.previous)
          this.previous = { pid: input.previous.pid, pgid: input.previous.pid, startedAt: input.previous.startedAt, draining: false };
        // MaxRunTime counts from the process's start, whoever started it (a run already over it ends now).
        if (this.policy.maxRunTimeMs > 0) {
          this.effect({ kind: 'set_timer', timer: 'runtime', at: Math.max(this.now, input.startedAt + this.policy.maxRunTimeMs) });
        }
        if (input.starting === true && input.desired === 'running' && !this.policy.job) this.awaitReadiness(input.startedAt);
        else this.enter('running');
        if (input.desired === 'running') this.setDesired('running', 'adopted');
        else this.beginStop();
        if (this.snapshot().state !== 'starting') this.drainPrevious();
        return;
      default:
        return; // stale timers and answers: nothing runs
    }
  }

  /** starting (spawned, not yet up for MinUptime), running. */
  private whenUp(input: Input): void {
    switch (input.kind) {
      case 'start':
        this.setDesired('running', 'command');
        // A job's start waits for the run under way and gets its outcome (a reconciliation's does not wait).
        if (this.policy.job && input.resume === true) this.settle('up', true, 'running');
        else if (this.state === 'running' && !this.policy.job) this.settle('up', true, 'already running');
        return;
      case 'restart':
        this.setDesired('running', 'command');
        if ((input.overlap === true || this.policy.overlap === true) && this.canOverlap()) {
          // The run an earlier overlap restart replaced still drains: this one begins once it is gone.
          if (this.previous === null) this.beginOverlap(false);
          else this.overlapAfterDrain = 'restart';
          return;
        }
        this.startAfterStop = true;
        this.beginStop();
        return;
      case 'due':
        if (this.policy.job) this.overlapped(input.at);
        else if (this.desired === 'running' && this.pid !== null) {
          // CronRestart: a planned restart, recorded with its time; the run after it starts afresh.
          this.emit({ type: 'cron_restart', pid: this.pid, detail: { due: iso(input.at) } });
          if (this.policy.overlap === true && this.canOverlap()) {
            // (while an earlier run still drains, stopping this one would leave none serving: it waits)
            if (this.previous === null) this.beginOverlap(true);
            else this.overlapAfterDrain ??= 'cron';
            return;
          }
          this.startAfterStop = true;
          this.bySchedule = true;
          this.beginStop();
        }
        return;
      case 'stop':
      case 'shutdown':
        this.setDesired('stopped', input.kind === 'stop' ? 'command' : 'shutdown');
        this.queued = false;
        if (input.kind === 'shutdown') this.exiting = true;
        this.beginStop();
        this.drainPrevious();
        return;
      case 'spawned':
        this.recordStart();
        this.pid = input.pid;
        this.pgid = input.pid;
        this.startedAt = this.now;
        this.emit({
          type: 'spawned',
          pid: input.pid,
          detail: {
            ...(this.bySchedule ? { restart: false, scheduled: true as const } : { restart: !this.byUser }),
            ...(this.previous !== null && !this.previous.draining && this.previous.pid !== null ? { replaces: this.previous.pid } : {}),
          },
        });
        if (this.policy.maxRunTimeMs > 0) this.effect({ kind: 'set_timer', timer: 'runtime', at: this.now + this.policy.maxRunTimeMs });
        if (this.policy.job)
          this.enter('running'); // a job runs until it ends: no readiness, and its end answers the start
        else if (this.policy.readiness === 'signal') {
          if (this.policy.startTimeoutMs > 0) this.effect({ kind: 'set_timer', timer: 'start', at: this.now + this.policy.startTimeoutMs });
        } else if (this.policy.minUptimeMs <= 0) this.becomeRunning();
        else this.effect({ kind: 'set_timer', timer: 'uptime', at: this.now + this.policy.minUptimeMs });
        return;
      case 'ready':
        if (this.state !== 'starting' || this.policy.readiness !== 'signal' || this.pid === null) return;
        this.effect({ kind: 'clear_timer', timer: 'start' });
        this.emit({ type: 'ready', pid: this.pid, detail: { how: input.how, afterMs: this.now - this.startedAt } });
        this.becomeRunning();
        return;
      case 'unwell':
        if (this.pid === null) return; // (between a spawn and its answer there is nothing to judge)
        if (input.action === 'stop') this.setDesired('stopped', input.cause);
        else this.failures += 1; // restarted by the policy once its group is gone, as after a crash
        this.beginStop();
        return;
      case 'spawn_failed':
        this.recordStart();
        this.emit({ type: 'spawn_failed', detail: { error: input.error, restart: !this.byUser } });
        this.lastExit = { code: null, signal: null, at: iso(this.now) };
        this.failures += 1;
        this.settle('up', false, `could not start: ${input.error}`);
        this.decideRestart();
        return;
      case 'timer':
        if (input.timer === 'uptime' && this.state === 'starting' && this.policy.readiness === 'uptime') this.becomeRunning();
        else if (input.timer === 'start' && this.state === 'starting' && this.pid !== null && this.policy.startTimeoutMs > 0)
          this.startTimedOut();
        else if (input.timer === 'runtime' && this.pid !== null && this.policy.maxRunTimeMs > 0) {
          this.emit({ type: 'timed_out', pid: this.pid, detail: { maxRunTimeMs: this.policy.maxRunTimeMs } });
          if (this.policy.job) {
            // A job's run that times out has failed: the restart policy decides, and a Schedule goes on.
            this.failures += 1;
            this.outcome = { ok: false, message: `timed out: ran longer than MaxRunTime (${this.policy.maxRunTimeMs / 1000} s)` };
          } else this.setDesired('stopped', 'timeout');
          this.beginStop();
        }
        return;
      case 'exited':
        if (this.policy.job) this.onJobExit(input.code, input.signal, input.unknown === true);
        else this.onExitUnasked(input.code, input.signal, input.unknown === true, input.error);
        return;
      case 'adopted':
        // A start found the service already running (PidFile, ProcessMatch): that process, not a second copy.
        if (this.state !== 'starting' || this.pid !== null || input.how === undefined) return;
        this.recordStart();
        this.adoptFound(input.pid, input.startedAt, input.how);
        // It ran before anyone looked: ready by MinUptime from its own start, or at once (its signals cannot reach us).
        if (this.policy.readiness === 'uptime') this.awaitReadiness(input.startedAt);
        else this.becomeRunning();
        return;
      case 'forked':
        if (this.pid === null) return;
        // Its own process group (a daemon that called setsid leads one), else the start script's, where it
        // stayed: never the group of an exited script that nothing holds, whose number may be reused.
        this.pid = input.pid;
        if (input.pgid !== undefined && input.pgid > 1) this.pgid = input.pgid;
        this.emit({ type: 'adopted', pid: input.pid, detail: { startedAt: iso(input.startedAt), desired: this.desired, how: 'forked' } });
        return;
      default:
        return;
    }
  }

  /** stopping: a stop, a restart's stop, or cleanup of what an exited service left in its group. */
  private whenStopping(input: Input): void {
    // Nothing of the current run is left: only the previous run's end is awaited (forPrevious).
    if (this.awaitingPrevious && input.kind !== 'start' && input.kind !== 'restart' && input.kind !== 'stop' && input.kind !== 'shutdown')
      return;
    switch (input.kind) {
      case 'start':
      case 'restart':
        this.setDesired('running', 'command');
        // A job's run that has ended: a start gets its outcome, once its group is gone (no second run).
        if (input.kind === 'start' && this.outcome !== null) return;
        this.startAfterStop = true;
        this.bySchedule = false;
        return;
      case 'due':
        if (this.policy.job) this.overlapped(input.at);
        return;
      case 'stop':
      case 'shutdown':
        this.setDesired('stopped', input.kind === 'stop' ? 'command' : 'shutdown');
        this.startAfterStop = false;
        this.queued = false;
        if (input.kind === 'shutdown') this.exiting = true;
        this.drainPrevious();
        return;
      case 'exited':
        this.effect({ kind: 'clear_timer', timer: 'term' });
        this.recordExit(input.code, input.signal, true, input.unknown === true);
        this.effect({ kind: 'watch_group', pgid: this.pgid! });
        return;
      case 'group_alive':
        // The main process is gone but part of its group is not: SIGTERM it now, SIGKILL later.
        if (this.phase === 'script' || this.phase === 'cleanup') {
          this.signalGroup('SIGTERM', this.phase === 'script' ? 'stop' : 'cleanup');
          this.phase = 'term';
          this.armKill();
        }
        return;
      case 'timer':
        if (input.timer === 'term' && this.phase === 'script') {
          this.signalGroup('SIGTERM', 'escalation');
          this.phase = 'term';
          this.armKill();
        } else if (input.timer === 'kill' && this.phase === 'term') {
          this.signalGroup('SIGKILL', 'escalation');
          this.phase = 'kill';
        }
        return;
      case 'group_gone':
        this.onGroupGone();
        return;
      default:
        return;
    }
  }

  /** backoff: exited, a restart is scheduled. */
  private whenBackoff(input: Input): void {
    switch (input.kind) {
      case 'start':
      case 'restart':
        this.setDesired('running', 'command');
        this.clearHold();
        this.spawnForUser();
        return;
      case 'due':
        if (this.policy.job) this.overlapped(input.at); // the last run is still being retried
        return;
      case 'stop':
      case 'shutdown':
        this.setDesired('stopped', input.kind === 'stop' ? 'command' : 'shutdown');
        this.queued = false;
        this.clearHold();
        if (input.kind === 'shutdown') this.exiting = true;
        this.becomeStopped(true);
        return;
      case 'timer':
        if (input.timer === 'restart') {
          this.hold = null;
          this.spawn(false);
        }
        return;
      case 'adopted':
        if (input.how === undefined) return;
        this.clearHold();
        this.attached(input.pid, input.startedAt, input.how);
        return;
      default:
        return;
    }
  }

  // ---- steps shared by the handlers -------------------------------------------------------------

  /** A user's start, or a scheduled one (a job's run, the start after a CronRestart): counts begin afresh. */
  private spawnForUser(bySchedule = false): void {
    this.restarts = 0;
    this.failures = 0;
    this.starts = [];
    this.spawn(true, bySchedule);
  }

  private spawn(byUser: boolean, bySchedule = false): void {
    if (!byUser) this.restarts += 1;
    this.byUser = byUser;
    this.bySchedule = bySchedule;
    this.pid = null;
    this.enter('starting');
    this.effect({ kind: 'spawn' });
  }

  /**
   * A run still starting when the policy changes waits for its new readiness, counted from its start:
   * MinUptime (running at once if that has passed), or a signal within StartTimeout. (A running run
   * keeps its timers: MaxRunTime, like the other settings of a run, counts from its next start.)
   */
  private changePolicy(policy: MachinePolicy): void {
    const before = this.policy;
    this.policy = policy;
    if (this.state === 'scheduled' && policy.job?.scheduled !== true) {
      // No schedule to wait for any more (Schedule or Type oneshot removed): the job is done with.
      this.setDesired('stopped', 'completed');
      this.enter('stopped');
      this.emit({ type: 'stopped' });
      return;
    }
    if (policy.job) return; // (a job has no readiness to wait for)
    if (this.state !== 'starting' || this.pid === null) return;
    if (
      policy.readiness === before.readiness &&
      policy.startTimeoutMs === before.startTimeoutMs &&
      policy.minUptimeMs === before.minUptimeMs
    )
      return;
    this.effect({ kind: 'clear_timer', timer: 'uptime' });
    this.effect({ kind: 'clear_timer', timer: 'start' });
    this.awaitReadiness(this.startedAt);
  }

  /**
   * A process not yet ready (adopted before it was, or starting under a changed policy) is starting:
   * its readiness (a signal, or MinUptime) and StartTimeout count from its start.
   */
  private awaitReadiness(startedAt: number): void {
    const p = this.policy;
    if (p.readiness === 'uptime' && startedAt + p.minUptimeMs <= this.now) {
      this.becomeRunning();
      return;
    }
    this.enter('starting');
    if (p.readiness === 'uptime') this.effect({ kind: 'set_timer', timer: 'uptime', at: startedAt + p.minUptimeMs });
    else if (p.startTimeoutMs > 0) this.effect({ kind: 'set_timer', timer: 'start', at: Math.max(this.now, startedAt + p.startTimeoutMs) });
  }

  /** A start found the service running (`how`): supervise that process, as a lost buddy's is (whenDown). */
  private adoptFound(pid: number, startedAt: number, how: AdoptedHow): void {
    this.pid = pid;
    this.pgid = pid;
    this.startedAt = startedAt;
    this.emit({ type: 'adopted', pid, detail: { startedAt: iso(startedAt), desired: this.desired, how } });
    if (this.policy.maxRunTimeMs > 0) {
      this.effect({ kind: 'set_timer', timer: 'runtime', at: Math.max(this.now, startedAt + this.policy.maxRunTimeMs) });
    }
  }

  /** upk attach found the service's process (nothing runs): it is the service's run from now, wanted running; no start. */
  private attached(pid: number, startedAt: number, how: AdoptedHow): void {
    this.setDesired('running', 'command');
    this.restarts = 0;
    this.failures = 0;
    this.starts = [];
    this.recordStart();
    this.adoptFound(pid, startedAt, how);
    if (this.policy.readiness === 'uptime') this.awaitReadiness(startedAt);
    else this.becomeRunning();
  }

  /** A start counts for the rate limit and the runaway window from when its process exists (or failed to). */
  private recordStart(): void {
    this.starts = pruneStarts([...this.starts, this.now], this.policy, this.now);
  }

  private becomeRunning(): void {
    this.failures = 0;
    this.enter('running');
    this.settle('up', true, 'running');
    this.drainPrevious(); // an overlap restart: the run it replaces drains now
  }

  /** Not ready within StartTimeout: a failure, stopped; once its group is gone the restart policy decides. */
  private startTimedOut(): void {
    this.emit({ type: 'start_timeout', pid: this.pid, detail: { timeoutMs: this.policy.startTimeoutMs } });
    this.failures += 1;
    this.settle('up', false, `not ready within StartTimeout (${this.policy.startTimeoutMs / 1000} s)`);
    this.beginStop();
  }

  private beginStop(): void {
    this.clearRunTimers();
    this.enter('stopping');
    this.emit({ type: 'stopping', pid: this.pid, detail: { restart: this.startAfterStop } });
    const kt = this.policy.killTimeoutMs;
    if (kt === 0) {
      this.signalGroup('SIGTERM', 'escalation');
      this.signalGroup('SIGKILL', 'escalation');
      this.phase = 'kill';
      return;
    }
    this.phase = 'script';
    this.effect({ kind: 'run_stop_script', pid: this.pid! });
    this.effect({ kind: 'set_timer', timer: 'term', at: this.now + Math.abs(kt) });
  }

  private armKill(): void {
    if (this.policy.killTimeoutMs >= 0) {
      this.effect({ kind: 'set_timer', timer: 'kill', at: this.now + this.policy.killTimeoutMs });
    }
  }

  private signalGroup(signal: 'SIGTERM' | 'SIGKILL', reason: SignalReason): void {
    if (this.pgid !== null) this.effect({ kind: 'signal_group', pgid: this.pgid, signal, reason });
  }

  /** A job's process ended: the run's outcome is its exit status; its group is cleaned, then the outcome answered. */
  private onJobExit(code: number | null, signal: string | null, unknown: boolean): void {
    this.clearRunTimers();
    const took = `after ${this.now - this.startedAt} ms`;
    // An adopted job's exit status cannot be known: it is not run again (a job may not be safe to repeat).
    if (unknown) this.outcome = { ok: true, message: `ended ${took} (how is not known: it was adopted)` };
    else if (code === 0 && signal === null) this.outcome = { ok: true, message: `completed (exit 0) ${took}` };
    else this.outcome = { ok: false, message: `failed: exited ${describeExit(code, signal)} ${took}` };
    if (this.outcome.ok) this.failures = 0;
    else this.failures += 1;
    this.recordExit(code, signal, false, unknown);
    this.enter('stopping');
    this.phase = 'cleanup';
    this.effect({ kind: 'watch_group', pgid: this.pgid! });
  }

  /** A due run while the last one still runs (or waits to be retried): kept waiting once (queue), else skipped. */
  private overlapped(at: number): void {
    const job = this.policy.job;
    if (!job?.scheduled || this.desired !== 'running') return;
    if (job.overlap === 'queue' && !this.queued) {
      this.queued = true;
      return;
    }
    this.emit({ type: 'run_skipped', pid: this.pid, detail: { due: iso(at), overlap: job.overlap } });
  }

  /**
   * A job's run is over and its group gone: its outcome answers the start. A queued run starts now; a
   * failure goes to the restart policy; a success leaves it `scheduled` (a Schedule) or done: wanted
   * stopped, cause `completed`, so that nothing starts it again.
   */
  private endRun(outcome: { ok: boolean; message: string }): void {
    this.settle('up', outcome.ok, outcome.message);
    if (this.queued) {
      this.queued = false;
      this.spawnForUser(true);
    } else if (!outcome.ok) this.decideRestart();
    else if (this.policy.job?.scheduled === true) this.enter('scheduled');
    else {
      this.setDesired('stopped', 'completed', false);
      this.enter('stopped');
      this.emit({ type: 'stopped' });
    }
  }

  /** The service exited while wanted running: count it, then clean its group before anything else. */
  private onExitUnasked(code: number | null, signal: string | null, unknown: boolean, error?: string): void {
    this.clearRunTimers();
    const early = this.state === 'starting';
    const uptime = this.now - this.startedAt;
    this.recordExit(code, signal, false, unknown, error);
    if (early) {
      this.failures += 1;
      this.settle('up', false, error ?? `exited ${describeExit(code, signal)} after ${uptime} ms`);
    }
    this.enter('stopping');
    this.phase = 'cleanup';
    this.effect({ kind: 'watch_group', pgid: this.pgid! });
  }

  private recordExit(code: number | null, signal: string | null, requested: boolean, unknown = false, error?: string): void {
    this.lastExit = { code, signal, at: iso(this.now) };
    const detail: EventDetails['exited'] = { uptimeMs: this.now - this.startedAt, requested };
    if (unknown)
      detail.unknown = true; // an adopted process is not our child: how it ended is not known
    else if (this.policy.job && this.outcome !== null) detail.outcome = this.outcome.ok ? 'success' : 'failure';
    if (error !== undefined) detail.error = error;
    this.emit({ type: 'exited', pid: this.pid, code, signal, detail });
    this.pid = null;
  }

  private onGroupGone(): void {
    this.effect({ kind: 'clear_timer', timer: 'term' });
    this.effect({ kind: 'clear_timer', timer: 'kill' });
    this.phase = null;
    this.pgid = null;
    const outcome = this.outcome;
    this.outcome = null;
    if (this.desired === 'stopped') {
      this.becomeStopped(true);
    } else if (this.startAfterStop) {
      this.startAfterStop = false;
      this.settle('down', true, 'stopped');
      this.spawnForUser(this.bySchedule);
    } else if (outcome !== null) {
      this.endRun(outcome);
    } else {
      this.decideRestart(); // what an exited service left is gone: restart by policy
    }
  }

  private decideRestart(): void {
    if (this.keepPrevious()) return;
    const max = this.policy.maxConsecutiveFailures;
    if (max >= 0 && this.failures >= max) {
      this.enter('failed');
      this.emit({ type: 'failed', detail: { failures: this.failures } });
      this.settle(
        'up',
        false,
        max === 0 ? 'not restarted: MaxConsecutiveFailures is 0' : `gave up after ${this.failures} failures in a row`,
      );
      return;
    }
    const plan = planRestart(this.policy, this.starts, this.now, this.random);
    if (plan.kind === 'now') {
      this.spawn(false);
      return;
    }
    this.hold = { reason: plan.reason, until: iso(plan.until) };
    this.enter('backoff');
    if (plan.reason === 'runaway') {
      this.emit({ type: 'runaway', detail: { starts: this.starts.length, windowMs: this.policy.windowMs, until: this.hold.until } });
    }
    this.emit({ type: 'backoff', detail: { reason: plan.reason, delayMs: plan.until - this.now, until: this.hold.until } });
    this.effect({ kind: 'set_timer', timer: 'restart', at: plan.until });
  }

  // ---- RestartMode overlap: the run being replaced ------------------------------------------------

  /** A restart can overlap: a long-running service that runs (one that still starts has nothing to keep serving). */
  private canOverlap(): boolean {
    return this.state === 'running' && this.pid !== null && this.pgid !== null && !this.policy.job;
  }

  /** Start the new run beside the current one, which serves on until the new one is ready (becomeRunning drains it). */
  private beginOverlap(bySchedule: boolean): void {
    this.clearRunTimers();
    this.previous = { pid: this.pid!, pgid: this.pgid!, startedAt: this.startedAt, draining: false };
    this.pgid = null;
    this.spawnForUser(bySchedule);
  }

  /** The previous run gets its drain signal, and SIGKILL after KillTimeout (never, below 0). */
  private drainPrevious(): void {
    const prev = this.previous;
    if (prev === null || prev.draining) return;
    prev.draining = true;
    this.effect({ kind: 'signal_group', pgid: prev.pgid, signal: 'SIGTERM', reason: 'drain', previous: true });
    this.armDrainKill(prev);
  }

  private armDrainKill(prev: PreviousRun): void {
    const kt = this.policy.killTimeoutMs;
    if (kt === 0) this.effect({ kind: 'signal_group', pgid: prev.pgid, signal: 'SIGKILL', reason: 'escalation', previous: true });
    else if (kt > 0) this.effect({ kind: 'set_timer', timer: 'drain', at: this.now + kt });
  }

  /** The previous run's exit, group and SIGKILL timer, whatever the current run does; false: the input is not about it. */
  private forPrevious(input: Input, prev: PreviousRun): boolean {
    switch (input.kind) {
      case 'exited': {
        if (input.pid === undefined || input.pid !== prev.pid) return false;
        const detail: EventDetails['exited'] = { uptimeMs: this.now - prev.startedAt, requested: prev.draining, replaced: true };
        if (input.unknown === true) detail.unknown = true;
        this.emit({ type: 'exited', pid: prev.pid, code: input.code, signal: input.signal, detail });
        prev.pid = null;
        this.effect({ kind: 'watch_group', pgid: prev.pgid, previous: true });
        return true;
      }
      case 'group_alive':
        if (input.pgid !== prev.pgid) return false;
        if (!prev.draining) {
          // It ended by itself and left part of its group: that goes as a drained run's would.
          prev.draining = true;
          this.effect({ kind: 'signal_group', pgid: prev.pgid, signal: 'SIGTERM', reason: 'cleanup', previous: true });
          this.armDrainKill(prev);
        }
        return true;
      case 'group_gone':
        if (input.pgid !== prev.pgid) return false;
        this.effect({ kind: 'clear_timer', timer: 'drain' });
        this.previous = null;
        if (this.awaitingPrevious) {
          this.awaitingPrevious = false;
          this.onGroupGone();
        }
        if (this.overlapAfterDrain !== null) {
          const cron = this.overlapAfterDrain === 'cron';
          this.overlapAfterDrain = null;
          if (this.desired === 'running' && this.canOverlap()) this.beginOverlap(cron);
        }
        return true;
      case 'timer':
        if (input.timer !== 'drain') return false;
        this.effect({ kind: 'signal_group', pgid: prev.pgid, signal: 'SIGKILL', reason: 'escalation', previous: true });
        return true;
      default:
        return false;
    }
  }

  /**
   * The new run of an overlap restart failed before it was ready: the run it was to replace, still
   * serving, is the service's run again (recorded as overlap_abandoned) instead of a restart.
   */
  private keepPrevious(): boolean {
    const prev = this.previous;
    if (prev === null || prev.pid === null || prev.draining) return false;
    this.previous = null;
    this.pid = prev.pid;
    this.pgid = prev.pgid;
    this.startedAt = prev.startedAt;
    this.failures = 0;
    this.emit({ type: 'overlap_abandoned', pid: prev.pid });
    if (this.policy.maxRunTimeMs > 0) {
      this.effect({ kind: 'set_timer', timer: 'runtime', at: Math.max(this.now, prev.startedAt + this.policy.maxRunTimeMs) });
    }
    this.enter('running');
    return true;
  }

  /**
   * Nothing of the current run is left and it is wanted stopped: `stopped` (announced when
   * `announce`), answered, and the buddy exits on a shutdown; while a previous run drains, all of that
   * waits for its end.
   */
  private becomeStopped(announce: boolean): void {
    if (this.previous !== null) {
      this.drainPrevious();
      this.enter('stopping');
      this.phase = null;
      this.awaitingPrevious = true;
      return;
    }
    this.enter('stopped');
    if (announce) this.emit({ type: 'stopped' });
    this.settle('down', true, 'stopped');
    if (this.exiting) this.exit();
  }

  /** The timers of one run: MinUptime, and StartTimeout and MaxRunTime where the policy sets them. */
  private clearRunTimers(): void {
    this.effect({ kind: 'clear_timer', timer: 'uptime' });
    if (this.policy.readiness === 'signal' && this.policy.startTimeoutMs > 0) this.effect({ kind: 'clear_timer', timer: 'start' });
    if (this.policy.maxRunTimeMs > 0) this.effect({ kind: 'clear_timer', timer: 'runtime' });
  }

  private clearHold(): void {
    this.hold = null;
    this.effect({ kind: 'clear_timer', timer: 'restart' });
  }

  /** `answer`: a start still waiting is answered that it was stopped (a job done has answered it already). */
  private setDesired(desired: DesiredState, cause: DesiredCause, answer = true): void {
    if (this.desired === desired) return;
    this.desired = desired;
    this.emit({ type: 'desired', detail: this.byController ? { desired, cause, by: 'controller' } : { desired, cause } });
    if (desired === 'stopped' && answer) this.settle('up', false, 'stopped by a later command');
  }

  private exit(): void {
    this.exiting = true;
    this.effect({ kind: 'exit' });
  }

  private enter(state: MachineState): void {
    if (this.state !== state) {
      this.state = state;
      this.since = this.now;
    }
  }

  private emit(event: NewEvent): void {
    this.effect({ kind: 'emit', event });
  }

  private settle(want: 'up' | 'down', ok: boolean, message: string): void {
    this.effect({ kind: 'settle', want, ok, message });
  }

  private effect(e: Effect): void {
    this.out.push(e);
  }
}

export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `on signal ${signal}`;
  if (code !== null) return `with code ${code}`;
  return 'for an unknown reason';
}

const iso = (ms: number): string => new Date(ms).toISOString();
