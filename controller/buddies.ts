// The controller's buddies: attach (connect, else launch), reconcile, notice a lost one, shut one
// down, and find and retire buddies that serve no configured service.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandOutcome } from '../schema/buddy-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { RUN_DIR, SERVICE_MARKER } from '../schema/run-dir.js';
import { markedProcesses, markerOf, serviceAlive, signalService } from '../system/marked-processes.js';
import { processAlive, signalGroup, survives } from '../system/process-group.js';
import { previousStatus } from '../schema/run-dir-read.js';
import { BuddyLink } from './buddy-link.js';
import { BUNDLED_BUDDY, launchBuddy } from './buddy-launcher.js';
import type { Controller } from './controller.js';
import { takeInJournals } from './journal-intake.js';
import type { ServiceEntry } from './service-table.js';

/** A buddy that keeps dying is started again at most this often. */
const RELAUNCH_MIN_MS = 1000;
/** After a failed launch the next try waits this long, doubling up to RELAUNCH_BACKOFF_MAX_MS. */
export const RELAUNCH_BACKOFF_FIRST_MS = 100;
export const RELAUNCH_BACKOFF_MAX_MS = 5000;

/** A service whose buddy is being started again until one runs. */
interface Relaunch {
  delay: number;
  timer: NodeJS.Timeout | null;
  /** The cause last logged (a failure is logged again only when its cause changes). */
  logged: string | null;
  attempts: number;
  since: number;
}
/** Why the controller stops a service itself, in its messages. */
const NO_BUDDY = 'no buddy could be started';
/** How long a buddy may take to hand over its last events and exit after its shutdown. */
const SHUTDOWN_DRAIN_MS = 15_000;
/** How long a buddy whose socket closed may take to exit before it is taken for alive. */
const BUDDY_EXIT_WAIT_MS = 1000;

export class Buddies {
  private readonly lastLaunch = new Map<string, number>();
  private readonly relaunching = new Map<ServiceEntry, Relaunch>();

  constructor(private readonly c: Controller) {}

  private get program(): string {
    return this.c.config.upkBuddyPath ?? BUNDLED_BUDDY;
  }

  /** Connect to the service's living buddy, or start one; then bring the service to its desired state. */
  attach(entry: ServiceEntry, settingsChanged: boolean): Promise<BuddyLink> {
    entry.launching ??= this.connectOrLaunch(entry, settingsChanged).finally(() => (entry.launching = null));
    return entry.launching;
  }

  /**
   * Attach the service's buddy again in the background (it was lost, or it reached us by its
   * endpoint), and go on trying with backoff for as long as the service is configured: supervision
   * never stops silently. Meanwhile its status says it is unsupervised, and why.
   */
  reattach(entry: ServiceEntry, failure?: Error): void {
    if (!this.supervisable(entry) || this.relaunching.has(entry)) return;
    const r: Relaunch = { delay: RELAUNCH_BACKOFF_FIRST_MS, timer: null, logged: null, attempts: 0, since: Date.now() };
    this.relaunching.set(entry, r);
    if (failure) this.failed(entry, r, failure);
    else void this.tryAttach(entry, r);
  }

  /** Stop every retry (the controller is stopping). */
  stop(): void {
    for (const r of this.relaunching.values()) if (r.timer) clearTimeout(r.timer);
    this.relaunching.clear();
  }

  /** Services whose buddy cannot be started now. */
  get unsupervised(): ServiceEntry[] {
    return [...this.relaunching.keys()].filter((e) => e.unsupervised);
  }

  private supervisable(entry: ServiceEntry): boolean {
    return !this.c.stopping && !this.c.shuttingDown && !entry.retired && this.c.services.get(entry.config.id) === entry;
  }

