// The buddy's runtime: feeds inputs to the machine one at a time and carries out its effects.
import { spawnScript, type ScriptChild, type SpawnScript } from './spawn-script.js';
import { closeSync, statSync } from 'node:fs';
import { upkeeperVersion } from '../schema/version.js';
import { writeWhole } from '../system/files.js';
import { REAL_CLOCK, type Clock, type Timer } from '../system/clock.js';
import { constants as os } from 'node:os';
import type { BuddySettings, CommandOutcome } from '../schema/buddy-protocol.js';
import { readEnvFiles } from '../schema/env-file.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { LOG, RUN_DIR, SCRIPT } from '../schema/run-dir.js';
import { isoTime, USAGE_RECORD, type ActionResult, type BuddyStatus, type LastOutput } from '../schema/records.js';
import type { EventDetails, NewEvent } from '../schema/event-details.js';
import { ActionRunner } from './action-runner.js';
import { Machine, type Effect, type Input, type TimerName } from './machine.js';
import { processAlive, processStartTime } from '../system/process-group.js';
import { startedAtMs } from '../system/user-processes.js';
import { TakeOver } from './take-over.js';
import type { EventQueue } from './event-queue.js';
import { OutputChannel, type SpawnContext } from './service-output.js';
import { ServiceProcesses, withoutMarker } from './service-processes.js';
import { policyOf } from './machine-policy.js';
import { overlapRefused } from '../schema/restart-mode.js';
import { UsageMeter } from './usage-meter.js';
import { Readiness } from './readiness.js';
import { ListenSockets } from './listen-sockets.js';
import { HealthChecks } from './health-checks.js';
import { Watchdog } from './watchdog.js';
import { Limits } from './limits.js';
import type { Schedule } from './schedule.js';

export interface Identity {
  instance: string;
  started: number;
}

type Settle = (outcome: CommandOutcome) => void;

/**
 * What the supervisor does to the world outside, injected so that a unit test can drive its policies
 * (MinUptime, KillTimeout's escalation, restarts after a backoff) on virtual time with a fake service.
 * The real ones by default.
 */
export interface SupervisorWorld {
  /** The machine's time and timers, the group checks, usage measurements, restarts of pipe programs. */
  clock: Clock;
  /** Starts scripts/start and the action scripts (stop, reload, custom). */
  spawn: SpawnScript;
  /** The service's processes: the signals of a stop, and whether anything of it is left. */
  processes: Pick<
    ServiceProcesses,
    'noEarlierRun' | 'starting' | 'adopted' | 'signal' | 'gone' | 'spare' | 'signalPrevious' | 'previousGone'
  >;
}

/** How often the group is checked while something of it lingers: doubling from 5 ms up to 100 ms. */
const WATCH_FIRST_MS = 5;
const WATCH_MAX_MS = 100;
/** Set by the controller for the service (buddy.json's environment): an environment file does not change them. */
const IDENTITY_VARIABLES: ReadonlySet<string> = new Set(['UPKEEPER_SERVICE', 'UPKEEPER_SERVICE_UUID', 'UPKEEPER_RUN_DIR']);

export class Supervisor {
  private readonly machine: Machine;
  private inputs: Input[] = [];
  private follow: Input[] = [];
  private draining = false;
  private spawnInFlight = false;
  private pidStartTime: number | null = null;
  /** RestartMode overlap: the run being replaced, and its start time (for a next buddy, and if it is kept). */
  private previousRun: { pid: number; startTime: number | null } | null = null;
  /** The service's processes: its group, and the ones that left it carrying its marker. */
  private readonly processes: SupervisorWorld['processes'];
  private readonly clock: Clock;
  private readonly spawn: SpawnScript;
  private readonly timers = new Map<TimerName, Timer>();
  /** The groups being watched until nothing of them is left, by pgid (the current run's, a replaced run's). */
  private readonly groupWatches = new Map<number, Timer>();
  /** Type forking: the next look at the PidFile after the start script's exit. */
  private readonly waiters: Record<'up' | 'down', Settle[]> = { up: [], down: [] };
  private stdout: OutputChannel;
  private stderr: OutputChannel;
  private readonly actions: ActionRunner;
  private readonly meter: UsageMeter;
  /** ReadyFd, Type notify, ReadyLine: the sources of the `ready` input. */
  private readonly readiness: Readiness;
  private readonly listen: ListenSockets;
  /** Processes it did not start: a lost buddy's, one found running, one a forking start left. */
  private readonly foreign: TakeOver;
  /** While the effects of an input run: when the machine took it. */
  private dispatchedAt: number | null = null;
  private readonly health: HealthChecks;
  private readonly watchdog: Watchdog;
  private readonly limits: Limits;
  private statusScheduled = false;
  /** Schedule (a oneshot job's runs) or CronRestart (a long-running service's restarts), once loaded; its text. */
  private schedule: Schedule | null = null;
  private scheduleText: string | null = null;
  /** The variables the environment files gave at the service's last start (its scripts get them too). */
  private fileVars: Record<string, string> = {};
  private statusFailing = false;
  /** Called for every new event (to tell the controller there is something to collect). */
  onEvent: () => void = () => undefined;
  /** Called once the machine has stopped the service for a shutdown. */
  onExit: () => void | Promise<void> = () => undefined;

