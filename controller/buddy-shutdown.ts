// Shutting a service's buddy down, and with it the service: a buddy that does not answer in time is
// killed (only if its pid is still that buddy), and a service no buddy can stop is stopped by the
// controller itself (its process group and every process carrying its marker).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandOutcome } from '../schema/buddy-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { RUN_DIR, SERVICE_MARKER } from '../schema/run-dir.js';
import { previousStatus } from '../schema/run-dir-read.js';
import { markedProcesses, markerOf, serviceAlive, signalService } from '../system/marked-processes.js';
import { groupAlive, processAlive, signalGroup, survives } from '../system/process-group.js';
import type { AuditStore } from './audit-store.js';
import type { BuddyLink } from './buddy-link.js';
import type { Logger } from './log.js';
import type { ServiceEntry } from './service-entry.js';
import { waitUntil, type Clock } from '../system/clock.js';

/** What a shutdown needs of the buddies' keeper. */
export interface ShutdownParts {
  readonly store: Pick<AuditStore, 'endBuddy'>;
  readonly log: Logger;
  readonly clock: Clock;
  /** The link to the service's buddy if one answers; never starts one. */
  reach(entry: ServiceEntry): Promise<BuddyLink | null>;
  /** Start a buddy for the service (it adopts a service left running) and bind it. */
  launch(entry: ServiceEntry): Promise<BuddyLink>;
  /**
   * Its uuid is another entry's now (a rename: `entry` is what is left under the old id): what carries
   * the uuid's marker may be the service under its new id, so nothing is found or signalled by marker.
   */
  livesElsewhere(entry: ServiceEntry): boolean;
}

/** Why the controller stops a service itself, in its messages. */
const NO_BUDDY = 'no buddy could be started';
/** How long a buddy may take to hand over its last events and exit after its shutdown. */
const SHUTDOWN_DRAIN_MS = 15_000;

export class BuddyShutdown {
  constructor(private readonly c: ShutdownParts) {}

  /**
   * Stop a service and its buddy, and wait until the buddy has handed over its last events and
   * exited (it exits once the poller has committed them). The caller waits for a launch in progress first.
   */
  async shutdown(entry: ServiceEntry): Promise<{ ok: boolean; message: string }> {
    let link = await this.c.reach(entry);
    if (!link && this.c.livesElsewhere(entry)) {
      // Under a renamed service's old id, with no buddy answering: its process is the new id's buddy's
      // to adopt or not; never one found by the marker it shares with the service under its new id.
      return { ok: true, message: 'no buddy answers under its old id; the service lives on under its new id' };
    }
    if (!link) {
      // A service left running without a buddy must not outlive a shutdown: a buddy is started to
      // stop it (it adopts it), and if none can be, the controller stops it itself.
      const left = previousStatus(join(entry.runDir, RUN_DIR.status), entry.uuid);
      if (!survives(left)) {
        // Its process is gone; what it left outside its group (a daemon's child) is found by its marker.
        if (markedProcesses(this.markerOf(entry), { first: true }).length === 0) return { ok: true, message: 'no buddy was running' };
        return this.stopUnsupervised(entry, null, NO_BUDDY, 'its buddy is gone, and processes it left run on');
      }
      try {
        link = await this.c.launch(entry);
      } catch (err) {
        return this.stopUnsupervised(entry, left.pid, NO_BUDDY, (err as Error).message);
      }
    }
    // A stop takes at most 2 × KillTimeout (then SIGKILL); a buddy that has not answered 15 s after
    // that is stuck (stopped, a bug): it is killed, and the controller stops the service itself. With
    // a negative KillTimeout a stop may wait for ever: so may this.
    const kill = entry.config.killTimeout;
    const answerMs = kill >= 0 ? 2 * kill * 1000 + SHUTDOWN_DRAIN_MS : 0;
    let outcome: CommandOutcome;
    try {
      outcome = await link.call('shutdown', { controller: true }, answerMs);
    } catch (err) {
      // No answer in time: the buddy is stuck, and killed. The connection lost: it ended by itself.
      const timedOut = err instanceof UpkError && err.code === ErrorCode.TIMEOUT;
      const why = timedOut
        ? `its buddy ${link.pid} did not answer its shutdown (${err.message})`
        : `its buddy ${link.pid} ended during its shutdown (${(err as Error).message})`;
      if (timedOut) this.killBuddy(entry, link.pid);
      else await this.waitForExit(link.pid, SHUTDOWN_DRAIN_MS);
      this.c.log.error(`${entry.config.id}: ${why}${timedOut ? ': killed' : ''}`);
      this.c.store.endBuddy(link.buddyId, timedOut ? 'killed: no answer to its shutdown' : 'lost');
      const stopped = await this.stopUnsupervised(entry, entry.status?.pid ?? null, null, timedOut ? `${why}, and was killed` : why);
      return { ...stopped, message: `${stopped.message}${timedOut ? '; its buddy did not answer and was killed' : ''}` };
    }
    entry.observe(outcome.status);
    if (await this.waitForExit(link.pid, SHUTDOWN_DRAIN_MS)) {
      this.c.store.endBuddy(link.buddyId, 'shutdown');
      return outcome;
    }
    // A buddy that outlives its shutdown (a bug) must not run on unseen: it is killed, and that is told.
    this.killBuddy(entry, link.pid);
    this.c.log.error(
      `${entry.config.id}: buddy ${link.pid} did not exit ${SHUTDOWN_DRAIN_MS / 1000} s after its shutdown: killed (events it had not handed over are lost)`,
    );
    this.c.store.endBuddy(link.buddyId, 'killed after its shutdown');
    return { ...outcome, message: `${outcome.message}; its buddy did not exit and was killed` };
  }

