// The controller's buddies: attach (connect, else launch), reconcile, notice a lost one; launching one
// again with backoff (relaunch.ts), shutting one down (buddy-shutdown.ts), retiring strays (stray-buddies.ts).
import { join } from 'node:path';
import type { BuddyMethods } from '../schema/buddy-protocol.js';
import type { DesiredState } from '../schema/records.js';
import { RUN_DIR } from '../schema/run-dir.js';
import type { ResultOf } from '../schema/rpc.js';
import { processAlive } from '../system/process-group.js';
import type { AuditStore } from './audit-store.js';
import { BuddyLink } from './buddy-link.js';
import { BuddyShutdown } from './buddy-shutdown.js';
import { takeInJournals } from './journal-intake.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './log.js';
import type { Poller } from './poller.js';
import { reconciliation } from './reconcile-policy.js';
import { Relauncher } from './relaunch.js';
import { StrayBuddies } from './stray-buddies.js';
import type { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { waitUntil, type Clock } from '../system/clock.js';

/** What the buddies' keeper needs of the controller. */
export interface BuddiesParts {
  readonly services: ServiceTable;
  readonly store: AuditStore;
  readonly poller: Pick<Poller, 'wake' | 'hurry' | 'collect' | 'drain'>;
  readonly lifecycle: Pick<Lifecycle, 'supervising'>;
  readonly log: Logger;
  readonly clock: Clock;
  /** Start a buddy in a run directory and connect to it (buddy-launcher.ts, with UpkBuddyPath or the bundled program). */
  launch(runDir: string): Promise<BuddyLink>;
  /** Where the run directories are (SvcRunPath). */
  svcRunPath(): string;
  /** Record and publish a new desired state. */
  setDesired(entry: ServiceEntry, desired: DesiredState): void;
  publishStatus(entry: ServiceEntry): void;
  /** The services without a buddy changed. */
  unsupervisedChanged(): void;
  /** Start a service whose start is due, now that its buddy is attached again. */
  start(entry: ServiceEntry): Promise<unknown>;
  /** A service was removed (subscribers are told). */
  removed(entry: ServiceEntry): void;
}

/** A buddy that keeps dying is started again at most this often. */
const RELAUNCH_MIN_MS = 1000;
/** How long a buddy whose socket closed may take to exit before it is taken for alive. */
const BUDDY_EXIT_WAIT_MS = 1000;

export class Buddies {
  private readonly lastLaunch = new Map<string, number>();
  /** A buddy start in progress per service, so two callers never start two buddies. */
  private readonly launching = new Map<ServiceEntry, Promise<BuddyLink>>();
  /** Renamed services' uuids whose buddy under the old id is being retired: no buddy under the new id until it is gone. */
  private readonly handovers = new Map<string, Promise<void>>();
  private readonly shutdowns: BuddyShutdown;
  private readonly relaunch: Relauncher;
  private readonly strays: StrayBuddies;

  constructor(private readonly c: BuddiesParts) {
    this.strays = new StrayBuddies({
      services: c.services,
      store: c.store,
      log: c.log,
      svcRunPath: () => c.svcRunPath(),
      bind: (entry, link) => this.bind(entry, link),
      drain: (entry) => c.poller.drain([entry]),
      shutdown: (entry) => this.shutdown(entry),
    });
    this.relaunch = new Relauncher({
      log: c.log,
      clock: c.clock,
      supervisable: (entry) => this.supervisable(entry),
      attach: (entry) => this.attach(entry, false),
      start: (entry) => c.start(entry),
      publishStatus: (entry) => c.publishStatus(entry),
      unsupervisedChanged: () => c.unsupervisedChanged(),
    });
    this.shutdowns = new BuddyShutdown({
      store: c.store,
      log: c.log,
      clock: c.clock,
      reach: (entry) => this.reach(entry),
      livesElsewhere: (entry) => {
        const now = c.services.byUuid(entry.uuid);
        return now !== undefined && now !== entry;
      },
      launch: async (entry) => {
        const link = await c.launch(entry.runDir);
        this.bind(entry, link);
        return link;
      },
    });
  }

  /** Connect to the service's living buddy, or start one; then bring the service to its desired state. */
  attach(entry: ServiceEntry, settingsChanged: boolean): Promise<BuddyLink> {
    let p = this.launching.get(entry);
    if (!p) {
      p = this.connectOrLaunch(entry, settingsChanged).finally(() => this.launching.delete(entry));
      this.launching.set(entry, p);
    }
    return p;
  }

  /** Attach the buddies of these services (a failure goes on in the background: `reattach`). */
  async attachAll(entries: ServiceEntry[], settingsChanged: ReadonlySet<ServiceEntry> = new Set()): Promise<void> {
    await Promise.all(entries.map((e) => this.attach(e, settingsChanged.has(e)).catch((err: Error) => this.reattach(e, err))));
  }

  /** A request to the service's buddy, attaching one (connect, else start) when none is bound. */
  async call<K extends keyof BuddyMethods>(
    entry: ServiceEntry,
    method: K,
    params: BuddyMethods[K]['params'],
    timeoutMs?: number,
  ): Promise<ResultOf<BuddyMethods, K>> {
    return (await this.linkOf(entry)).call(method, params, timeoutMs);
  }

  /**
   * Attach the service's buddy again in the background (it was lost, or it reached us by its
   * endpoint), and go on trying with backoff for as long as the service is configured (relaunch.ts).
   */
  reattach(entry: ServiceEntry, failure?: Error): void {
    this.relaunch.reattach(entry, failure);
  }

  /** Stop every retry (the controller is stopping). */
  stop(): void {
    this.relaunch.stop();
  }

  /** Services whose buddy cannot be started now. */
  get unsupervised(): ServiceEntry[] {
    return this.relaunch.unsupervised;
  }

  private supervisable(entry: ServiceEntry): boolean {
    return this.c.lifecycle.supervising && !entry.retired && this.c.services.get(entry.config.id) === entry;
  }

  /** The link to a service's buddy, attaching one (connect, else start) when there is none. */
  async linkOf(entry: ServiceEntry): Promise<BuddyLink> {
    if (entry.link?.open) return entry.link;
    try {
      return await this.attach(entry, false);
    } catch (err) {
      this.reattach(entry, err as Error); // keeps trying in the background
      throw err;
    }
  }

  /** The link to the service's buddy if one answers; never starts one. */
  private async reach(entry: ServiceEntry): Promise<BuddyLink | null> {
    if (entry.link?.open) return entry.link;
    const link = await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null);
    if (link) this.bind(entry, link);
    return link;
  }

  /**
   * Stop a service and its buddy, and wait until the buddy has handed over its last events and
   * exited (buddy-shutdown.ts).
   */
  async shutdown(entry: ServiceEntry): Promise<{ ok: boolean; message: string }> {
    // A buddy being started now (a relaunch) is waited for: never a second one beside it.
    await this.launching.get(entry)?.catch(() => undefined);
    return this.shutdowns.shutdown(entry);
  }

  /**
   * Remove a service from the controller: stop it and its buddy, and record it as removed. A service
   * still running without a buddy gets one first (it adopts the service), so that it can be stopped;
   * when none can be started, the controller stops it itself (as `shutdown` does).
   */
  async unconfigure(entry: ServiceEntry, why: string): Promise<void> {
    await this.stopForGood(entry);
    // A reload meanwhile may have given its uuid to a service under another id (a rename): it lives on.
    const now = this.c.services.byUuid(entry.uuid);
    if (now !== undefined && now !== entry) {
      this.c.log.info(`${entry.config.id}: ${why}: stopped; its uuid is ${now.config.id}'s now`);
      return;
    }
    this.c.store.markRemoved(entry.uuid);
    this.c.removed(entry);
    this.c.log.info(`${entry.config.id}: ${why}: removed`);
  }

  /**
   * A service renamed (its fixed UUID under a new id): the buddy under its old id (`entry`, out of the
   * table) hands over its events and is shut down with what it runs, as a removed service's is; its
   * uuid lives on under the new id, so it is not marked removed, and subscribers are told nothing of it.
   * A buddy in the old run directory that serves another uuid is left alone (attaching decides on it).
   */
  retireRenamed(entry: ServiceEntry): Promise<void> {
    // Set before any wait: an attach under the new id (a request meanwhile) waits for it.
    const done = this.retireUnder(entry).finally(() => this.handovers.delete(entry.uuid));
    this.handovers.set(entry.uuid, done);
    return done;
  }

  private async retireUnder(entry: ServiceEntry): Promise<void> {
    if (!entry.link?.open) {
      const link = await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null);
      if (link && link.hello.status.uuid !== entry.uuid) {
        link.close();
        return;
      }
      if (link) this.bind(entry, link);
    }
    this.c.log.info(
      `${entry.config.id}: renamed (uuid ${entry.uuid}); its buddy under this id hands over its events and stops with what it runs`,
    );
    await this.stopForGood(entry);
  }

  /** Stop a service and its buddy for good, take in its journals, and forget the entry. */
  private async stopForGood(entry: ServiceEntry): Promise<void> {
    entry.retire();
    const outcome = await this.shutdown(entry).catch((err: Error) => ({ ok: false, message: err.message }));
    if (!outcome.ok) this.c.log.warn(`${entry.config.id}: ${outcome.message}`);
    takeInJournals(this.c.store, entry.runDir, entry.uuid, (m) => this.c.log.info(m));
    this.c.services.remove(entry);
    this.relaunch.giveUp(entry);
  }

  /**
   * Buddies that answer in a run directory but serve no configured service (a removed service, or
   * an identity that changed), and buddy rows the database holds open: every living buddy is found.
   */
  retireStrays(): Promise<void> {
    return this.strays.retireAll();
  }

  private async connectOrLaunch(entry: ServiceEntry, settingsChanged: boolean): Promise<BuddyLink> {
    // Renamed: the buddy under its old id stops (with what it runs, its marker too) before this one comes.
    const handover = entry.retired ? undefined : this.handovers.get(entry.uuid);
    if (handover) await handover.catch(() => undefined);
    let link: BuddyLink | null = await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null);
    if (link && link.hello.status.uuid !== entry.uuid) {
      // The service's identity changed (a new UUID): the old one's buddy hands over its events and goes.
      await this.strays.retire(entry.runDir, link);
      link = null;
    }
    let found = link !== null;
    if (link) {
      if (settingsChanged) entry.observe(await link.call('reconfigure', {}));
    } else {
      const since = this.c.clock.now() - (this.lastLaunch.get(entry.uuid) ?? 0);
      if (since < RELAUNCH_MIN_MS) await this.c.clock.sleep(RELAUNCH_MIN_MS - since);
      this.lastLaunch.set(entry.uuid, this.c.clock.now());
      link = await this.c.launch(entry.runDir);
      // A new buddy that adopted a service left running by a lost buddy is reconciled like a found one.
      found = link.hello.status.state !== 'stopped';
    }
    this.bind(entry, link);
    await this.reconcile(entry, link, found);
    return link;
  }

  private bind(entry: ServiceEntry, link: BuddyLink): void {
    const { store } = this.c;
    const hello = link.hello;
    link.buddyId = store.buddyId(hello.instance, entry.uuid, hello.pid, Date.parse(hello.status.buddyStarted));
    // (Not for the buddy left under a renamed service's old id: the uuid's current buddy is not gone.)
    const current = this.c.services.byUuid(entry.uuid);
    const renamed = current !== undefined && current !== entry;
    if (!renamed) store.endOtherBuddies(entry.uuid, link.buddyId, 'gone');
    link.acked = store.lastSeq(link.buddyId);
    takeInJournals(store, entry.runDir, entry.uuid, (m) => this.c.log.info(m));
    link.onNotify = () => this.c.poller.wake(entry);
    link.onDropped = (err) => this.c.log.warn(`${entry.config.id}: dropped a notification from its buddy: ${err.message}`);
    link.onClose = () => void this.onLost(entry, link);
    entry.bind(link);
    this.relaunch.supervised(entry, link);
    this.c.publishStatus(entry);
    // A new buddy's first events (buddy_started, adopted) are collected now, and it is polled at the
    // active pace until it is quiet: a buddy lost before its first poll loses what it held.
    this.c.poller.hurry(entry);
  }

  /**
   * Bring a buddy's service to the desired state. A buddy found running was already supervising
   * before this controller started: where it disagrees with the database, PreferBuddyStateForStopped
   * and PreferBuddyStateForRunning decide who is right (docs/controller.md has the table).
   */
  private async reconcile(entry: ServiceEntry, link: BuddyLink, found: boolean): Promise<void> {
    const buddyWants = link.hello.status.desired;
    const cfg = entry.config;
    const behind = found && buddyWants !== entry.desired && (await this.databaseBehind(entry, buddyWants));
    const decision = reconciliation({
      found,
      buddyWants,
      desired: entry.desired, // (read after the wait: a command may have changed it meanwhile)
      databaseBehind: behind,
      preferBuddyStateForStopped: cfg.preferBuddyStateForStopped,
      preferBuddyStateForRunning: cfg.preferBuddyStateForRunning,
    });
    switch (decision.kind) {
      case 'take-buddy-state':
        if (decision.why === 'preferred') this.c.log.info(`${cfg.id}: buddy has it ${buddyWants}; recording that as desired`);
        return this.c.setDesired(entry, buddyWants);
      case 'start':
        return entry.markStartDue(); // the caller starts it, in dependency and priority order with the others
      case 'stop':
        void link.call('stop', { controller: true }).catch((err: Error) => this.c.log.warn(`${cfg.id}: stop: ${err.message}`));
        return;
      case 'nothing':
        return;
    }
  }

  /**
   * Whether the database, not the buddy, is behind: a controller decided `buddyWants` (a user's
   * command, or its own reconciliation) and could not record it (a full disk), and the buddy's
   * `desired` event of it is newer than the database's record; or the database cannot be written now
   * (what it says may be stale, and nothing is undone on its word).
   */
  private async databaseBehind(entry: ServiceEntry, buddyWants: DesiredState): Promise<boolean> {
    await this.c.poller.collect([entry]); // the buddy's own record, into the database first
    const id = entry.config.id;
    if (this.c.store.newerDesired(entry.uuid) === buddyWants) {
      this.c.log.warn(`${id}: desired ${buddyWants}, as its buddy recorded it (a change the database could not store then)`);
      return true;
    }
    if (this.c.store.writeFailure) {
      this.c.log.warn(
        `${id}: its buddy has it ${buddyWants}; kept so while the audit database cannot be written (what it says may be behind)`,
      );
      return true;
    }
    return false;
  }

  /**
   * A buddy connection closed. A buddy closes its socket just before it exits, so give its pid a
   * moment to go; then record a dead buddy and start another, or reconnect to a living one.
   */
  private async onLost(entry: ServiceEntry, link: BuddyLink): Promise<void> {
    if (!entry.unbind(link)) return;
    this.c.publishStatus(entry);
    if (!this.c.lifecycle.supervising || entry.retired) return; // shutdown records the end itself
    if (await waitUntil(() => !processAlive(link.pid), BUDDY_EXIT_WAIT_MS, this.c.clock)) {
      this.c.store.endBuddy(link.buddyId, 'lost');
      this.c.log.warn(`${entry.config.id}: buddy ${link.pid} is gone; starting another`);
    }
    if (!this.c.lifecycle.supervising || entry.link) return;
    this.reattach(entry);
  }
}
