// The controller: loads the configuration, attaches a buddy to every service, polls them into the
// audit database, and serves clients. Stopping it leaves every buddy and service running.
//
// This class only assembles the parts and runs the start and stop sequences: each part gets the
// narrow interface it uses (its `…Parts`), never the controller itself.
import { join } from 'node:path';
import {
  PROTOCOL_MAX,
  type ControllerInfo,
  type ControllerStats,
  type ControllerStatus,
  type ReloadResult,
} from '../schema/client-protocol.js';
import type { ControllerConfig } from '../schema/config/types.js';
import type { DesiredState } from '../schema/records.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { upkeeperVersion } from '../schema/version.js';
import { AuditStore } from './audit-store.js';
import { BuddyEndpoint } from './buddy-endpoint.js';
import { launchBuddy, shippedBuddy } from './buddy-launcher.js';
import { Buddies } from './buddies.js';
import { ClientServer } from './client-server.js';
import { makeClientHandlers } from './client-handlers.js';
import { Configuration } from './configuration.js';
import { InstanceLock } from './instance-lock.js';
import { Lifecycle } from './lifecycle.js';
import type { Logger } from './log.js';
import { Poller } from './poller.js';
import { Publisher } from './publisher.js';
import { ensureDir } from './run-dir.js';
import { EventHooks } from './event-hooks.js';
import { serviceStatus, type ServiceEntry } from './service-entry.js';
import { ServiceControl } from './service-control.js';
import { ServiceTable } from './service-table.js';
import { retentionLimits, type Retention } from './retention.js';
import { Problems } from './problems.js';
import { REAL_CLOCK } from '../system/clock.js';
import { hostname } from 'node:os';
import { describeFleetDatabase } from '../schema/config/fleet-database.js';
import { FleetExport } from './fleet-export.js';
import { FleetSink } from './fleet-sink.js';

/** The parts that exist once the audit database is open. */
interface Parts {
  store: AuditStore;
  poller: Poller;
  buddies: Buddies;
  configuration: Configuration;
  control: ServiceControl;
  hooks: EventHooks;
}

export class Controller {
  private readonly services = new ServiceTable();
  private readonly startedAt = Date.now();
  private readonly lifecycle = new Lifecycle();
  /** What is wrong with the controller (main.ts adds a log that cannot be written). */
  readonly problems = new Problems();
  private readonly publisher = new Publisher((sub, afterId, limit) =>
    this.open().store.events.query(
      { afterId, limit, ...sub.match, ...(sub.types ? { types: [...sub.types] } : {}) },
      sub.uuids ? [...sub.uuids] : null,
    ),
  );
  /** Resolves when the controller has stopped. */
  readonly done: Promise<void>;
  /** Resolves once every buddy is attached and drained (requests about services wait for it). */
  readonly ready: Promise<void>;
  private parts: Parts | null = null;
  private retention: Retention | null = null;
  /** The export to FleetDatabase, while one is configured. */
  private fleet: FleetExport | null = null;
  /** Export stops and starts in this order (a reload that changes FleetDatabase). */
  private fleetChange: Promise<void> = Promise.resolve();
  /** The FleetDatabase and host the export runs for (null: none). */
  private fleetWanted: string | null = null;
  private readyFlag = false;
  private markReady!: () => void;
  private finish!: () => void;
  private lock: InstanceLock | null = null;
  private server: ClientServer | null = null;
  private endpoint: BuddyEndpoint | null = null;

