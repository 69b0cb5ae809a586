// A service whose buddy is lost or cannot be started: its buddy is attached again in the background,
// with backoff (RELAUNCH_BACKOFF_FIRST_MS doubling up to RELAUNCH_BACKOFF_MAX_MS), for as long as it is
// to be supervised; meanwhile it shows as unsupervised, with why (each cause logged once).
import type { BuddyLink } from './buddy-link.js';
import type { Logger } from './log.js';
import type { ServiceEntry } from './service-entry.js';
import type { Clock, Timer } from '../system/clock.js';

/** After a failed launch the next try waits this long, doubling up to RELAUNCH_BACKOFF_MAX_MS. */
export const RELAUNCH_BACKOFF_FIRST_MS = 100;
export const RELAUNCH_BACKOFF_MAX_MS = 5000;

/** A service whose buddy is being started again until one runs. */
interface Relaunch {
  delay: number;
  /** The retry scheduled, if any. */
  timer: Timer | null;
  /** The cause last logged (a failure is logged again only when its cause changes). */
  logged: string | null;
  attempts: number;
  since: number;
}

/** What relaunching needs of the buddies' keeper. */
export interface RelaunchParts {
  readonly log: Logger;
  readonly clock: Clock;
  /** Whether the service is still to be supervised (configured, and the controller serves). */
  supervisable(entry: ServiceEntry): boolean;
  /** Attach its buddy: connect, else launch one. */
  attach(entry: ServiceEntry): Promise<BuddyLink>;
  /** Start it (its start was due when its buddy was lost). */
  start(entry: ServiceEntry): Promise<unknown>;
  publishStatus(entry: ServiceEntry): void;
  /** The services without a buddy changed. */
  unsupervisedChanged(): void;
}

export class Relauncher {
  private readonly relaunching = new Map<ServiceEntry, Relaunch>();

  constructor(private readonly c: RelaunchParts) {}

  /**
   * Attach the service's buddy again in the background, and go on trying with backoff for as long as
   * it is to be supervised: supervision never stops silently. Meanwhile its status says it is
   * unsupervised, and why.
   */
  reattach(entry: ServiceEntry, failure?: Error): void {
    if (!this.c.supervisable(entry) || this.relaunching.has(entry)) return;
    const r: Relaunch = { delay: RELAUNCH_BACKOFF_FIRST_MS, timer: null, logged: null, attempts: 0, since: this.c.clock.now() };
    this.relaunching.set(entry, r);
    if (failure) this.failed(entry, r, failure);
    else void this.tryAttach(entry, r);
  }

  /** Stop every retry (the controller is stopping). */
  stop(): void {
    for (const r of this.relaunching.values()) r.timer?.clear();
    this.relaunching.clear();
  }

  /** Services whose buddy cannot be started now. */
  get unsupervised(): ServiceEntry[] {
    return [...this.relaunching.keys()].filter((e) => e.unsupervised);
  }

  private async tryAttach(entry: ServiceEntry, r: Relaunch): Promise<void> {
    r.timer = null;
    if (!this.c.supervisable(entry)) return this.giveUp(entry);
    if (entry.link?.open) return this.supervised(entry, entry.link); // attached meanwhile (a request's linkOf)
    try {
      await this.c.attach(entry);
      // (Not while the controller stops or shuts down: a shutdown may have stopped it meanwhile.)
      if (entry.startDue && this.c.supervisable(entry)) void this.c.start(entry);
    } catch (err) {
      this.failed(entry, r, err as Error);
    }
  }

  /** A buddy runs for the service (bound by whatever attached it): its retries end, and say so. */
  supervised(entry: ServiceEntry, link: BuddyLink): void {
    const r = this.relaunching.get(entry);
    if (!r) return;
    r.timer?.clear();
    this.relaunching.delete(entry);
    if (!entry.markSupervised()) return;
    this.c.log.info(
      `${entry.config.id}: supervised again by buddy ${link.pid}, after ${r.attempts} failed launch(es) over ${Math.round((this.c.clock.now() - r.since) / 1000)} s`,
    );
    this.c.publishStatus(entry);
    this.c.unsupervisedChanged();
  }

  /** The service is no longer to be supervised (removed; the controller stops): its retries end. */
  giveUp(entry: ServiceEntry): void {
    this.relaunching.get(entry)?.timer?.clear();
    this.relaunching.delete(entry);
    this.c.unsupervisedChanged();
  }

  /** A launch failed: say so (once per cause), mark the service unsupervised, and try again later. */
  private failed(entry: ServiceEntry, r: Relaunch, err: Error): void {
    if (this.relaunching.get(entry) !== r) return; // a buddy was bound meanwhile: this retry is over
    r.attempts += 1;
    const reason = err.message;
    // The same cause is told once: what differs from one try to the next (times, pids) does not count.
    const cause = reason.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T').replace(/\d+/g, 'N');
    if (cause !== r.logged) {
      this.c.log.error(
        `${entry.config.id}: unsupervised: ${reason} (trying again, ${RELAUNCH_BACKOFF_FIRST_MS / 1000} s doubling up to ${RELAUNCH_BACKOFF_MAX_MS / 1000} s)`,
      );
      r.logged = cause;
    }
    if (!this.c.supervisable(entry)) return this.giveUp(entry);
    entry.markUnsupervised({ reason, since: new Date(r.since).toISOString(), attempts: r.attempts });
    this.c.publishStatus(entry);
    if (r.attempts === 1) this.c.unsupervisedChanged();
    r.timer = this.c.clock.setTimeout(() => void this.tryAttach(entry, r), r.delay);
    r.delay = Math.min(r.delay * 2, RELAUNCH_BACKOFF_MAX_MS);
  }
}
