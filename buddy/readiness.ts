// Readiness the service signals itself (docs/buddy.md, "Readiness"): a newline on ReadyFd, READY=1 on
// NOTIFY_SOCKET (Type notify, through the relay of notify-relay.ts), or a line of its output matching
// ReadyLine. Each source calls `ready(how)`, which the supervisor gives the machine as its `ready`
// input (the machine ignores it unless the service is starting). All of it is the buddy's alone: it
// goes on while no controller runs.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { ReadyHow } from '../schema/event-details.js';
import type { NotifyState } from '../schema/records.js';
import { isoTime } from '../schema/records.js';
import { RUN_DIR } from '../schema/run-dir.js';
import { REAL_CLOCK, type Clock, type Timer } from '../system/clock.js';
import { ensureFifo } from '../system/files.js';
import { startRelay, type NotifyMessage } from './notify-relay.js';
import { LineMatcher } from './line-matcher.js';

/** A relay that ended is started again after this long (a spawn starts it at once). */
const RELAY_RESTART_MS = 1000;
/** A relay that has not bound its socket by then is taken as failed (the spawn waiting for it fails). */
const RELAY_BIND_MS = 5000;

type Prepared = (error: string | null) => void;

export class Readiness {
  /** ReadyFd: the buddy's reading end of the FIFO (opened read-write: it never sees end-of-file). */
  private fifo: Socket | null = null;
  /** ReadyLine, one per stream (their partial lines are their own); matched only while armed. */
  private lines: { stdout: LineMatcher; stderr: LineMatcher } | null = null;
  private armed = false;
  private relay: ChildProcess | null = null;
  private bound = false;
  private waiting: Prepared[] = [];
  private relayTimer: Timer | null = null;
  /** When the relay last started (a relay that dies young waits before the next). */
  private relayStarted = 0;
  private closed = false;
  /** Descriptors opened for one spawn, closed once it is done. */
  private opened: number[] = [];
  /** What a Type notify service said in its current run (the status file shows it). */
  notify: NotifyState | null = null;
  /** Called for every WATCHDOG=1 (for a watchdog, if one is configured). */
  onWatchdog: () => void = () => undefined;

  constructor(
    private readonly at: (...parts: string[]) => string,
    private settings: BuddySettings,
    private readonly ready: (how: ReadyHow) => void,
    private readonly log: (message: string) => void,
    /** Something the status file shows changed (STATUS=, MAINPID=…). */
    private readonly changed: () => void,
    private readonly clock: Pick<Clock, 'setTimeout' | 'now'> = REAL_CLOCK,
  ) {}

  open(): void {
    this.apply(null);
  }

  reconfigure(settings: BuddySettings): void {
    const before = this.settings;
    this.settings = settings;
    this.apply(before);
  }

  private apply(before: BuddySettings | null): void {
    const s = this.settings;
    if (s.readyFd !== null && this.fifo === null) this.openFifo();
    if (s.readyFd === null && this.fifo !== null) {
      this.fifo.destroy();
      this.fifo = null;
    }
    if (s.readyLine !== (before?.readyLine ?? null)) this.lines = s.readyLine === null ? null : this.readyLines(s.readyLine);
    if (s.serviceType === 'notify' && this.relay === null) this.startRelay();
    if (s.serviceType !== 'notify' && this.relay !== null) this.stopRelay();
  }

  private readyLines(source: string): { stdout: LineMatcher; stderr: LineMatcher } | null {
    try {
      const pattern = new RegExp(source);
      return { stdout: new LineMatcher(pattern), stderr: new LineMatcher(pattern) };
    } catch (err) {
      this.log(`ReadyLine ${JSON.stringify(source)} is not a regular expression (ignored): ${(err as Error).message}`);
      return null;
    }
  }

  private openFifo(): void {
    const path = this.at(RUN_DIR.readyPipe);
    try {
      ensureFifo(path);
      this.fifo = new Socket({ fd: openSync(path, constants.O_RDWR), readable: true, writable: false });
    } catch (err) {
      this.log(`cannot open ${path} (ReadyFd will fail the start): ${(err as Error).message}`);
      return;
    }
    this.fifo.on('error', (err) => this.log(`reading ${path}: ${err.message}`));
    this.fifo.on('data', (chunk: Buffer) => {
      if (chunk.includes(10)) this.ready('ReadyFd');
    });
  }

  // ---- a spawn -----------------------------------------------------------------------------------

  /**
   * Before a spawn: 'now'; an error that fails it; or 'wait' while the notify relay binds its socket
   * (a service must not send READY=1 to a socket not there yet): `then` is called once it is, or failed.
   */
  beforeSpawn(then: Prepared): 'now' | 'wait' | { error: string } {
    if (this.settings.readyFd !== null && this.fifo === null) this.openFifo();
    if (this.settings.readyFd !== null && this.fifo === null) return { error: `cannot open ${this.at(RUN_DIR.readyPipe)} for ReadyFd` };
    if (this.settings.serviceType !== 'notify' || this.bound) return 'now';
    if (this.relay === null) {
      const error = this.startRelay();
      if (error !== null) return { error };
    }
    this.waiting.push(then);
    return 'wait';
  }