  private async tryAttach(entry: ServiceEntry, r: Relaunch): Promise<void> {
    r.timer = null;
    if (!this.supervisable(entry)) return this.giveUp(entry);
    if (entry.link?.open) return this.supervised(entry, entry.link); // attached meanwhile (a request's linkOf)
    try {
      await this.attach(entry, false);
      // (Not while the controller stops or shuts down: a shutdown may have stopped it meanwhile.)
      if (entry.wantsStart && this.supervisable(entry)) void this.c.starter.start(entry);
    } catch (err) {
      this.failed(entry, r, err as Error);
    }
  }

  /** A buddy runs for the service again (bound by whatever attached it): its retries end, and say so. */
  private supervised(entry: ServiceEntry, link: BuddyLink): void {
    const r = this.relaunching.get(entry);
    if (!r) return;
    if (r.timer) clearTimeout(r.timer);
    this.relaunching.delete(entry);
    if (!entry.unsupervised) return;
    entry.unsupervised = null;
    this.c.log.info(
      `${entry.config.id}: supervised again by buddy ${link.pid}, after ${r.attempts} failed launch(es) over ${Math.round((Date.now() - r.since) / 1000)} s`,
    );
    this.c.publishStatus(entry);
    this.c.noteUnsupervised();
  }

  /** The service is no longer to be supervised (removed; the controller stops): its retries end. */
  private giveUp(entry: ServiceEntry): void {
    const r = this.relaunching.get(entry);
    if (r?.timer) clearTimeout(r.timer);
    this.relaunching.delete(entry);
    this.c.noteUnsupervised();
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
    if (!this.supervisable(entry)) return this.giveUp(entry);
    entry.unsupervised = { reason, since: new Date(r.since).toISOString(), attempts: r.attempts };
    this.c.publishStatus(entry);
    if (r.attempts === 1) this.c.noteUnsupervised();
    r.timer = setTimeout(() => void this.tryAttach(entry, r), r.delay);
    r.delay = Math.min(r.delay * 2, RELAUNCH_BACKOFF_MAX_MS);
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
  async reach(entry: ServiceEntry): Promise<BuddyLink | null> {
    if (entry.link?.open) return entry.link;
    const link = await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null);
    if (link) this.bind(entry, link);
    return link;
  }

