// The controller: loads the configuration, attaches a buddy to every service, polls them into the
// audit database, and serves clients. Stopping it leaves every buddy and service running.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControllerInfo } from '../schema/client-protocol.js';
import { formatIssue, loadServices } from '../schema/config/index.js';
import type { ConfigIssue, ControllerConfig, ServiceConfig } from '../schema/config/types.js';
import { PROTOCOL_MAX } from '../schema/client-protocol.js';
import { RUN_DIR } from '../schema/run-dir.js';
import { upkeeperVersion } from '../schema/version.js';
import { AuditStore } from './audit-store.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { BuddyLink } from './buddy-link.js';
import { BUNDLED_BUDDY, launchBuddy } from './buddy-launcher.js';
import { BuddyEndpoint } from './buddy-endpoint.js';
import { ClientServer } from './client-server.js';
import { takeInJournals } from './journal-intake.js';
import { makeClientHandlers } from './client-handlers.js';
import { InstanceLock } from './instance-lock.js';
import type { Logger } from './log.js';
import { Poller } from './poller.js';
import { Publisher } from './publisher.js';
import { buddySettings, ensureDir, prepareRunDir, runDirFifos } from './run-dir.js';
import { ensureFifos } from '../system/files.js';
import { ServiceTable, serviceStatus, type ServiceEntry } from './service-table.js';
import { processAlive } from '../system/process-group.js';
import { previousStatus, serviceSurvives } from '../buddy/settings.js';

/** A buddy that keeps dying is started again at most this often. */
const RELAUNCH_MIN_MS = 1000;
/** How long a buddy may take to hand over its last events and exit after its shutdown. */
const SHUTDOWN_DRAIN_MS = 15_000;
/** How long a buddy whose socket closed may take to exit before it is taken for alive. */
const BUDDY_EXIT_WAIT_MS = 1000;

export class Controller {
  readonly services = new ServiceTable();
  readonly startedAt = Date.now();
  configIssues: ConfigIssue[] = [];
  store!: AuditStore;
  poller!: Poller;
  readonly publisher = new Publisher();
  private lock: InstanceLock | null = null;
  private server: ClientServer | null = null;
  private endpoint: BuddyEndpoint | null = null;
  stopping = false;
  /** Set by `upk shutdown`: buddies that exit are not started again. */
  shuttingDown = false;
  private readonly lastLaunch = new Map<string, number>();
  /** Resolves when the controller has stopped. */
  readonly done: Promise<void>;
  private finish!: () => void;
  /** Resolves once every service has its buddy attached (requests about services wait for it). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  get isReady(): boolean {
    return this.readyFlag;
  }
  private readyFlag = false;

  constructor(
    readonly config: ControllerConfig,
    readonly log: Logger,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.ready = new Promise((resolve) => {
      this.markReady = () => {
        this.readyFlag = true;
        resolve();
      };
    });
  }

  get socketPath(): string {
    return join(this.config.stateDir, STATE_DIR.socket);
  }

  get buddyEndpointPath(): string {
    return join(this.config.stateDir, STATE_DIR.buddySocket);
  }

  info(): ControllerInfo {
    return {
      pid: process.pid,
      version: upkeeperVersion(),
      protocol: PROTOCOL_MAX,
      startedAt: new Date(this.startedAt).toISOString(),
      socket: this.socketPath,
      stateDir: this.config.stateDir,
      configFile: this.config.file,
    };
  }

  async start(): Promise<void> {
    ensureDir(this.config.stateDir);
    this.lock = InstanceLock.acquire(this.config.stateDir);
    let changed: Set<ServiceEntry>;
    try {
      ensureDir(this.config.svcRunPath);
      this.store = new AuditStore(join(this.config.stateDir, STATE_DIR.database));
      this.store.onInserted = (events) => this.publisher.events(events);
      this.poller = new Poller(this.services, this.store, this.config.buddyPollingInterval * 1000, (m) => this.log.warn(m));
      this.poller.onStatus = (entry) => this.publishStatus(entry);
      const interrupted = this.store.interruptActions();
      if (interrupted > 0) this.log.warn(`${interrupted} client action(s) of a previous controller never finished; recorded as interrupted`);
      changed = this.loadConfiguration();
      // Answer clients at once; requests about services wait until every buddy is attached.
      this.server = new ClientServer(this.socketPath, makeClientHandlers(this), this.log);
      await this.server.listen();
      this.endpoint = new BuddyEndpoint(this.buddyEndpointPath, this);
      await this.endpoint.listen();
      this.lock.publish(this.info());
    } catch (err) {
      this.server?.close();
      this.endpoint?.close();
      this.lock.release();
      this.lock = null;
      throw err;
    }
    await Promise.all(
      this.services
        .all()
        .filter((e) => !e.retired)
        .map((e) => this.attach(e, changed.has(e)).catch((err: Error) => this.log.error(`${e.config.id}: ${err.message}`))),
    );
    await this.retireStrays();
    // Everything the buddies buffered while no controller ran is in the database before we are ready.
    await this.poller.drain();
    this.poller.start();
    await Promise.all(this.services.all().filter((e) => e.retired).map((e) => this.unconfigure(e)));
    this.markReady();
    this.log.info(`controller ${upkeeperVersion()} serving ${this.services.size} services on ${this.socketPath}`);
  }

  /** Stop the controller alone: commit what the buddies hold, close, release the lock. Buddies run on. */
  async stop(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    this.server?.close();
    this.endpoint?.close();
    if (this.poller) {
      await this.poller.stop();
      await this.poller.drain().catch(() => undefined);
    }
    for (const e of this.services.all()) e.link?.close();
    this.store?.close();
    this.lock?.release();
    this.lock = null;
    this.log.info('controller stopped');
    this.finish();
    return this.done;
  }