  constructor(
    /** The configuration in force (a successful reload replaces it). */
    private config: ControllerConfig,
    private readonly log: Logger,
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

  private get socketPath(): string {
    return join(this.config.stateDir, STATE_DIR.socket);
  }

  private get buddyEndpointPath(): string {
    return join(this.config.stateDir, STATE_DIR.buddySocket);
  }

  private info(): ControllerInfo {
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
    let parts: Parts;
    try {
      ensureDir(this.config.svcRunPath);
      parts = this.assemble(new AuditStore(join(this.config.stateDir, STATE_DIR.database)));
      // Before any event is stored: the hook runs a previous controller left, and the events it did not decide.
      parts.hooks.resume();
      const interrupted = parts.store.interruptRequests();
      if (interrupted > 0)
        this.log.warn(`${interrupted} client request(s) of a previous controller never finished; recorded as interrupted`);
      settingsChanged = parts.configuration.loadAtStart();
      // Answer clients at once; requests about services wait until every buddy is attached.
      this.server = new ClientServer(this.socketPath, makeClientHandlers(this.clientParts(parts)), this.log);
      await this.server.listen();
      this.endpoint = new BuddyEndpoint(this.buddyEndpointPath, {
        services: this.services,
        store: parts.store,
        log: this.log,
        reattach: (entry) => parts.buddies.reattach(entry),
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
    const { store, poller, buddies, configuration, control } = parts;
    // A service renamed while no controller ran: its buddy under the old id goes before the new one comes.
    await configuration.retireRenamedAtStart();
    const live = this.services.all().filter((e) => !e.retired);
    await buddies.attachAll(live, settingsChanged);
    await buddies.retireStrays();
    // Everything the buddies buffered while no controller ran is in the database before we are ready.
    await poller.drain();
    poller.start();
    store.recordChanges(await configuration.unconfigureRemoved(this.services.all().filter((e) => e.retired)), 'start');
    this.markReady();
    this.retention = store.retention(retentionLimits(this.config), (m) => this.log.info(m));
    this.retention.start();
    this.configureFleet(store);
    this.log.info(`controller ${upkeeperVersion()} serving ${this.services.size} services on ${this.socketPath}`);
    // What should run and does not starts now, prerequisites first, higher StartPriority first.
    void control.startDue(live);
  }

  /** `SIGHUP`: reload the configuration once every buddy is attached. */
  async reloadConfiguration(): Promise<ReloadResult> {
    await this.ready;
    return this.open().configuration.reload('SIGHUP');
  }

  /** Stop the controller alone: commit what the buddies hold, close, release the lock. Buddies run on. */
  async stop(): Promise<void> {
    if (!this.lifecycle.beginStop()) return this.done;
    const parts = this.parts;
    parts?.buddies.stop();
    this.publisher.closing(this.lifecycle.closingReason);
    this.server?.close();
    this.endpoint?.close();
    if (parts) {
      const hooksStopped = parts.hooks.stop(); // no new hook run; those running get a few seconds meanwhile
      await parts.poller.stop();
      await parts.poller.drain().catch(() => undefined);
      await hooksStopped;
    }
    for (const e of this.services.all()) e.link?.close();
    await this.retention?.stop();
    this.fleetChange = this.fleetChange.then(() => this.fleet?.stop());
    await this.fleetChange;
    this.fleet = null;
    await new Promise((r) => setImmediate(r)); // requests cut short by the closed links settle first
    if (parts) {
      const { store } = parts;
      try {
        const interrupted = store.interruptRequests();
        if (interrupted > 0) this.log.info(`${interrupted} client request(s) still in progress recorded as interrupted`);
      } catch (err) {
        this.log.warn(`cannot record the client requests in progress as interrupted: ${(err as Error).message}`);
      }
      if (store.writeFailure) store.probe(); // a last try to write what was kept
      const unwritten = store.health.unwritten;
      if (unwritten > 0) {
        this.log.error(
          `${unwritten} bookkeeping write(s) are lost: the audit database could not be written (${store.writeFailure?.error ?? 'unknown'}) ` +
            `since ${new Date(store.writeFailure?.since ?? Date.now()).toISOString()}, and the controller stops: client requests and desired states ` +
            `of that time are not recorded (the buddies keep every event, and each keeps its service's desired state)`,
        );
      }
      store.close();
    }
    this.lock?.release();
    this.lock = null;
    this.log.info('controller stopped');
    this.finish();
    return this.done;
  }

  /**
   * Start the export to FleetDatabase, or stop it, or start it anew, as the configuration now says.
   * The export runs beside the controller's work: nothing here waits for PostgreSQL.
   */
  private configureFleet(store: AuditStore): void {
    const { fleetDatabase: url, fleetHost } = this.config;
    const host = fleetHost ?? hostname();
    const wanted = url === null ? null : `${url}\n${host}`;
    if (wanted === this.fleetWanted || this.lifecycle.stopping) return;
    this.fleetWanted = wanted;
    const before = this.fleet;
    // The new export is in `controller status` at once; it starts once the old one stopped (a second or
    // two at most: FleetExport.stop), so that two never export the same rows at once.
    const next =
      url === null
        ? null
        : new FleetExport({
            source: store.fleetSource(),
            target: new FleetSink(url),
            host,
            where: describeFleetDatabase(url),
            url,
            log: this.log,
            problem: (message) => {
              if (this.fleet !== next) return; // an export replaced by a reload reports nothing more
              if (message === null) this.problems.clear('fleet');
              else this.problems.set('fleet', message);
            },
          });
    this.fleet = next;
    this.problems.clear('fleet');
    this.fleetChange = this.fleetChange
      .then(async () => {
        await before?.stop();
        if (next !== null && this.fleet === next && this.fleetWanted === wanted && !this.lifecycle.stopping) next.start();
      })
      .catch((err: unknown) => this.log.warn(`fleet export: ${(err as Error).message}`));
  }

  /** The parts, once the audit database is open. */
  private open(): Parts {
    if (!this.parts) throw new Error('the controller has not started');
    return this.parts;
  }

  /** Build the parts around the open audit database, each with the narrow interface it uses. */
  private assemble(store: AuditStore): Parts {
    const { services, log, lifecycle } = this;
    const clock = REAL_CLOCK;
    const hooks = new EventHooks(
      { runs: store.hookRuns, events: store.events, log, clock, cwd: () => this.config.stateDir },
      this.config.onEvent,
    );
    store.onInserted = (events) => {
      this.publisher.events(events);
      this.retention?.added(events.length);
      hooks.dispatch(events);
    };
    store.health.onDropped = (err) => log.error(`a write to the audit database failed and was dropped: ${(err as Error).message}`);
    const poller = new Poller(services, store, this.config.buddyPollingInterval * 1000, clock);
    store.health.onChange = (failure, lost) => {
      this.problems.database(failure, lost, log);
      poller.poke(); // while writes fail, the poller's clock probes the database every interval
    };
    const refusedLogged = new Set<string>();
    poller.onRefused = (batch, err) => {
      const line = `${batch.service}: the audit database refuses events of buddy ${batch.instance} (they stay in the buddy): ${(err as Error).message}`;
      if (refusedLogged.size > 1000) refusedLogged.clear();
      if (!refusedLogged.has(line)) log.error(line);
      refusedLogged.add(line);
    };
    poller.onStatus = (entry) => this.publishStatus(entry);
    poller.watched = (entry) => this.publisher.watches(entry.uuid);
    this.publisher.onAdded = () => poller.refresh();
    poller.onBuddyDesired = (entry, desired) => this.setDesired(store, entry, desired);
    const setDesired = (entry: ServiceEntry, desired: DesiredState): void => this.setDesired(store, entry, desired);
    const publishStatus = (entry: ServiceEntry): void => this.publishStatus(entry);
    const buddyProgram = this.config.upkBuddyPath ?? shippedBuddy();
    const buddies: Buddies = new Buddies({
      services,
      store,
      poller,
      lifecycle,
      log,
      clock,
      launch: async (runDir) => (await launchBuddy(runDir, buddyProgram)).link,
      svcRunPath: () => this.config.svcRunPath,
      setDesired,
      publishStatus,
      unsupervisedChanged: () => this.problems.unsupervised(buddies.unsupervised),
      start: (entry) => control.start(entry),
      removed: (entry) => this.publisher.removed(entry.config.id, entry.uuid),
    });
    const control: ServiceControl = new ServiceControl({
      services,
      attach: (entry) => buddies.linkOf(entry),
      command: (entry, command, options = {}) =>
        buddies.call(entry, command, {
          controller: true,
          ...(options.resume === true ? { resume: true } : {}),
          ...(options.overlap === true ? { overlap: true } : {}),
        }),
      reload: (entry) => buddies.call(entry, 'reload', {}),
      setDesired,
      publishStatus,
      collect: (entries, maxWaitMs) => poller.collect(entries, maxWaitMs),
      clock,
      log,
    });
    const configuration = new Configuration({
      services,
      store,
      log,
      buddies,
      buddyEndpointPath: this.buddyEndpointPath,
      config: () => this.config,
      applyControllerConfig: (next) => {
        this.config = next;
        poller.setInterval(next.buddyPollingInterval * 1000);
        this.retention?.setLimits(retentionLimits(next));
        hooks.configure(next.onEvent);
        if (this.readyFlag) this.configureFleet(store);
      },
      startDue: (entries) => control.startDue(entries),
      replaced: (old, successor) => this.publisher.removed(old.config.id, old.uuid, successor),
    });
    this.parts = { store, poller, buddies, configuration, control, hooks };
    return this.parts;
  }

  /** What the client requests need (client-handlers.ts). */
  private clientParts(parts: Parts): Parameters<typeof makeClientHandlers>[0] {
    const { store, poller, buddies, configuration, control } = parts;
    return {
      services: this.services,
      store,
      lifecycle: this.lifecycle,
      buddies,
      configuration,
      control,
      publisher: this.publisher,
      problems: this.problems,
      ready: this.ready,
      collect: (entries?: ServiceEntry[], maxWaitMs?: number) => poller.collect(entries, maxWaitMs),
      info: () => this.info(),
      status: () => this.status(),
      stop: () => void this.stop(),
    };
  }

  /** The controller's status (`upk controller status`). */
  private status(): ControllerStatus {
    return {
      ...this.info(),
      ready: this.readyFlag,
      uptimeMs: Date.now() - this.startedAt,
      services: this.services.size,
      buddies: this.services.all().filter((e) => e.link?.open).length,
      clients: this.server?.connectionCount ?? 0,
      maxClients: this.server?.maxConnections ?? 0,
      configIssues: this.open().configuration.issues,
      problems: this.problems.list(),
      stats: this.stats(),
      fleet: this.fleet?.status() ?? null,
    };
  }

  /** The supervision's counters since the start, as the poller and the store counted them. */
  private stats(): ControllerStats {
    const { store, poller } = this.open();
    const p = poller.stats;
    return {
      eventsStored: store.stored.events,
      pollRounds: p.rounds,
      pollSeconds: p.seconds,
      pollBuckets: p.buckets(),
      buddyPolls: p.polls,
      eventsPending: poller.pending(),
      cpuMs: Object.fromEntries(store.stored.cpuMs),
    };
  }

  /** Record a service's new desired state, and tell subscribers. */
  private setDesired(store: AuditStore, entry: ServiceEntry, desired: DesiredState): void {
    if (!entry.setDesired(desired)) return;
    store.setDesired(entry.uuid, desired);
    this.publishStatus(entry);
  }

  /** Tell subscribers a service's status, if it changed. */
  private publishStatus(entry: ServiceEntry): void {
    if (!entry.retired && this.publisher.listening) this.publisher.status(serviceStatus(entry));
  }
}