  /**
   * Stop a service and its buddy, and wait until the buddy has handed over its last events and
   * exited (it exits once the poller has committed them).
   */
  async shutdown(entry: ServiceEntry): Promise<{ ok: boolean; message: string }> {
    // A buddy being started now (a relaunch) is waited for: never a second one beside it.
    await entry.launching?.catch(() => undefined);
    let link = await this.reach(entry);
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
        link = (await launchBuddy(entry.runDir, this.program)).link;
        this.bind(entry, link);
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
      else await waitForExit(link.pid, SHUTDOWN_DRAIN_MS);
      this.c.log.error(`${entry.config.id}: ${why}${timedOut ? ': killed' : ''}`);
      this.c.store.endBuddy(link.buddyId, timedOut ? 'killed: no answer to its shutdown' : 'lost');
      const stopped = await this.stopUnsupervised(entry, entry.status?.pid ?? null, null, timedOut ? `${why}, and was killed` : why);
      return { ...stopped, message: `${stopped.message}${timedOut ? '; its buddy did not answer and was killed' : ''}` };
    }
    entry.status = outcome.status;
    if (await waitForExit(link.pid, SHUTDOWN_DRAIN_MS)) {
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
   * Remove a service from the controller: stop it and its buddy, and record it as removed. A service
   * still running without a buddy gets one first (it adopts the service), so that it can be stopped;
   * when none can be started, the controller stops it itself (as `shutdown` does).
   */
  async unconfigure(entry: ServiceEntry, why: string): Promise<void> {
    entry.retired = true;
    const outcome = await this.shutdown(entry).catch((err: Error) => ({ ok: false, message: err.message }));
    if (!outcome.ok) this.c.log.warn(`${entry.config.id}: ${outcome.message}`);
    takeInJournals(this.c.store, entry.runDir, entry.uuid, (m) => this.c.log.info(m));
    this.c.services.delete(entry.config.id);
    this.giveUp(entry);
    this.c.store.markRemoved(entry.uuid);
    this.c.publisher.removed(entry.config.id, entry.uuid);
    this.c.log.info(`${entry.config.id}: ${why}: removed`);
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
    // With no pid (its main process is gone) only the processes that carry its marker are signalled.
    const signal = (sig: NodeJS.Signals): void => {
      if (pid !== null) signalService(pid, marker, sig);
      else for (const p of markedProcesses(marker)) signalPid(p, sig);
    };
    const alive = (): boolean => (pid !== null ? serviceAlive(pid, marker) : markedProcesses(marker, { first: true }).length > 0);
    this.c.log.warn(
      `${id}: ${cause ?? 'no buddy answers'} (${why}); stopping ${pid !== null ? `pid ${pid}, its group` : 'the processes'} and what carries its marker from the controller`,
    );
    signal('SIGTERM');
    if (!(await waitUntil(() => !alive(), graceMs))) {
      signal('SIGKILL');
      await waitUntil(() => !alive(), 1000);
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

  /**
   * Buddies that answer in a run directory but serve no configured service (a removed service, or
   * an identity that changed), and buddy rows the database holds open: every living buddy is found.
   */
  async retireStrays(): Promise<void> {
    const { svcRunPath } = this.c.config;
    const known = new Set(this.c.services.all().map((e) => e.runDir));
    let dirs: string[] = [];
    try {
      dirs = readdirSync(svcRunPath).map((d) => join(svcRunPath, d));
    } catch {
      /* no run directories yet */
    }
    for (const dir of dirs.filter((d) => !known.has(d))) {
      const link = await BuddyLink.connect(join(dir, RUN_DIR.socket)).catch(() => null);
      if (link) await this.retireStray(dir, link);
    }
    const attached = new Set(this.c.services.all().map((e) => e.link?.buddyId));
    for (const row of this.c.store.openBuddies()) {
      if (attached.has(row.id)) continue;
      if (!processAlive(row.pid)) this.c.store.endBuddy(row.id, 'gone');
      else this.c.log.warn(`buddy ${row.pid} (instance ${row.instance}) still runs but answers on no run directory's socket`);
    }
  }

  /** Collect a stray buddy's events, then shut it and its service down (its service was removed). */
  private async retireStray(runDir: string, link: BuddyLink): Promise<void> {
    const { store, log } = this.c;
    const uuid = link.hello.status.uuid;
    const id = link.hello.status.service;
    const stored = store.serviceByUuid(uuid);
    if (!stored) {
      store.recordForgotten(uuid, id);
      log.warn(`${runDir}: buddy ${link.pid} serves uuid ${uuid}, which the database never knew; recorded as removed`);
    }
    // On this path only the id of the configuration is read (logs); a forgotten service has no other.
    const config = (stored && storedConfig(stored.config)) ?? ({ id } as ServiceConfig);
    const entry: ServiceEntry = { config, uuid, runDir, desired: 'stopped', link: null, status: null, launching: null, retired: true };
    this.bind(entry, link);
    log.warn(`${config.id}: buddy ${link.pid} serves a removed service (uuid ${uuid}); collecting its events and shutting it down`);
    await this.c.poller.drain([entry]);
    await this.shutdown(entry).catch((err: Error) => log.warn(`${config.id}: ${err.message}`));
    store.markRemoved(uuid);
  }

  private async connectOrLaunch(entry: ServiceEntry, settingsChanged: boolean): Promise<BuddyLink> {
    let link: BuddyLink | null = await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null);
    if (link && link.hello.status.uuid !== entry.uuid) {
      // The service's identity changed (a new UUID): the old one's buddy hands over its events and goes.
      await this.retireStray(entry.runDir, link);
      link = null;
    }
    let found = link !== null;
    if (link) {
      if (settingsChanged) entry.status = await link.call('reconfigure', {});
    } else {
      const since = Date.now() - (this.lastLaunch.get(entry.uuid) ?? 0);
      if (since < RELAUNCH_MIN_MS) await new Promise((r) => setTimeout(r, RELAUNCH_MIN_MS - since));
      this.lastLaunch.set(entry.uuid, Date.now());
      link = (await launchBuddy(entry.runDir, this.program)).link;
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
    store.endOtherBuddies(entry.uuid, link.buddyId, 'gone');
    link.acked = store.lastSeq(link.buddyId);
    takeInJournals(store, entry.runDir, entry.uuid, (m) => this.c.log.info(m));
    link.onNotify = () => this.c.poller.wake(entry);
    link.onDropped = (err) => this.c.log.warn(`${entry.config.id}: dropped a notification from its buddy: ${err.message}`);
    link.onClose = () => void this.onLost(entry, link);
    entry.link = link;
    entry.status = hello.status;
    this.supervised(entry, link);
    this.c.publishStatus(entry);
    // A new buddy's first events (buddy_started, adopted) are collected now, and it is polled at the
    // active pace until it is quiet: a buddy lost before its first poll loses what it held.
    this.c.poller?.hurry(entry);
  }

  /**
   * Bring a buddy's service to the desired state. A buddy found running was already supervising
   * before this controller started: where it disagrees with the database, PreferBuddyStateForStopped
   * and PreferBuddyStateForRunning decide who is right (docs/controller.md has the table).
   */
  private async reconcile(entry: ServiceEntry, link: BuddyLink, found: boolean): Promise<void> {
    const buddyWants = link.hello.status.desired;
    const cfg = entry.config;
    if (found && buddyWants !== entry.desired && (await this.databaseBehind(entry, buddyWants))) {
      this.c.setDesired(entry, buddyWants);
      return;
    }
    if (found && buddyWants !== entry.desired) {
      const trustBuddy = buddyWants === 'stopped' ? cfg.preferBuddyStateForStopped : cfg.preferBuddyStateForRunning;
      if (trustBuddy) {
        this.c.log.info(`${cfg.id}: buddy has it ${buddyWants}; recording that as desired`);
        this.c.setDesired(entry, buddyWants);
        return;
      }
    }
    if (found && buddyWants === entry.desired) return;
    if (entry.desired === 'running') {
      entry.wantsStart = true; // the caller starts it, in dependency and priority order with the others
    } else if (found) {
      void link.call('stop', { controller: true }).catch((err: Error) => this.c.log.warn(`${cfg.id}: stop: ${err.message}`));
    }
  }

  /**
   * Whether the database, not the buddy, is behind: a controller decided `buddyWants` (a user's
   * command, or its own reconciliation) and could not record it (a full disk), and the buddy's
   * `desired` event of it is newer than the database's record; or the database cannot be written now
   * (what it says may be stale, and nothing is undone on its word).
   */
  private async databaseBehind(entry: ServiceEntry, buddyWants: ServiceEntry['desired']): Promise<boolean> {
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
    if (entry.link !== link) return;
    entry.link = null;
    this.c.publishStatus(entry);
    if (this.c.stopping || this.c.shuttingDown || entry.retired) return; // shutdown records the end itself
    if (await waitForExit(link.pid, BUDDY_EXIT_WAIT_MS)) {
      this.c.store.endBuddy(link.buddyId, 'lost');
      this.c.log.warn(`${entry.config.id}: buddy ${link.pid} is gone; starting another`);
    }
    if (this.c.shuttingDown || this.c.stopping || entry.link) return;
    this.reattach(entry);
  }
}

/** A ServiceConfig as stored in the database, or null if it does not look like one. */
export function storedConfig(json: string): ServiceConfig | null {
  try {
    const c = JSON.parse(json) as ServiceConfig;
    return typeof c.id === 'string' && typeof c.startScript === 'string' && typeof c.file === 'string' ? c : null;
  } catch {
    return null;
  }
}

/** Wait until `pid` no longer runs; false if it still does after `ms`. */
export function waitForExit(pid: number, ms: number): Promise<boolean> {
  return waitUntil(() => !processAlive(pid), ms);
}

/** Wait until `done()` (checked every 20 ms); false if it is not after `ms`. */
async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
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