  /** The link to the service's buddy if one answers; never starts one. */
  private async reachBuddy(entry: ServiceEntry): Promise<BuddyLink | null> {
    if (entry.link?.open) return entry.link;
    const link = await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null);
    if (link) this.bind(entry, link);
    return link;
  }

  /** Attach the service's buddy again in the background (it reached us by its endpoint). */
  reattach(entry: ServiceEntry): void {
    if (this.stopping || this.shuttingDown || entry.retired) return;
    void this.attach(entry, false).catch((err: Error) => this.log.error(`${entry.config.id}: ${err.message}`));
  }

  /** The link to a service's buddy, attaching one (connect, else start) when there is none. */
  async linkOf(entry: ServiceEntry): Promise<BuddyLink> {
    if (entry.link?.open) return entry.link;
    await this.attach(entry, false);
    return entry.link!;
  }

  // ---- configuration -----------------------------------------------------------------------------

  /** Read the service files, record every service, write its run directory. Returns the entries whose buddy.json changed. */
  private loadConfiguration(): Set<ServiceEntry> {
    const loaded = loadServices(this.config, process.env);
    this.configIssues = loaded.issues;
    for (const issue of loaded.issues) this.log.error(`config: ${formatIssue(issue)}`);
    const changed = new Set<ServiceEntry>();
    const env = serviceEnvironment(this.config);
    const add = (svc: ServiceConfig, uuid: string, desired: ServiceEntry['desired']): ServiceEntry | null => {
      const runDir = join(this.config.svcRunPath, svc.id);
      const entry: ServiceEntry = { config: svc, uuid, runDir, desired, link: null, status: null, launching: null };
      try {
        if (prepareRunDir(runDir, svc, buddySettings(svc, uuid, runDir, env, this.buddyEndpointPath))) changed.add(entry);
      } catch (err) {
        this.log.error(`${svc.id}: cannot prepare ${runDir}: ${(err as Error).message}`);
        return null;
      }
      this.services.set(entry);
      return entry;
    };
    // One transaction for all: each commit is an fsync (synchronous = FULL); 50 of them took ~0.8 s.
    this.store.db.transaction(() => {
      for (const svc of loaded.services) {
        const stored = this.store.upsertService(svc, recordedUuid(join(this.config.svcRunPath, svc.id)));
        add(svc, stored.uuid, stored.desired);
      }
    })();
    // Services the files no longer define (or define with errors) keep their last good configuration,
    // unless UnconfigureOnFileRemoval says to remove them once their file is gone.
    for (const row of this.store.activeServices()) {
      if ([...this.services.all()].some((e) => e.uuid === row.uuid)) continue;
      const last = storedConfig(row.config);
      if (!last || this.services.get(last.id)) continue;
      const broken = loaded.issues.some((i) => i.file === last.file);
      const entry = add(last, row.uuid, row.desired);
      if (!entry) continue;
      if (!broken && last.unconfigureOnFileRemoval) {
        entry.retired = true;
      } else {
        const why = broken ? `${last.file} has errors` : `it is no longer in the configuration files`;
        this.log.warn(`${last.id}: ${why}; it keeps its last good configuration`);
      }
    }
    try {
      ensureFifos(this.services.all().flatMap((e) => runDirFifos(e.runDir)));
    } catch (err) {
      this.log.error(`cannot create the output FIFOs: ${(err as Error).message}`);
    }
    return changed;
  }

  /**
   * Buddies that answer in a run directory but serve no configured service (a removed service, or
   * an identity that changed), and buddy rows the database holds open: every living buddy is found.
   */
  private async retireStrays(): Promise<void> {
    const known = new Set(this.services.all().map((e) => e.runDir));
    let dirs: string[] = [];
    try {
      dirs = readdirSync(this.config.svcRunPath).map((d) => join(this.config.svcRunPath, d));
    } catch {
      /* no run directories yet */
    }
    for (const dir of dirs.filter((d) => !known.has(d))) {
      const link = await BuddyLink.connect(join(dir, RUN_DIR.socket)).catch(() => null);
      if (link) await this.retireStray(dir, link);
    }
    const attached = new Set(this.services.all().map((e) => e.link?.buddyId));
    for (const row of this.store.openBuddies()) {
      if (attached.has(row.id)) continue;
      if (!processAlive(row.pid)) this.store.endBuddy(row.id, 'gone');
      else this.log.warn(`buddy ${row.pid} (instance ${row.instance}) still runs but answers on no run directory's socket`);
    }
  }

  /** Collect a stray buddy's events, then shut it and its service down (its service was removed). */
  private async retireStray(runDir: string, link: BuddyLink): Promise<void> {
    const uuid = link.hello.status.uuid;
    const id = link.hello.status.service;
    if (!this.store.serviceByUuid(uuid)) {
      this.store.recordForgotten(uuid, id);
      this.log.warn(`${runDir}: buddy ${link.pid} serves uuid ${uuid}, which the database never knew; recorded as removed`);
    }
    const stored = this.store.serviceByUuid(uuid);
    // On this path only the id of the configuration is read (logs); a forgotten service has no other.
    const config = (stored && storedConfig(stored.config)) ?? ({ id } as ServiceConfig);
    const entry: ServiceEntry = { config, uuid, runDir, desired: 'stopped', link: null, status: null, launching: null, retired: true };
    this.bind(entry, link);
    this.log.warn(`${config.id}: buddy ${link.pid} serves a removed service (uuid ${uuid}); collecting its events and shutting it down`);
    await this.poller.drain([entry]);
    await this.shutdownBuddy(entry).catch((err: Error) => this.log.warn(`${config.id}: ${err.message}`));
    this.store.markRemoved(uuid);
  }

  /**
   * Remove a service from the controller: stop it and its buddy, and record it as removed. A service
   * still running without a buddy gets one first (it adopts the service), so that it can be stopped.
   */
  private async unconfigure(entry: ServiceEntry): Promise<void> {
    entry.retired = true;
    let link = await this.reachBuddy(entry);
    if (!link && serviceSurvives(previousStatus(join(entry.runDir, RUN_DIR.status), entry.uuid))) {
      link = await launchBuddy(entry.runDir, this.config.upkBuddyPath ?? BUNDLED_BUDDY).then(
        (b) => b.link,
        (err: Error) => (this.log.warn(`${entry.config.id}: ${err.message}`), null),
      );
      if (link) this.bind(entry, link);
    }
    if (link) await this.shutdownBuddy(entry).catch((err: Error) => this.log.warn(`${entry.config.id}: ${err.message}`));
    takeInJournals(this.store, entry.runDir, entry.uuid, (m) => this.log.info(m));
    this.services.delete(entry.config.id);
    this.store.markRemoved(entry.uuid);
    this.log.info(`${entry.config.id}: its file is gone and UnconfigureOnFileRemoval is set: removed`);
  }

  /**
   * Stop a service and its buddy, and wait until the buddy has handed over its last events and
   * exited (it exits once the poller has committed them).
   */
  async shutdownBuddy(entry: ServiceEntry): Promise<{ ok: boolean; message: string }> {
    const link = await this.reachBuddy(entry);
    if (!link) return { ok: true, message: 'no buddy was running' };
    const outcome = await link.call('shutdown', {});
    entry.status = outcome.status;
    if (await waitForExit(link.pid, SHUTDOWN_DRAIN_MS)) this.store.endBuddy(link.buddyId, 'shutdown');
    else this.log.warn(`${entry.config.id}: buddy ${link.pid} did not exit after its shutdown`);
    return outcome;
  }

  // ---- buddies ----------------------------------------------------------------------------------

  /** Connect to the service's living buddy, or start one; then bring the service to its desired state. */
  private attach(entry: ServiceEntry, settingsChanged: boolean): Promise<BuddyLink> {
    entry.launching ??= this.connectOrLaunch(entry, settingsChanged).finally(() => (entry.launching = null));
    return entry.launching;
  }

  private async connectOrLaunch(entry: ServiceEntry, settingsChanged: boolean): Promise<BuddyLink> {
    const socket = join(entry.runDir, RUN_DIR.socket);
    let link: BuddyLink | null = await BuddyLink.connect(socket).catch(() => null);
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
      link = (await launchBuddy(entry.runDir, this.config.upkBuddyPath ?? BUNDLED_BUDDY)).link;
      // A new buddy that adopted a service left running by a lost buddy is reconciled like a found one.
      found = link.hello.status.state !== 'stopped';
    }
    this.bind(entry, link);
    await this.reconcile(entry, link, found);
    return link;
  }

  private bind(entry: ServiceEntry, link: BuddyLink): void {
    const hello = link.hello;
    link.buddyId = this.store.buddyId(hello.instance, entry.uuid, hello.pid, Date.parse(hello.status.buddyStarted));
    this.store.endOtherBuddies(entry.uuid, link.buddyId, 'gone');
    link.acked = this.store.lastSeq(link.buddyId);
    takeInJournals(this.store, entry.runDir, entry.uuid, (m) => this.log.info(m));
    link.onNotify = () => this.poller.wake(entry);
    link.onClose = () => void this.onBuddyLost(entry, link);
    entry.link = link;
    entry.status = hello.status;
    this.publishStatus(entry);
  }

  /**
   * Bring a buddy's service to the desired state. A buddy found running was already supervising
   * before this controller started: where it disagrees with the database, PreferBuddyStateForStopped
   * and PreferBuddyStateForRunning decide who is right (docs/controller.md has the table).
   */
  private async reconcile(entry: ServiceEntry, link: BuddyLink, found: boolean): Promise<void> {
    const buddyWants = link.hello.status.desired;
    const cfg = entry.config;
    if (found && buddyWants !== entry.desired) {
      const trustBuddy = buddyWants === 'stopped' ? cfg.preferBuddyStateForStopped : cfg.preferBuddyStateForRunning;
      if (trustBuddy) {
        this.log.info(`${cfg.id}: buddy has it ${buddyWants}; recording that as desired`);
        this.setDesired(entry, buddyWants);
        return;
      }
    }
    if (found && buddyWants === entry.desired) return;
    if (entry.desired === 'running') {
      void link.call('start', {}).then(
        (o) => {
          if (!o.ok) this.log.warn(`${cfg.id}: start: ${o.message}`);
        },
        (err: Error) => this.log.warn(`${cfg.id}: start: ${err.message}`),
      );
    } else if (found) {
      void link.call('stop', {}).catch((err: Error) => this.log.warn(`${cfg.id}: stop: ${err.message}`));
    }
  }

  setDesired(entry: ServiceEntry, desired: ServiceEntry['desired']): void {
    if (entry.desired === desired) return;
    entry.desired = desired;
    this.store.setDesired(entry.uuid, desired);
    this.publishStatus(entry);
  }

  /** Tell subscribers a service's status, if it changed. */
  publishStatus(entry: ServiceEntry): void {
    if (!entry.retired) this.publisher.status(serviceStatus(entry));
  }

  /**
   * A buddy connection closed. A buddy closes its socket just before it exits, so give its pid a
   * moment to go; then record a dead buddy and start another, or reconnect to a living one.
   */
  private async onBuddyLost(entry: ServiceEntry, link: BuddyLink): Promise<void> {
    if (entry.link !== link) return;
    entry.link = null;
    this.publishStatus(entry);
    if (this.stopping || this.shuttingDown || entry.retired) return; // shutdownBuddy records the end itself
    if (await waitForExit(link.pid, BUDDY_EXIT_WAIT_MS)) {
      this.store.endBuddy(link.buddyId, 'lost');
      this.log.warn(`${entry.config.id}: buddy ${link.pid} is gone; starting another`);
    }
    if (this.shuttingDown || this.stopping || entry.link) return;
    void this.attach(entry, false).catch((err: Error) => this.log.error(`${entry.config.id}: ${err.message}`));
  }
}

/** The uuid a run directory's buddy.json records (what the service was), or null. */
function recordedUuid(runDir: string): string | null {
  try {
    const settings = JSON.parse(readFileSync(join(runDir, RUN_DIR.settings), 'utf8')) as { uuid?: unknown };
    return typeof settings.uuid === 'string' && /^[0-9a-f-]{36}$/.test(settings.uuid) ? settings.uuid : null;
  } catch {
    return null;
  }
}

/** A ServiceConfig as stored in the database, or null if it does not look like one. */
function storedConfig(json: string): ServiceConfig | null {
  try {
    const c = JSON.parse(json) as ServiceConfig;
    return typeof c.id === 'string' && typeof c.startScript === 'string' && typeof c.file === 'string' ? c : null;
  } catch {
    return null;
  }
}

/** Wait until `pid` no longer runs; false if it still does after `ms`. */
export async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** What services inherit from the controller: its environment, and where to find it. */
function serviceEnvironment(config: ControllerConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  if (config.file) env.UPKEEPER_CONFIG = config.file;
  return env;
}
