// Processes the buddy did not start, supervised all the same: one a lost buddy left (adoption), one
// found running before a start (PidFile, ProcessMatch), or the one a Type forking start script left.
// Their end is looked for in /proc, proven by their start time; they are never our children.
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { Clock, Timer } from '../system/clock.js';
import { processAlive, statFields } from '../system/process-group.js';
import { findRunning, forkedProcess, type Lookup } from './find-running.js';
import type { DesiredState } from '../schema/records.js';
import type { Input, Snapshot } from './machine.js';
import { START_TIMEOUT_DEFAULT } from './machine-policy.js';
import type { ServiceProcesses } from './service-processes.js';

/** How often a process taken over is looked for in /proc. */
const ADOPTED_CHECK_MS = 250;
/**
 * Type forking: how long after its start script's exit the PidFile may take to name the process when
 * StartTimeout is 0 (else as long as StartTimeout allows, as systemd waits for a daemon's pid file);
 * looked at this often.
 */
export const FORKED_PIDFILE_WAIT_MS = 5000;
const FORKED_PIDFILE_POLL_MS = 50;

export interface TakeOverParts {
  clock: Clock;
  processes: Pick<ServiceProcesses, 'adopted'>;
  settings: () => BuddySettings;
  snapshot: () => Snapshot;
  /** An input for the machine now. */
  input: (input: Input) => void;
  /** An input for the machine after the current one's effects (a start's look runs among them). */
  follow: (input: Input) => void;
  log: (message: string) => void;
  /** A process was taken over: its start time (the status tells it, for a next buddy). */
  tookOver: (startTime: number) => void;
  /** A process found running was taken over: it got nothing a start gives (WATCHDOG_USEC…). */
  foundForeign: () => void;
}

export class TakeOver {
  /** The process taken over, and the run a lost buddy's overlap restart was replacing: their ends are looked for. */
  private readonly watches = new Map<'main' | 'previous', Timer>();
  private forkWait: Timer | null = null;

  constructor(private readonly p: TakeOverParts) {}

  /** Supervise `pid`, started at `startTime`: its end is an `exited` of unknown status. */
  supervise(pid: number, startTime: number): void {
    this.p.tookOver(startTime);
    this.p.processes.adopted(this.p.settings().uid, { pid, startTime });
    this.watchEnd('main', pid, startTime);
  }

  /** A lost buddy's overlap restart: the run it was replacing, `pid` started at `startTime`, is watched for its end too. */
  superviseReplaced(pid: number, startTime: number): void {
    this.watchEnd('previous', pid, startTime);
  }

  /** Look for the end of `pid` every ADOPTED_CHECK_MS (it is not our child): an `exited` of unknown status. */
  private watchEnd(which: 'main' | 'previous', pid: number, startTime: number): void {
    this.watches.get(which)?.clear();
    const check = (): void => {
      if (processAlive(pid, startTime)) {
        this.watches.set(which, this.p.clock.setTimeout(check, ADOPTED_CHECK_MS));
        return;
      }
      this.watches.delete(which);
      this.p.input({ kind: 'exited', pid, code: null, signal: null, unknown: true });
    };
    this.watches.set(which, this.p.clock.setTimeout(check, ADOPTED_CHECK_MS));
  }

  /**
   * Before a start, with PidFile or ProcessMatch: a copy of the service that already runs is taken over
   * (true), or refused when several match (true: a failed start); false: none runs, start one.
   */
  foundRunning(): boolean {
    const s = this.p.settings();
    if (s.pidFile === null && s.processMatch === null) return false;
    const look = findRunning(s, this.serviceUid());
    if (look.kind === 'none') return false;
    if (look.kind === 'refused') {
      this.p.follow({ kind: 'spawn_failed', error: look.why });
      return true;
    }
    const { restarts, desired } = this.p.snapshot();
    this.p.follow(this.takeFound(look, 'took over', { restarts, desired }));
    return true;
  }