  /**
   * Kill a stuck buddy (SIGKILL), only if that pid is still a buddy of this service (its command line
   * names the run directory: never a reused pid), and its pipe programs, which run in sessions of their
   * own and would read on unseen.
   */
  private killBuddy(entry: ServiceEntry, pid: number): void {
    if (isBuddyOf(pid, entry.runDir)) signalPid(pid, 'SIGKILL');
    const pipes = previousStatus(join(entry.runDir, RUN_DIR.status), entry.uuid)?.pipes;
    for (const pipe of [pipes?.stdout, pipes?.stderr]) {
      if (pipe && processAlive(pipe.pid, pipe.startTime)) signalGroup(pipe.pid, 'SIGKILL');
    }
  }

  /**
   * Stop a service from the controller, no buddy doing it (none can be started, or none answers):
   * SIGTERM to its process group and its marked processes, SIGKILL after KillTimeout (at least 1 s;
   * 10 s when it is negative), and a last SIGKILL check 1 s later. `cause`: NO_BUDDY, or null when
   * `why` says it all (a buddy that did not answer); both are told in each message.
   */
  private async stopUnsupervised(
    entry: ServiceEntry,
    pid: number | null,
    cause: string | null,
    why: string,
  ): Promise<{ ok: boolean; message: string }> {
    const id = entry.config.id;
    const marker = this.markerOf(entry);
    const graceMs = entry.config.killTimeout < 0 ? 10_000 : Math.max(1000, entry.config.killTimeout * 1000);
    // Under a renamed service's old id, the marker is the service's under its new id too: only its group.
    const byMarker = !this.c.livesElsewhere(entry);
    // With no pid (its main process is gone) only the processes that carry its marker are signalled.
    const signal = (sig: NodeJS.Signals): void => {
      if (pid !== null && byMarker) signalService(pid, marker, sig);
      else if (pid !== null) signalGroup(pid, sig);
      else if (byMarker) for (const p of markedProcesses(marker)) signalPid(p, sig);
    };
    const alive = (): boolean => {
      if (pid !== null) return byMarker ? serviceAlive(pid, marker) : groupAlive(pid);
      return byMarker && markedProcesses(marker, { first: true }).length > 0;
    };
    this.c.log.warn(
      `${id}: ${cause ?? 'no buddy answers'} (${why}); stopping ${pid !== null ? `pid ${pid}, its group` : 'the processes'} and what carries its marker from the controller`,
    );
    signal('SIGTERM');
    if (!(await waitUntil(() => !alive(), graceMs, this.c.clock))) {
      signal('SIGKILL');
      await waitUntil(() => !alive(), 1000, this.c.clock);
    }
    const gone = !alive();
    return {
      ok: gone,
      message: gone
        ? `stopped by the controller${cause ? `: ${cause}` : ''} (${why})`
        : `still running: ${cause ?? 'no buddy answers'} (${why}), and SIGKILL did not end it`,
    };
  }

  /** What every process of the service carries (buddy.md, "the marker"). */
  private markerOf(entry: ServiceEntry): ReturnType<typeof markerOf> {
    return markerOf(SERVICE_MARKER, entry.uuid, entry.config.setUid ?? process.getuid?.() ?? 0);
  }

  /** Wait until `pid` no longer runs; false if it still does after `ms`. */
  private waitForExit(pid: number, ms: number): Promise<boolean> {
    return waitUntil(() => !processAlive(pid), ms, this.c.clock);
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone meanwhile */
  }
}

/** Is `pid` a buddy of the service whose run directory is `runDir` (its command line names it)? */
function isBuddyOf(pid: number, runDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(runDir);
  } catch {
    return false;
  }
}