  /** Absolute path of a file in the run directory (scripts are exec'd from the service's cwd). */
  private readonly at: (...parts: string[]) => string;

  constructor(
    runDir: string,
    private settings: BuddySettings,
    private readonly queue: EventQueue,
    private readonly identity: Identity,
    private readonly log: (message: string) => void,
    world: Partial<SupervisorWorld> = {},
  ) {
    this.at = (...parts) => [runDir, ...parts].join('/');
    this.clock = world.clock ?? REAL_CLOCK;
    this.spawn = world.spawn ?? spawnScript;
    this.processes = world.processes ?? new ServiceProcesses(settings.uuid, settings.uid);
    this.machine = new Machine(policyOf(settings), this.clock.now());
    this.readiness = new Readiness(
      this.at,
      settings,
      (how) => this.input({ kind: 'ready', how }),
      log,
      () => this.scheduleStatus(),
      this.clock,
    );
    this.listen = new ListenSockets(this.at, settings, log);
    this.foreign = new TakeOver({
      clock: this.clock,
      processes: this.processes,
      settings: () => this.settings,
      snapshot: () => this.machine.snapshot(),
      input: (i) => this.input(i),
      follow: (i) => this.follow.push(i),
      log,
      tookOver: (startTime) => (this.pidStartTime = startTime),
      foundForeign: () => this.watchdog.foreign(),
    });
    this.stdout = this.outputChannel('stdout');
    this.stderr = this.outputChannel('stderr');
    // Usage records are collected by the next poll: they do not call the controller.
    this.meter = new UsageMeter(
      settings.sampleInterval * 1000,
      (detail) => this.queue.push(USAGE_RECORD, { detail: { ...detail } }, detail.to),
      this.clock,
    );
    const watch = {
      clock: this.clock,
      context: () => this.spawnContext(),
      emit: (e: NewEvent) => this.emit(e),
      input: (i: Input) => this.input(i),
    };
    this.health = new HealthChecks(settings, watch);
    this.watchdog = new Watchdog(settings, watch);
    this.readiness.onWatchdog = () => this.watchdog.kick();
    this.limits = new Limits(settings, watch);
    this.meter.onMeasure = (rss, cpuMs, intervalMs) => this.limits.measured(rss, cpuMs, intervalMs);
    this.actions = new ActionRunner(
      this.at(RUN_DIR.log),
      () => this.spawnContext(),
      (event) => this.emit(event),
      this.log,
      this.clock,
      this.spawn,
    );
  }

  /**
   * Start; `previous` is the status a lost buddy left (its pipe programs are adopted); `firstHere`:
   * the run directory holds no status (no buddy ran the service here before).
   */
  open(previous: BuddyStatus | null, firstHere = false): void {
    // buddy_started first: the first event of every buddy (an output_failed of the opening follows it).
    this.emit({ type: 'buddy_started', pid: process.pid, detail: { version: upkeeperVersion() } });
    if (firstHere) this.processes.noEarlierRun();
    this.stdout.open(previous?.pipes?.stdout ?? null);
    this.stderr.open(previous?.pipes?.stderr ?? null);
    this.readiness.open();
    this.listen.open();
    this.configureSchedule();
    this.scheduleStatus();
  }