  /**
   * `upk attach`: one look, and what it finds is taken over at once (an `adopted` input with `how`),
   * never a start (the process found may have ended since: a start would start a copy). Why nothing
   * was taken over, or null when it was.
   */
  attach(byController: boolean): string | null {
    const s = this.p.settings();
    if (s.pidFile === null && s.processMatch === null)
      return 'nothing to attach to: it has neither PidFile nor ProcessMatch to find its process by';
    const look = findRunning(s, this.serviceUid());
    if (look.kind !== 'found') return `nothing to attach to: ${look.why}`;
    const { restarts } = this.p.snapshot();
    this.p.input(this.takeFound(look, 'attached', { restarts, desired: 'running', byController }));
    return null;
  }

  /** Supervise the process a look found (it got nothing a start gives), and the `adopted` input that says so. */
  private takeFound(
    look: Extract<Lookup, { kind: 'found' }>,
    verb: string,
    rest: { restarts: number; desired: DesiredState; byController?: boolean },
  ): Input {
    this.supervise(look.pid, look.startTime);
    this.p.foundForeign();
    this.p.log(`${verb} ${this.p.settings().service}: pid ${look.pid} runs (${look.how === 'pidfile' ? 'PidFile' : 'ProcessMatch'})`);
    return { kind: 'adopted', pid: look.pid, startedAt: look.startedAt, how: look.how, ...rest };
  }

  /**
   * The start script `script` exited. For Type forking, an exit 0 while it is the service's process
   * hands over to the process its PidFile names (waited for as long as StartTimeout allows); otherwise,
   * or when the file names none, it is the service's exit.
   */
  startScriptExited(script: number, code: number | null, signal: string | null, forking: { start: number; at: number } | null): void {
    if (forking === null || code !== 0) return this.p.input({ kind: 'exited', pid: script, code, signal });
    // Until just before StartTimeout (counted from the spawn), so that a failure says why; 5 s without one.
    const startTimeoutMs = (this.p.settings().startTimeout ?? START_TIMEOUT_DEFAULT) * 1000;
    const deadline = startTimeoutMs > 0 ? forking.at + startTimeoutMs - 50 : this.p.clock.now() + FORKED_PIDFILE_WAIT_MS;
    const look = (): void => {
      this.forkWait = null;
      const snap = this.p.snapshot();
      // A stop came first: the start script's exit is an exit like any other (the stop takes down what it left).
      if (snap.pid !== script || (snap.state !== 'starting' && snap.state !== 'running'))
        return this.p.input({ kind: 'exited', pid: script, code, signal });
      const found = forkedProcess(this.p.settings(), this.serviceUid(), forking.start, forking.at);
      if ('why' in found) {
        if (found.wait && this.p.clock.now() < deadline) {
          this.forkWait = this.p.clock.setTimeout(look, FORKED_PIDFILE_POLL_MS);
          return;
        }
        return this.p.input({
          kind: 'exited',
          pid: script,
          code,
          signal,
          error: `Type forking: the start script exited 0, but ${found.why}`,
        });
      }
      this.supervise(found.pid, found.startTime);
      const pgid = Number(statFields(found.pid)?.[2]); // (field 5, pgrp)
      this.p.input({ kind: 'forked', pid: found.pid, startedAt: found.startedAt, ...(Number.isInteger(pgid) ? { pgid } : {}) });
      // As systemd: started once the start script has exited, unless another readiness key says when.
      const s = this.p.settings();
      if (s.readyFd === null && s.readyLine === null && s.readyCheck == null) this.p.input({ kind: 'ready', how: 'forking' });
    };
    look();
  }

  close(): void {
    for (const t of this.watches.values()) t.clear();
    this.watches.clear();
    this.forkWait?.clear();
    this.forkWait = null;
  }

  /** The service's user: SetUID, else the buddy's own. */
  private serviceUid(): number {
    return this.p.settings().uid ?? process.getuid?.() ?? 0;
  }
}
