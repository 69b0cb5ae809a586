// The controller: loads the configuration, attaches a buddy to every service, polls them into the
// audit database, and serves clients. Stopping it leaves every buddy and service running.
import { join } from 'node:path';
import { PROTOCOL_MAX, type ControllerInfo } from '../schema/client-protocol.js';
import type { ControllerConfig } from '../schema/config/types.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { upkeeperVersion } from '../schema/version.js';
import { AuditStore } from './audit-store.js';
import { BuddyEndpoint } from './buddy-endpoint.js';
import { Buddies } from './buddies.js';
import { ClientServer } from './client-server.js';
import { makeClientHandlers } from './client-handlers.js';
import { Configuration } from './configuration.js';
import { InstanceLock } from './instance-lock.js';
import type { Logger } from './log.js';
import { Poller } from './poller.js';
import { Publisher } from './publisher.js';
import { ensureDir } from './run-dir.js';
import { ServiceTable, serviceStatus, type ServiceEntry } from './service-table.js';
import { Starter } from './starter.js';
import { retentionLimits, type Retention } from './retention.js';
import { Problems } from './problems.js';
import type { WriteFailure } from './write-health.js';

export class Controller {
  readonly services = new ServiceTable();
  readonly startedAt = Date.now();
  readonly publisher = new Publisher((sub, afterId, limit) =>
    this.store.queryEvents(
      { afterId, limit, ...sub.match, ...(sub.types ? { types: [...sub.types] } : {}) },
      sub.uuids ? [...sub.uuids] : null,
    ),
  );
  readonly buddies = new Buddies(this);
  readonly configuration = new Configuration(this);
  readonly starter = new Starter(this);
  readonly problems = new Problems();
  store!: AuditStore;
  poller!: Poller;
  retention: Retention | null = null;
  stopping = false;
  /** Set by `upk shutdown`: buddies that exit are not started again. */
  shuttingDown = false;
  /** Resolves when the controller has stopped. */
  readonly done: Promise<void>;
  /** Resolves once every buddy is attached and drained (requests about services wait for it). */
  readonly ready: Promise<void>;
  private readyFlag = false;
  private markReady!: () => void;
  private finish!: () => void;
  private lock: InstanceLock | null = null;
  private server: ClientServer | null = null;
  private endpoint: BuddyEndpoint | null = null;

  constructor(
    /** The configuration in force (a successful reload replaces it). */
    public config: ControllerConfig,
    readonly log: Logger,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.problems.onChange = (list) => this.publisher.problems(list);
    this.publisher.onEnded = (sub, reason) =>
      this.log.warn(`client ${sub.who}: subscription ${sub.id} ended after event ${sub.lastId ?? 0}: ${reason}`);
    this.ready = new Promise((resolve) => {
      this.markReady = () => {
        this.readyFlag = true;
        resolve();
      };
    });
  }

  get isReady(): boolean {
    return this.readyFlag;
  }

  get socketPath(): string {
    return join(this.config.stateDir, STATE_DIR.socket);
  }

  /** Client connections open now, and the most served at once. */
  get clientConnections(): number {
    return this.server?.connectionCount ?? 0;
  }

  get maxClientConnections(): number {
    return this.server?.maxConnections ?? 0;
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
    let settingsChanged: Set<ServiceEntry>;
    try {
      ensureDir(this.config.svcRunPath);
      this.store = new AuditStore(join(this.config.stateDir, STATE_DIR.database));
      this.store.onInserted = (events) => {
        this.publisher.events(events);
        this.retention?.added(events.length);
      };
      this.store.health.onChange = (failure, lost) => this.storeHealth(failure, lost);
      this.store.health.onDropped = (err) =>
        this.log.error(`a write to the audit database failed and was dropped: ${(err as Error).message}`);
      this.poller = new Poller(this.services, this.store, this.config.buddyPollingInterval * 1000);
      const refusedLogged = new Set<string>();
      this.poller.onRefused = (batch, err) => {
        const line = `${batch.service}: the audit database refuses events of buddy ${batch.instance} (they stay in the buddy): ${(err as Error).message}`;
        if (refusedLogged.size > 1000) refusedLogged.clear();
        if (!refusedLogged.has(line)) this.log.error(line);
        refusedLogged.add(line);
      };
      this.poller.onStatus = (entry) => this.publishStatus(entry);
      const interrupted = this.store.interruptActions();
      if (interrupted > 0)
        this.log.warn(`${interrupted} client action(s) of a previous controller never finished; recorded as interrupted`);
      settingsChanged = this.configuration.loadAtStart();
      // Answer clients at once; requests about services wait until every buddy is attached.
      this.server = new ClientServer(this.socketPath, makeClientHandlers(this), this.log);
      await this.server.listen();
      this.endpoint = new BuddyEndpoint(this.buddyEndpointPath, {
        services: this.services,
        store: this.store,
        log: this.log,
        reattach: (entry) => this.buddies.reattach(entry),
      });
      await this.endpoint.listen();
      try {
        this.lock.publish(this.info());
      } catch (err) {
        // Only tells who holds the lock (a second controller names it): never worth not starting for.
        this.log.warn(`cannot write ${STATE_DIR.info}: ${(err as Error).message}`);
      }
    } catch (err) {
      this.server?.close();
      this.endpoint?.close();
      this.lock.release();
      this.lock = null;
      throw err;
    }
    const live = this.services.all().filter((e) => !e.retired);
    await Promise.all(live.map((e) => this.buddies.attach(e, settingsChanged.has(e)).catch((err: Error) => this.buddies.reattach(e, err))));
    await this.buddies.retireStrays();
    // Everything the buddies buffered while no controller ran is in the database before we are ready.
    await this.poller.drain();
    this.poller.start();
    this.store.recordChanges(await this.configuration.unconfigureRemoved(this.services.all().filter((e) => e.retired)), 'start');
    this.markReady();
    this.retention = this.store.retention(retentionLimits(this.config), (m) => this.log.info(m));
    this.retention.start();
    this.log.info(`controller ${upkeeperVersion()} serving ${this.services.size} services on ${this.socketPath}`);
    // What should run and does not starts now, prerequisites first, higher StartPriority first.
    void this.starter.startMany(
      live.filter((e) => e.wantsStart),
      (e) => this.starter.start(e),
    );
  }