  /** The service's environment: NOTIFY_SOCKET for Type notify, and never one it inherited otherwise. */
  serviceEnv(env: Record<string, string>): Record<string, string> {
    const { NOTIFY_SOCKET: _inherited, ...rest } = env;
    return this.settings.serviceType === 'notify' ? { ...rest, NOTIFY_SOCKET: this.at(RUN_DIR.notifySocket) } : rest;
  }

  /** The service's descriptors after stdin, stdout and stderr: ReadyFd's FIFO at its number. */
  serviceStdio(): ('ignore' | number)[] {
    const n = this.settings.readyFd;
    if (n === null) return [];
    this.drainFifo();
    // Read-write, as the output FIFOs: the service never gets SIGPIPE, even while no buddy reads.
    const fd = openSync(this.at(RUN_DIR.readyPipe), constants.O_RDWR);
    this.opened.push(fd);
    return [...Array<'ignore'>(n - 3).fill('ignore'), fd];
  }

  /** A newline left in the FIFO by an earlier run (written while no buddy read) must not make this one ready. */
  private drainFifo(): void {
    let fd = -1;
    try {
      fd = openSync(this.at(RUN_DIR.readyPipe), constants.O_RDONLY | constants.O_NONBLOCK);
      const buf = Buffer.allocUnsafe(4096);
      while (readSync(fd, buf, 0, buf.length, null) > 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') this.log(`draining ${RUN_DIR.readyPipe}: ${(err as Error).message}`);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  /** The spawn is done (or failed): close what it was given. */
  afterSpawn(): void {
    for (const fd of this.opened.splice(0)) closeSync(fd);
  }

  /** A run began: ReadyLine matches from here, and what the last run said through NOTIFY_SOCKET is gone. */
  started(): void {
    this.armed = this.lines !== null;
    this.lines?.stdout.reset();
    this.lines?.stderr.reset();
    this.notify = this.settings.serviceType === 'notify' ? {} : null;
  }

  /** The run ended. */
  stopped(): void {
    this.armed = false;
  }

  /** Output of the service, as it is carried to its file. */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (!this.armed || this.lines === null) return;
    if (this.lines[stream].feed(chunk).length === 0) return;
    this.armed = false; // matched once per run: the rest of the output costs nothing
    this.ready('ReadyLine');
  }

  close(): void {
    this.closed = true;
    this.relayTimer?.clear();
    this.fifo?.destroy();
    this.fifo = null;
    this.afterSpawn();
    this.stopRelay();
  }

  // ---- the notify relay --------------------------------------------------------------------------

  private startRelay(): string | null {
    this.relayTimer?.clear();
    this.relayStarted = this.clock.now();
    this.bound = false;
    const socketPath = this.at(RUN_DIR.notifySocket);
    let relay: ChildProcess;
    try {
      relay = startRelay(socketPath, {
        bound: () => {
          if (this.relay !== relay) return;
          this.bound = true;
          this.relayTimer?.clear();
          this.settle(null);
        },
        message: (message) => this.notified(message),
        gone: (error) => this.relayGone(relay, error),
      });
    } catch (err) {
      const error = (err as Error).message;
      this.log(error);
      return error;
    }
    this.relay = relay;
    this.relayTimer = this.clock.setTimeout(() => {
      if (this.relay === relay && !this.bound) relay.kill('SIGKILL');
    }, RELAY_BIND_MS);
    return null;
  }

  private stopRelay(): void {
    const relay = this.relay;
    this.relay = null;
    this.bound = false;
    if (relay === null) return;
    relay.stdin?.end(); // it exits at end-of-file
    relay.kill('SIGTERM');
    rmSync(this.at(RUN_DIR.notifySocket), { force: true });
    this.settle('Type notify was switched off');
  }

  private relayGone(relay: ChildProcess, error: string): void {
    if (this.relay !== relay) return;
    this.relay = null;
    this.bound = false;
    if (this.closed) return;
    this.log(error);
    this.settle(error);
    // At once after a relay that ran a while (a READY=1 sent meanwhile would be refused to its
    // sender); after RELAY_RESTART_MS when it dies young, so that a relay that cannot run never loops.
    const young = this.clock.now() - this.relayStarted < RELAY_RESTART_MS;
    this.relayTimer = this.clock.setTimeout(
      () => {
        if (!this.closed && this.relay === null && this.settings.serviceType === 'notify') this.startRelay();
      },
      young ? RELAY_RESTART_MS : 0,
    );
  }

  private settle(error: string | null): void {
    for (const then of this.waiting.splice(0)) then(error);
  }

  private notified(m: NotifyMessage): void {
    const state = (this.notify ??= {});
    if (m.status !== undefined) state.status = m.status.slice(0, 1000);
    if (m.mainPid !== undefined) state.mainPid = m.mainPid;
    if (m.stopping) state.stopping = true;
    if (m.watchdog) {
      state.watchdog = isoTime(this.clock.now());
      this.onWatchdog();
    }
    if (m.ready) this.ready('notify');
    this.changed();
  }
}