  /** Where one of the service's output streams goes, from the current settings. */
  private outputChannel(stream: 'stdout' | 'stderr'): OutputChannel {
    const s = this.settings;
    const logFile = (name: string): string => this.at(RUN_DIR.log, name);
    const [fifo, file, redirect, piped, script] =
      stream === 'stdout'
        ? [LOG.stdoutPipe, LOG.stdout, s.redirectStdout, s.pipeStdout, SCRIPT.pipeStdout]
        : [LOG.stderrPipe, LOG.stderr, s.redirectStderr, s.pipeStderr, SCRIPT.pipeStderr];
    const channel = new OutputChannel(
      {
        fifo: logFile(fifo),
        file: redirect ?? logFile(file),
        redirected: redirect !== null,
        maxBytes: s.logMaxSize,
        keep: s.logKeep,
        timestamps: s.logTimestamps,
        pipeScript: piped ? this.at(RUN_DIR.scripts, script) : null,
        pipeErrors: logFile(LOG.buddy),
      },
      () => this.spawnContext(),
      this.log,
      stream,
      (event) => this.emit(event),
      this.clock,
    );
    channel.watch = (chunk) => {
      this.readiness.output(stream, chunk);
      this.health.output(stream, chunk);
    };
    return channel;
  }

  /** Close everything; each part on its own, so that one failing leaves none of the others open. */
  close(): void {
    for (const t of this.timers.values()) t.clear();
    this.scheduleText = null;
    this.schedule?.close();
    for (const t of this.groupWatches.values()) t.clear();
    this.groupWatches.clear();
    this.foreign.close();
    for (const part of [this.health, this.limits, this.meter, this.stdout, this.stderr, this.actions, this.readiness, this.listen]) {
      try {
        part.close();
      } catch (err) {
        this.log(`closing: ${(err as Error).message}`);
      }
    }
  }

  // ---- commands ----------------------------------------------------------------------------------

  /**
   * `resume` (a start): the controller's reconciliation; a scheduled job's schedule goes on, without a run now.
   * `overlap` (a restart): `upk restart --overlap`, refused for a service whose runs cannot overlap.
   */
  command(kind: 'start' | 'stop' | 'restart' | 'shutdown', byController = false, resume = false, overlap = false): Promise<CommandOutcome> {
    const want = kind === 'start' || kind === 'restart' ? 'up' : 'down';
    const refused = kind === 'restart' && overlap ? overlapRefused(this.settings) : null;
    if (refused !== null) return Promise.resolve({ ok: false, message: `not restarted: ${refused}`, status: this.status() });
    return new Promise((resolve) => {
      this.waiters[want].push(resolve);
      const input: Input =
        kind === 'start' && resume
          ? { kind, byController, resume }
          : kind === 'restart' && overlap
            ? { kind, byController, overlap }
            : { kind, byController };
      this.input(input);
    });
  }

  reload(): Promise<ActionResult> {
    return this.actions.run('reload', this.at(RUN_DIR.scripts, SCRIPT.reload), [String(this.requirePid('reload'))]);
  }

  action(nameOrNumber: string): Promise<ActionResult> {
    const list = this.settings.customActions;
    const name = /^\d{1,2}$/.test(nameOrNumber) ? list[Number(nameOrNumber)] : list.find((n) => n === nameOrNumber);
    if (name === undefined) {
      const known = list.length > 0 ? list.map((n, i) => `${String(i).padStart(2, '0')} ${n}`).join(', ') : 'none';
      throw new UpkError(
        ErrorCode.NO_SUCH_ACTION,
        `${this.settings.service} has no action ${JSON.stringify(nameOrNumber)} (actions: ${known})`,
      );
    }
    const pid = this.machine.snapshot().pid;
    return this.actions.run(name, this.at(RUN_DIR.scripts, name), pid === null ? [] : [String(pid)]);
  }

