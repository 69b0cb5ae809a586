// What belongs to the service: its process group, and the processes that left it (a daemon's double
// fork, setsid) but carry its marker, UPKEEPER_MARKER=<uuid>, in their environment.
import { SERVICE_MARKER } from '../schema/run-dir.js';
import { markedBefore, markerOf, pidMarkNow, serviceAlive, signalService, type Marker, type PidMark } from '../system/marked-processes.js';
import { groupAlive, processAlive, signalGroup, statFields } from '../system/process-group.js';

/** How long after the first start of a service with no earlier run here the whole scan for stale marked processes comes. */
const STALE_SWEEP_MS = 1000;

// Only `scripts/start` gets the marker; action scripts and pipe programs never do, so a stop never
// signals its own stop script.
export { SERVICE_MARKER };

/** An environment without the marker: for action scripts and pipe programs. */
export function withoutMarker(env: Record<string, string>): Record<string, string> {
  const { [SERVICE_MARKER]: _marker, ...rest } = env;
  return rest;
}

export class ServiceProcesses {
  private marker: Marker;
  /**
   * The pid allocation just before the latest start, when every marked process was known gone then:
   * what that run leaves can only be among the pids handed out since. null: look at every process.
   */
  private since: PidMark | null = null;
  /** Nothing marked was left at the last check that found the service gone. */
  private clean = false;
  /** No earlier run of the service here, and its first start is still to come (`noEarlierRun`). */
  private firstHere = false;
  /** The group that has had SIGKILL: each check sends SIGKILL again to what is left of it. */
  private killed: number | null = null;
  /**
   * A process the buddy did not start (pid and start time): signalled and waited for by its pid too,
   * since it may lead no group of its own and carry no marker (one started elsewhere).
   */
  private main: { pid: number; startTime: number } | null = null;
  /**
   * RestartMode overlap: the group of the run being replaced. It carries the same marker, so the
   * current run's signals and checks leave it out; it is signalled and waited for as a group alone.
   */
  private spared: number | null = null;
  /** The previous run's group that has had SIGKILL. */
  private killedPrevious: number | null = null;

  constructor(
    private readonly uuid: string,
    uid: number | null,
  ) {
    this.marker = this.markerFor(uid);
  }

  /**
   * No buddy ever ran the service here (the run directory holds no status of it): nothing carries its
   * marker, so what the first run leaves is looked for among the pids handed out since its start too,
   * and its first exit lists no /proc (~8 ms of a first respawn).
   */
  noEarlierRun(): void {
    this.clean = true;
    this.firstHere = true;
  }

  /**
   * A run directory without a status does not prove that nothing carries the marker (one deleted by
   * hand, a SvcRunPath changed, a status that could never be written): a second after the first
   * start, off the respawn path, one whole scan looks for a marked process older than the start, and
   * when there is one, the checks look at every process again.
   */
  sweepStale(since: PidMark | null = this.since): void {
    if (since === null || since !== this.since) return; // a later start or an adoption decided anew
    if (markedBefore(this.marker, since)) {
      this.since = null;
      this.clean = false;
    }
  }

  /** Just before `scripts/start` runs as `uid`: its environment, with the marker. */
  starting(env: Record<string, string>, uid: number | null): Record<string, string> {
    this.since = this.clean ? pidMarkNow() : null;
    if (this.firstHere) {
      this.firstHere = false;
      const since = this.since;
      setTimeout(() => this.sweepStale(since), STALE_SWEEP_MS).unref();
    }
    this.marker = this.markerFor(uid);
    this.killed = null;
    this.main = null;
    return { ...env, [SERVICE_MARKER]: this.uuid };
  }

  /**
   * A process the buddy did not start: a lost buddy's (with the same marker), one found by PidFile or
   * ProcessMatch, or the one a Type forking start left (`main`). What it left may be anywhere.
   */
  adopted(uid: number | null, main: { pid: number; startTime: number } | null = null): void {
    this.since = null;
    this.marker = this.markerFor(uid);
    this.main = main;
  }

  /** Signal the group, every marked process outside it and the adopted process; `escaped`: the pids outside the group. */
  signal(pgid: number, signal: NodeJS.Signals): { group: boolean; escaped: number[] } {
    if (signal === 'SIGKILL') this.killed = pgid;
    const sent = signalService(pgid, this.marker, signal, this.spared);
    const main = this.mainOutside(pgid, sent.escaped);
    if (main !== null) {
      try {
        process.kill(main, signal);
        sent.escaped.push(main);
      } catch {
        /* gone meanwhile */
      }
    }
    return sent;
  }

  /** True when nothing of the service is left: no member of group `pgid`, no marked process, not the adopted one. */
  gone(pgid: number): boolean {
    // A process forked just as SIGKILL went out would outlive it: it gets SIGKILL too.
    if (this.killed === pgid) this.signal(pgid, 'SIGKILL');
    if (serviceAlive(pgid, this.marker, this.since, this.spared)) return false;
    if (this.main && processAlive(this.main.pid, this.main.startTime)) return false;
    this.clean = true;
    return true;
  }

  /** The group of a run an overlap restart replaces (null: none): left out of the current run's signals and checks. */
  spare(pgid: number | null): void {
    this.spared = pgid;
    // What the replaced run left outside its group predates the next start: look for it among every pid.
    if (pgid !== null) this.clean = false;
  }

  /** Signal the previous run's group (not the marked processes: the current run carries the same marker). */
  signalPrevious(pgid: number, signal: NodeJS.Signals): { group: boolean; escaped: number[] } {
    if (signal === 'SIGKILL') this.killedPrevious = pgid;
    return { group: signalGroup(pgid, signal), escaped: [] };
  }

  /**
   * True when nothing of the previous run's group is left. A process it left outside its group (it
   * carries the marker) is the service's, and goes with the service's next stop.
   */
  previousGone(pgid: number): boolean {
    if (this.killedPrevious === pgid) signalGroup(pgid, 'SIGKILL');
    return !groupAlive(pgid);
  }

  /** The adopted process, when it lives outside group `pgid` and was not among `escaped`. */
  private mainOutside(pgid: number, escaped: number[]): number | null {
    const m = this.main;
    if (!m || escaped.includes(m.pid)) return null;
    const f = statFields(m.pid);
    if (!f || f[0] === 'Z' || f[0] === 'X' || Number(f[19]) !== m.startTime || Number(f[2]) === pgid) return null;
    return m.pid;
  }

  private markerFor(uid: number | null): Marker {
    return markerOf(SERVICE_MARKER, this.uuid, uid ?? process.getuid?.() ?? 0);
  }
}