  /** Stop the controller alone: commit what the buddies hold, close, release the lock. Buddies run on. */
  async stop(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    this.buddies.stop();
    this.publisher.closing(this.shuttingDown ? 'shutdown' : 'stop');
    this.server?.close();
    this.endpoint?.close();
    if (this.poller) {
      await this.poller.stop();
      await this.poller.drain().catch(() => undefined);
    }
    for (const e of this.services.all()) e.link?.close();
    await this.retention?.stop();
    await new Promise((r) => setImmediate(r)); // requests cut short by the closed links settle first
    if (this.store) {
      try {
        const interrupted = this.store.interruptActions();
        if (interrupted > 0) this.log.info(`${interrupted} client action(s) still in progress recorded as interrupted`);
      } catch (err) {
        this.log.warn(`cannot record the client actions in progress as interrupted: ${(err as Error).message}`);
      }
      if (this.store.writeFailure) this.store.probe(); // a last try to write what was kept
      const unwritten = this.store.health.unwritten;
      if (unwritten > 0) {
        this.log.error(
          `${unwritten} bookkeeping write(s) are lost: the audit database could not be written (${this.store.writeFailure?.error ?? 'unknown'}) ` +
            `since ${new Date(this.store.writeFailure?.since ?? Date.now()).toISOString()}, and the controller stops: client actions and desired states ` +
            `of that time are not recorded (the buddies keep every event, and each keeps its service's desired state)`,
        );
      }
      this.store.close();
    }
    this.lock?.release();
    this.lock = null;
    this.log.info('controller stopped');
    this.finish();
    return this.done;
  }

  setDesired(entry: ServiceEntry, desired: ServiceEntry['desired']): void {
    if (entry.desired === desired) return;
    entry.desired = desired;
    this.store.setDesired(entry.uuid, desired);
    this.publishStatus(entry);
  }

  /** The audit database can no longer be written, or can be again: log it once, and show it. */
  private storeHealth(failure: WriteFailure | null, lost: number): void {
    if (failure) {
      this.log.error(
        `cannot write the audit database: ${failure.error}; events wait in the buddies and are written when it can be (tried again every 0.5 s, doubling up to 10 s)`,
      );
      this.problems.set('database', `cannot write the audit database: ${failure.error}; events wait in the buddies`, failure.since);
    } else {
      this.log.info(`the audit database can be written again${lost > 0 ? `; ${lost} bookkeeping write(s) kept meanwhile were lost` : ''}`);
      this.problems.clear('database');
    }
  }

  /** Services without a buddy changed: show it (each failure is logged by Buddies). */
  noteUnsupervised(): void {
    const list = this.buddies.unsupervised;
    if (list.length === 0) return this.problems.clear('unsupervised');
    const since = Math.min(...list.map((e) => Date.parse(e.unsupervised!.since)));
    const names = list.map((e) => e.config.id);
    const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    this.problems.set('unsupervised', `${names.length} service(s) without a buddy (none could be started): ${shown}`, since);
  }

  /** Tell subscribers a service's status, if it changed. */
  publishStatus(entry: ServiceEntry): void {
    if (!entry.retired && this.publisher.listening) this.publisher.status(serviceStatus(entry));
  }
}