  signal(name: string, group: boolean): { pid: number } {
    const signal = (name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`) as NodeJS.Signals;
    const number = /^\d+$/.test(name) ? Number(name) : undefined;
    const known =
      number !== undefined ? Object.entries(os.signals).find(([, n]) => n === number)?.[0] : signal in os.signals ? signal : undefined;
    if (!known) throw new UpkError(ErrorCode.BAD_REQUEST, `unknown signal ${JSON.stringify(name)}`);
    const pid = this.requirePid('signal');
    try {
      process.kill(group ? -pid : pid, known);
    } catch (err) {
      throw new UpkError(ErrorCode.ACTION_FAILED, `cannot send ${known} to ${pid}: ${(err as Error).message}`);
    }
    this.emit({ type: 'signal_sent', pid, signal: known, detail: { group, reason: 'user' } });
    return { pid };
  }

  /** True while an action script (stop, reload, custom) is still running. */
  get actionsRunning(): boolean {
    return this.actions.running > 0;
  }

  /**
   * Take over a service that a lost buddy left running. It is not our child, so its end is noticed
   * by looking at /proc every ADOPTED_CHECK_MS (its exit status cannot be known).
   */
  adopt(previous: BuddyStatus): void {
    const pid = previous.pid!;
    const startTime = previous.pidStartTime!;
    const startedAt = previous.started ? Date.parse(previous.started) : this.clock.now();
    // Not yet ready: it stays starting, unless Type notify alone would tell it. A READY=1 sent while no
    // relay listened was refused and is lost for good (a ReadyFd newline waits in its FIFO, a ReadyLine
    // in the output FIFO, a probe runs again): such a service is taken as ready rather than killed at
    // StartTimeout while it serves.
    const s = this.settings;
    const notifyAlone = s.serviceType === 'notify' && s.readyFd === null && s.readyLine === null && s.readyCheck == null;
    const starting = previous.state === 'starting' && !notifyAlone;
    this.foreign.supervise(pid, startTime);
    // Its overlap restart was under way: the run it was replacing, if it still runs, is drained once this one is ready.
    const replaced = previous.previous;
    let drain: { pid: number; startedAt: number } | undefined;
    if (replaced?.pid != null && replaced.pidStartTime !== null && processAlive(replaced.pid, replaced.pidStartTime)) {
      this.previousRun = { pid: replaced.pid, startTime: replaced.pidStartTime };
      this.foreign.superviseReplaced(replaced.pid, replaced.pidStartTime);
      const began = Date.parse(replaced.started);
      drain = { pid: replaced.pid, startedAt: Number.isFinite(began) ? began : this.clock.now() };
    }
    this.input({
      kind: 'adopted',
      pid,
      startedAt,
      restarts: previous.restarts,
      desired: previous.desired,
      starting,
      ...(drain ? { previous: drain } : {}),
    });
    // Not yet ready: its readiness is listened for from here (a ReadyLine match, what NOTIFY_SOCKET says).
    if (this.machine.snapshot().state === 'starting') this.readiness.started();
  }

  /**
   * `upk attach`: take over the service's process that runs without upkeeper (PidFile, ProcessMatch).
   * A start whose look finds it; when nothing is found, nothing changes.
   */
  attach(byController = false): Promise<CommandOutcome> {
    const snap = this.machine.snapshot();
    const answer = (ok: boolean, message: string): Promise<CommandOutcome> => Promise.resolve({ ok, message, status: this.status() });
    if (snap.state === 'running' || snap.state === 'starting') return answer(true, 'already supervised');
    if (snap.state === 'stopping') return answer(false, 'it is stopping: attach once it is stopped');
    return new Promise((resolve) => {
      this.waiters.up.push(resolve);
      const nothing = this.foreign.attach(byController);
      if (nothing === null) return; // (answered once it is running)
      this.waiters.up = this.waiters.up.filter((w) => w !== resolve);
      resolve({ ok: false, message: nothing, status: this.status() });
    });
  }

  /** Settings as they are now (they change on reconfigure). */
  get currentSettings(): BuddySettings {
    return this.settings;
  }

  /** A poll: a resource measurement that is due is taken now, and goes out with this answer. */
  measureIfDue(): void {
    this.meter.measureIfDue();
  }

  emitExiting(reason: EventDetails['buddy_exiting']['reason']): void {
    this.emit({ type: 'buddy_exiting', pid: process.pid, detail: { reason } });
  }

  /**
   * New settings: the restart policy, ring size and environment apply at once (the environment from
   * the next start); a changed output destination is switched over now. The service keeps writing
   * into its FIFOs meanwhile, so no output is lost.
   */
  reconfigure(settings: BuddySettings): void {
    const before = this.settings;
    this.settings = settings;
    this.input({ kind: 'policy', policy: policyOf(settings) });
    this.readiness.reconfigure(settings);
    this.listen.reconfigure(settings);
    this.health.configure(settings);
    this.watchdog.configure(settings);
    this.limits.configure(settings);
    this.configureSchedule();
    if (before.sampleInterval !== settings.sampleInterval) this.meter.setInterval(settings.sampleInterval * 1000);
    this.queue.resize(settings.ringbufferSize, settings.journalMaxEvents);
    const changed = (keys: (keyof BuddySettings)[]): boolean => keys.some((k) => before[k] !== settings[k]);
    if (changed(['redirectStdout', 'pipeStdout', 'logMaxSize', 'logKeep', 'logTimestamps'])) {
      const fifo = this.stdout.handOver();
      this.stdout.close();
      this.stdout = this.outputChannel('stdout');
      this.stdout.open(null, fifo);
    }
    if (changed(['redirectStderr', 'pipeStderr', 'logMaxSize', 'logKeep', 'logTimestamps'])) {
      const fifo = this.stderr.handOver();
      this.stderr.close();
      this.stderr = this.outputChannel('stderr');
      this.stderr.open(null, fifo);
    }
    this.emit({ type: 'reconfigured' });
  }

  /**
   * A controller stored every event up to `seq`. The queue may then record events_dropped (the
   * controller learns it), and the status file's `pending` changes; a quiet poll that acknowledges
   * nothing new writes nothing.
   */
  ack(seq: number): void {
    const lastSeq = this.queue.lastSeq;
    const pending = this.queue.pending;
    this.queue.ack(seq, this.clock.now());
    if (this.queue.lastSeq !== lastSeq) this.onEvent();
    if (this.queue.lastSeq !== lastSeq || this.queue.pending !== pending) this.scheduleStatus();
  }

  status(): BuddyStatus {
    const s = this.machine.snapshot();
    return {
      service: this.settings.service,
      uuid: this.settings.uuid,
      state: s.state,
      desired: s.desired,
      pid: s.pid,
      pidStartTime: s.pid === null ? null : this.pidStartTime,
      started: s.started === null ? null : isoTime(s.started),
      since: isoTime(s.since),
      restarts: s.restarts,
      failures: s.failures,
      lastExit: s.lastExit,
      hold: s.hold,
      buddy: this.identity.instance,
      buddyPid: process.pid,
      buddyStarted: isoTime(this.identity.started),
      pipes: { stdout: this.stdout.pipe, stderr: this.stderr.pipe },
      seq: this.queue.lastSeq,
      pending: this.queue.pending,
      usage: this.meter.latest,
      ...(this.readiness.notify === null ? {} : { notify: this.readiness.notify }),
      ...(this.listen.status === null ? {} : { listen: this.listen.status }),
      ...(s.previous === null
        ? {}
        : {
            previous: {
              pid: s.previous.pid,
              pidStartTime: s.previous.pid === null ? null : (this.previousRun?.startTime ?? null),
              started: isoTime(s.previous.startedAt),
              draining: s.previous.draining,
            },
          }),
      health: this.health.status,
      ...(this.scheduleText === null ? {} : { nextRun: this.schedule?.next == null ? null : isoTime(this.schedule.next) }),
    };
  }

  /**
   * Schedule for a oneshot job, CronRestart for a long-running service: its module (and croner) loaded
   * at first need, so that no other buddy pays for it. A changed text begins anew from now.
   */
  private configureSchedule(): void {
    const s = this.settings;
    const text = s.serviceType === 'oneshot' ? s.schedule : s.cronRestart;
    if (text === this.scheduleText) return;
    this.scheduleText = text;
    this.schedule?.close();
    this.schedule = null;
    if (text === null) return;
    import('./schedule.js').then(
      ({ Schedule }) => {
        if (this.scheduleText !== text) return; // changed (or closed) meanwhile
        try {
          this.schedule = new Schedule(text, this.clock, (at) => this.input({ kind: 'due', at }));
        } catch (err) {
          this.log(`${(err as Error).message}: not kept`);
          return;
        }
        this.schedule.set(this.machine.snapshot().desired === 'running');
        this.scheduleStatus();
      },
      (err: Error) => this.log(`cannot load the schedule's module: ${err.message}`),
    );
  }

