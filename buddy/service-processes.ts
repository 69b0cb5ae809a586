// What belongs to the service: its process group, and the processes that left it (a daemon's double
// fork, setsid) but carry its marker, UPKEEPER_MARKER=<uuid>, in their environment.
import { SERVICE_MARKER } from '../schema/run-dir.js';
import { markerOf, pidMarkNow, serviceAlive, signalService, type Marker, type PidMark } from '../system/marked-processes.js';

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
  /** The group that has had SIGKILL: each check sends SIGKILL again to what is left of it. */
  private killed: number | null = null;

  constructor(
    private readonly uuid: string,
    uid: number | null,
  ) {
    this.marker = this.markerFor(uid);
  }

  /** Just before `scripts/start` runs as `uid`: its environment, with the marker. */
  starting(env: Record<string, string>, uid: number | null): Record<string, string> {
    this.since = this.clean ? pidMarkNow() : null;
    this.marker = this.markerFor(uid);
    this.killed = null;
    return { ...env, [SERVICE_MARKER]: this.uuid };
  }

  /** A service a lost buddy started (with the same marker): what it left may be anywhere. */
  adopted(uid: number | null): void {
    this.since = null;
    this.marker = this.markerFor(uid);
  }

  /** Signal the group and every marked process outside it; `escaped`: the pids of those. */
  signal(pgid: number, signal: NodeJS.Signals): { group: boolean; escaped: number[] } {
    if (signal === 'SIGKILL') this.killed = pgid;
    return signalService(pgid, this.marker, signal);
  }

  /** True when nothing of the service is left: no member of group `pgid`, no marked process. */
  gone(pgid: number): boolean {
    // A process forked just as SIGKILL went out would outlive it: it gets SIGKILL too.
    if (this.killed === pgid) signalService(pgid, this.marker, 'SIGKILL');
    if (serviceAlive(pgid, this.marker, this.since)) return false;
    this.clean = true;
    return true;
  }

  private markerFor(uid: number | null): Marker {
    return markerOf(SERVICE_MARKER, this.uuid, uid ?? process.getuid?.() ?? 0);
  }
}