  // ---- the input loop ----------------------------------------------------------------------------

  private input(input: Input): void {
    this.inputs.push(input);
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.inputs.length > 0 && !this.spawnInFlight) {
        const now = this.clock.now();
        const effects = this.machine.dispatch(this.inputs.shift()!, now);
        this.follow = [];
        this.followPrevious();
        // The events of one input happened when the machine took it (a slow spawn among the effects does not move them).
        this.dispatchedAt = now;
        try {
          for (const effect of effects) this.run(effect);
        } finally {
          this.dispatchedAt = null;
        }
        if (this.follow.length > 0) this.inputs.unshift(...this.follow);
      }
    } finally {
      this.draining = false;
    }
    const snapshot = this.machine.snapshot();
    this.health.follow(snapshot);
    this.watchdog.follow(snapshot);
    this.limits.follow(snapshot);
    // Stopped or given up: Listen's sockets are closed, so that connections are refused, not left waiting.
    if (snapshot.state === 'stopped' || snapshot.state === 'failed') this.listen.idle();
    // A schedule is kept while the service is wanted running: `upk stop` pauses it, `upk start` resumes it.
    this.schedule?.set(snapshot.desired === 'running');
    this.scheduleStatus();
  }

  /**
   * RestartMode overlap: while a replaced run lives, the current run's signals and checks leave its
   * group out, and its start time is kept (the status tells it; it is the current run's again if the
   * new run fails before it is ready).
   */
  private followPrevious(): void {
    const snap = this.machine.snapshot();
    this.processes.spare(snap.previous?.pgid ?? null);
    const prev = this.previousRun;
    if (snap.previous !== null && snap.previous.pid !== null && prev?.pid !== snap.previous.pid) {
      this.previousRun = { pid: snap.previous.pid, startTime: this.pidStartTime };
    } else if (snap.previous === null && prev !== null) {
      if (snap.pid === prev.pid) this.pidStartTime = prev.startTime; // kept: the current run again
      this.previousRun = null;
    }
  }

  private run(effect: Effect): void {
    switch (effect.kind) {
      case 'spawn':
        return this.spawnService();
      case 'run_stop_script':
        // The default stop (`kill $1`): the signal sent here, without a script to start at every stop.
        if (this.settings.stopSignal !== null) return this.signalStop(effect.pid, this.settings.stopSignal);
        void this.actions.run('stop', this.at(RUN_DIR.scripts, SCRIPT.stop), [String(effect.pid)]);
        return;
      case 'signal_group': {
        const { group, escaped } =
          effect.previous === true
            ? this.processes.signalPrevious(effect.pgid, effect.signal)
            : this.processes.signal(effect.pgid, effect.signal);
        if (group || escaped.length > 0) {
          const detail = { group, reason: effect.reason, ...(escaped.length > 0 ? { escaped } : {}) };
          this.emit({ type: 'signal_sent', pid: effect.pgid, signal: effect.signal, detail });
        }
        return;
      }
      case 'watch_group':
        return this.watchGroup(effect.pgid, effect.previous === true);
      case 'set_timer': {
        this.clearTimer(effect.timer);
        const timer = this.clock.setTimeout(
          () => {
            this.timers.delete(effect.timer);
            this.input({ kind: 'timer', timer: effect.timer });
          },
          Math.max(0, effect.at - this.clock.now()),
        );
        this.timers.set(effect.timer, timer);
        return;
      }
      case 'clear_timer':
        return this.clearTimer(effect.timer);
      case 'emit':
        this.emit(effect.event);
        return;
      case 'settle': {
        const waiting = this.waiters[effect.want];
        this.waiters[effect.want] = [];
        const outcome = { ok: effect.ok, message: effect.message, status: this.status() };
        for (const settle of waiting) settle(outcome);
        return;
      }
      case 'exit':
        void this.onExit();
        return;
    }
  }

  /** What the default stop script does: `signal` to the service's process (recorded as `signal_sent`, reason `stop`). */
  private signalStop(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal);
    } catch {
      return; // gone already: its exit is on its way
    }
    this.emit({ type: 'signal_sent', pid, signal, detail: { group: false, reason: 'stop' } });
  }

  private spawnService(): void {
    // PidFile, ProcessMatch: a copy that already runs is taken over, never started twice.
    if (this.foreign.foundRunning()) return;
    // Listen: the sockets' holder runs first; Type notify: the relay binds NOTIFY_SOCKET (the machine's
    // inputs wait meanwhile; once ready, this is called again).
    for (const prepare of [
      (then: (e: string | null) => void) => this.listen.prepare(then),
      (then: (e: string | null) => void) => this.readiness.beforeSpawn(then),
    ]) {
      const prepared = prepare((error) => this.spawnPrepared(error));
      if (prepared === 'wait') {
        this.spawnInFlight = true;
        return;
      }
      if (prepared !== 'now') {
        this.follow.push({ kind: 'spawn_failed', error: prepared.error });
        return;
      }
    }
    // EnvironmentFile: read at every start, so a restart applies a change; an error fails this start.
    const files = readEnvFiles(this.settings.environmentFiles);
    if ('error' in files) {
      this.follow.push({ kind: 'spawn_failed', error: files.error });
      return;
    }
    this.fileVars = files.vars;
    const ctx = this.spawnContext();
    let child: ScriptChild;
    let out = -1;
    let err = -1;
    if (!isDirectory(ctx.cwd)) {
      this.follow.push({ kind: 'spawn_failed', error: `the working directory ${ctx.cwd} does not exist` });
      return;
    }
    try {
      out = this.stdout.serviceFd();
      err = this.stderr.serviceFd();
      const env = this.processes.starting(this.watchdog.env(this.readiness.serviceEnv(ctx.env)), this.settings.uid); // with the marker
      const stdio: ('ignore' | number)[] = ['ignore', out, err, ...this.readiness.serviceStdio()];
      // With Listen, the sockets are taken on the way (3, 4…, where stdio has nothing): the fetcher switches the user itself.
      const { uid, gid, ...asBuddy } = ctx;
      const script = this.at(RUN_DIR.scripts, SCRIPT.start);
      const run = this.listen.wrap(script, env, { uid, gid });
      // The default start script over a literal ExecStart: its program exec'd directly, one exec fewer.
      // Without PATH, /bin/sh searches a default list of its own and Node /usr/bin:/bin only: the script then.
      const command = this.settings.startCommand;
      const direct = command !== null && (env.PATH !== undefined || command[0]!.includes('/')) ? command : null;
      if (run !== null) child = this.spawn(run.program, run.args, stdio, { ...asBuddy, env: run.env });
      else if (direct !== null) child = this.spawn(direct[0]!, direct.slice(1), stdio, { ...ctx, env }, true);
      else child = this.spawn(script, [], stdio, { ...ctx, env });
    } catch (e) {
      this.follow.push({ kind: 'spawn_failed', error: (e as Error).message });
      return;
    } finally {
      if (out >= 0) closeSync(out);
      if (err >= 0) closeSync(err);
      this.readiness.afterSpawn();
    }
    const pid = child.pid;
    if (pid === undefined) {
      this.spawnInFlight = true;
      child.once('error', (e) => {
        this.spawnInFlight = false;
        this.inputs.unshift({ kind: 'spawn_failed', error: e.message });
        this.drain();
      });
      return;
    }
    child.on('error', (e) => this.log(`service ${pid}: ${e.message}`));
    this.pidStartTime = processStartTime(pid);
    const forking =
      this.settings.serviceType === 'forking' && this.pidStartTime !== null
        ? { start: this.pidStartTime, at: startedAtMs(this.pidStartTime) }
        : null;
    child.once('exit', (code, signal) => this.foreign.startScriptExited(pid, code, signal, forking));
    this.follow.push({ kind: 'spawned', pid });
  }

  /** The notify relay is bound (or failed): the spawn that waited for it goes on. */
  private spawnPrepared(error: string | null): void {
    this.spawnInFlight = false;
    this.follow = [];
    if (error === null) this.spawnService();
    else this.follow.push({ kind: 'spawn_failed', error });
    this.inputs.unshift(...this.follow);
    this.follow = [];
    this.drain();
  }

  /**
   * Check the service's processes (group and marked; a replaced run's group alone, `previous`), then
   * watch them until none is left. The answers name the group.
   */
  private watchGroup(pgid: number, previous: boolean): void {
    this.groupWatches.get(pgid)?.clear();
    this.groupWatches.delete(pgid);
    const gone = (): boolean => (previous ? this.processes.previousGone(pgid) : this.processes.gone(pgid));
    if (gone()) {
      this.follow.push({ kind: 'group_gone', pgid });
      return;
    }
    this.follow.push({ kind: 'group_alive', pgid });
    let delay = WATCH_FIRST_MS;
    const check = (): void => {
      if (gone()) {
        this.groupWatches.delete(pgid);
        this.input({ kind: 'group_gone', pgid });
        return;
      }
      delay = Math.min(delay * 2, WATCH_MAX_MS);
      this.groupWatches.set(pgid, this.clock.setTimeout(check, delay));
    };
    this.groupWatches.set(pgid, this.clock.setTimeout(check, delay));
  }

  private clearTimer(name: TimerName): void {
    this.timers.get(name)?.clear();
    this.timers.delete(name);
  }

  private emit(event: NewEvent): void {
    if (event.type === 'exited' && event.detail.replaced !== true) {
      this.meter.untrack();
      this.readiness.stopped();
      // An exit nobody asked for keeps the service's last words with it (upk why tells them).
      if (event.detail.requested === false) {
        const lastOutput = this.lastOutput();
        if (lastOutput.stdout || lastOutput.stderr) event = { ...event, detail: { ...event.detail, lastOutput } };
      }
    }
    const { type, ...fields } = event;
    this.queue.push(type, fields, this.dispatchedAt ?? this.clock.now());
    if (type === 'spawned' || type === 'adopted') {
      if (type === 'spawned') this.resetOutputTails();
      if (type === 'spawned') this.readiness.started();
      if (typeof fields.pid === 'number') this.meter.track(fields.pid, type === 'spawned');
    }
    // The run an overlap restart was to replace is the service's again: measured again (the failed new run's exit stopped it).
    if (type === 'overlap_abandoned' && typeof fields.pid === 'number') this.meter.track(fields.pid, false);
    this.scheduleStatus();
    this.onEvent();
  }

  private lastOutput(): LastOutput {
    return { stdout: this.stdout.lastLines(), stderr: this.stderr.lastLines() };
  }

  private resetOutputTails(): void {
    this.stdout.resetTail();
    this.stderr.resetTail();
  }

  private requirePid(what: string): number {
    const pid = this.machine.snapshot().pid;
    if (pid === null) throw new UpkError(ErrorCode.NOT_RUNNING, `${this.settings.service} is not running: cannot ${what}`);
    return pid;
  }

  /**
   * How scripts and pipe programs run: the service's environment, with the variables its environment
   * files gave at its last start over it (but never over the service's identity), without the marker
   * (the start script adds it).
   */
  private spawnContext(): SpawnContext {
    const s = this.settings;
    const env = { ...s.environment };
    for (const [k, v] of Object.entries(this.fileVars)) if (!IDENTITY_VARIABLES.has(k)) env[k] = v;
    const ctx: SpawnContext = { env: withoutMarker(env), cwd: s.workingDirectory };
    if (s.uid !== null) ctx.uid = s.uid;
    if (s.gid !== null) ctx.gid = s.gid;
    return ctx;
  }

  /** Write the status file whole, once per turn of the event loop at most. */
  private scheduleStatus(): void {
    if (this.statusScheduled) return;
    this.statusScheduled = true;
    setImmediate(() => {
      this.statusScheduled = false;
      try {
        writeWhole(this.at(RUN_DIR.status), JSON.stringify(this.status()) + '\n', 0o600);
        if (this.statusFailing) this.log(`writing ${RUN_DIR.status} again`);
        this.statusFailing = false;
      } catch (err) {
        if (!this.statusFailing)
          this.log(`cannot write ${RUN_DIR.status} (until it can be, a next buddy cannot adopt what runs now): ${(err as Error).message}`);
        this.statusFailing = true;
      }
    });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
