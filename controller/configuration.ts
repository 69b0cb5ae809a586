// The controller's configuration: read at start, reloaded on request (upk reload-config, SIGHUP):
// everything is checked first, and on any error the last good configuration stays in force.
// Every applied change is recorded in the audit database (config_changes).
import { join } from 'node:path';
import type { ConfigIssue, ControllerConfig, LoadedServices, ServiceConfig } from '../schema/config/types.js';
import { formatIssue, loadControllerConfig, loadServices } from '../schema/config/index.js';
import { groupOf } from '../schema/config/instances.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { ensureFifos } from '../system/files.js';
import type { ConfigChangeRecord as ConfigChange, ReloadResult } from '../schema/client-protocol.js';
import type { AuditStore, StoredService } from './audit-store.js';
import type { Buddies } from './buddies.js';
import type { Logger } from './log.js';
import { changed, controllerChanged, renamedChange } from './config-change-words.js';
import { buddySettings, prepareRunDir, recordedUuid, runDirFifos, serviceEnvironment } from './run-dir.js';
import { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { storedConfig } from '../schema/stored-config.js';

/** What the configuration needs of the controller. */
export interface ConfigurationParts {
  readonly services: ServiceTable;
  readonly store: AuditStore;
  readonly log: Logger;
  readonly buddies: Pick<Buddies, 'attachAll' | 'unconfigure' | 'retireRenamed'>;
  /** Where buddies deliver events themselves (written into each buddy.json). */
  readonly buddyEndpointPath: string;
  /** The controller configuration in force. */
  config(): ControllerConfig;
  /** A reloaded controller configuration takes force (polling interval, retention limits). */
  applyControllerConfig(next: ControllerConfig): void;
  /** Start the services whose start is due, in dependency and priority order. */
  startDue(entries: ServiceEntry[]): Promise<unknown>;
  /** A service gave way to a new identity under its id (subscribers are told). */
  replaced(old: ServiceEntry, successorUuid: string): void;
}

/** What applying the files did (applyFiles). */
interface Applied {
  changes: ConfigChange[];
  settingsChanged: Set<ServiceEntry>;
  added: ServiceEntry[];
  renamed: Renamed;
}

/**
 * What a rename left behind (a fixed UUID under a new id): the entries under the old ids, out of the
 * table, whose buddies hand over and stop before the new ids' buddies attach; and the renames in
 * words, recorded once that is done.
 */
interface Renamed {
  entries: ServiceEntry[];
  changes: ConfigChange[];
}

export class Configuration {
  issues: ConfigIssue[] = [];
  private serial: Promise<unknown> = Promise.resolve();
  /** Services no longer in the files that go because the files define their service with other Instances: why. */
  private readonly removedBecause = new Map<ServiceEntry, string>();
  /** What a rename left under old ids at start, until retireRenamedAtStart. */
  private renamedAtStart: Renamed = { entries: [], changes: [] };

  constructor(private readonly c: ConfigurationParts) {}

  /**
   * At start: read the service files, record every service, write its run directory. Services the
   * files no longer define keep their last good configuration from the database, unless
   * UnconfigureOnFileRemoval says to remove them (they are marked `retired`). Returns the entries
   * whose buddy.json changed. What a rename left under old ids waits for retireRenamedAtStart.
   */
  loadAtStart(): Set<ServiceEntry> {
    const loaded = loadServices(this.c.config(), process.env);
    this.issues = loaded.issues;
    for (const issue of loaded.issues) this.c.log.error(`config: ${formatIssue(issue)}`);
    let applied: Pick<Applied, 'changes' | 'settingsChanged' | 'renamed'>;
    let filesApplied = true;
    try {
      applied = this.applyFiles(loaded);
    } catch (err) {
      // The database (or a run directory) cannot be written, a full disk say: the controller runs
      // on the last good configuration the database has, and the files wait for a reload.
      filesApplied = false;
      for (const e of this.c.services.all()) this.c.services.remove(e);
      const message = `the configuration files could not be applied at start (${(err as Error).message}); the last good configuration stays in force: reload once this is fixed`;
      this.c.log.error(`config: ${message}`);
      this.issues = [...loaded.issues, { file: this.c.config().file ?? '', line: 0, column: 0, key: 'StateDir', message }];
      applied = { changes: [], settingsChanged: new Set(), renamed: { entries: [], changes: [] } };
    }
    const { changes, settingsChanged, renamed } = applied;
    for (const row of this.c.store.activeServices()) {
      if (this.c.services.byUuid(row.uuid)) continue;
      const last = storedConfig(row.config);
      if (!last || this.c.services.get(last.id)) continue;
      const entry = this.add(last, row.uuid, row.desired, settingsChanged);
      if (!entry) continue;
      if (!filesApplied) continue; // kept as it was: nothing to tell
      const broken = loaded.issues.some((i) => i.file === last.file);
      const instances = broken ? undefined : byInstances(last, loaded.services);
      if (!broken && (last.unconfigureOnFileRemoval || instances !== undefined)) {
        entry.retire();
        if (instances !== undefined) this.removedBecause.set(entry, instances);
      } else {
        entry.markMissing();
        const why = broken ? `${last.file} has errors` : 'it is no longer in the configuration files';
        this.c.log.warn(`${last.id}: ${why}; it keeps its last good configuration`);
        changes.push({ service: last.id, uuid: row.uuid, change: 'kept', message: `${why}; kept with its last good configuration` });
      }
    }
    this.makeFifos(this.c.services.all());
    this.c.store.recordChanges(changes, 'start');
    this.renamedAtStart = renamed;
    return settingsChanged;
  }

  /**
   * At start, before any buddy is attached: the buddies a rename left under old ids (renamed while no
   * controller ran) hand over and stop, and the renames are recorded.
   */
  async retireRenamedAtStart(): Promise<void> {
    const renamed = this.renamedAtStart;
    this.renamedAtStart = { entries: [], changes: [] };
    await this.retireRenamed(renamed.entries);
    this.c.store.recordChanges(renamed.changes, 'start');
  }

  /** Check every file; apply all of it, or nothing. One reload at a time. */
  reload(trigger: 'reload' | 'SIGHUP'): Promise<ReloadResult> {
    const next = this.serial.then(() => this.doReload(trigger));
    this.serial = next.catch(() => undefined);
    return next;
  }

  /**
   * `upk remove`: stop and forget services the configuration files no longer define. In turn with the
   * reloads (never during one: a reload may give a removed service's uuid to another id).
   */
  remove(entries: ServiceEntry[]): Promise<ConfigChange[]> {
    const next = this.serial.then(() => this.doRemove(entries));
    this.serial = next.catch(() => undefined);
    return next;
  }

  private async doRemove(entries: ServiceEntry[]): Promise<ConfigChange[]> {
    const defined = entries.filter((e) => e.standing === 'configured'); // (missing, or already being removed)
    if (defined.length > 0) {
      const where = defined.map((e) => `${e.config.id} (${e.config.file})`).join(', ');
      throw new UpkError(ErrorCode.BAD_REQUEST, `still defined in the configuration: ${where}; delete it there and reload first`);
    }
    const changes: ConfigChange[] = [];
    for (const e of entries) {
      await this.c.buddies.unconfigure(e, 'removed by upk remove');
      changes.push({ service: e.config.id, uuid: e.uuid, change: 'removed', message: 'stopped and removed; its history stays' });
    }
    this.c.store.recordChanges(changes, 'remove');
    return changes;
  }

  private async doReload(trigger: 'reload' | 'SIGHUP'): Promise<ReloadResult> {
    const current = this.c.config();
    const read = loadControllerConfig({ config: current.file ?? undefined, env: process.env });
    const issues = [...read.issues];
    const next = read.config;
    if (next) {
      for (const [key, now, then] of [
        ['StateDir', current.stateDir, next.stateDir],
        ['SvcRunPath', current.svcRunPath, next.svcRunPath],
      ] as const) {
        if (now !== then)
          issues.push({
            file: next.file ?? '',
            line: 0,
            column: 0,
            key,
            message: `cannot change while the controller runs (from ${now} to ${then}): restart the controller`,
          });
      }
    }
    const loaded = next && issues.length === 0 ? loadServices(next, process.env) : null;
    if (loaded) issues.push(...loaded.issues);
    if (this.c.store.writeFailure) this.c.store.probe(); // it may have just been fixed
    const unwritable = this.c.store.writeFailure;
    if (next && unwritable && issues.length === 0) {
      // Applying writes the database and the run directories: refused whole rather than half done.
      const message = `cannot apply a configuration while the audit database cannot be written (${unwritable.error}): nothing changed; reload again once it can be`;
      issues.push({ file: next.file ?? '', line: 0, column: 0, key: 'StateDir', message });
    }
    if (!next || !loaded || issues.length > 0) {
      for (const issue of issues) this.c.log.error(`reload: ${formatIssue(issue)}`);
      this.c.log.warn(`reload (${trigger}): ${issues.length} problem(s); the configuration in force is unchanged`);
      this.issues = issues;
      return { ok: false, issues, changes: [] };
    }
    this.c.applyControllerConfig(next);
    const before = new Set(this.c.services.all());
    const { changes, settingsChanged, added, renamed } = this.applyFiles(loaded);
    const own = controllerChanged(current, next);
    if (own) changes.unshift(own);
    this.makeFifos(added);
    const defined = new Set(loaded.services.map((s) => s.id));
    const gone = [...before].filter((x) => !defined.has(x.config.id) && !x.retired);
    // Instances a smaller Instances dropped (or a service that became instances, or instances that
    // became one service again) go whatever UnconfigureOnFileRemoval says: the files still define it.
    for (const e of gone) {
      const instances = byInstances(e.config, loaded.services);
      if (instances !== undefined) this.removedBecause.set(e, instances);
    }
    const removing = gone.filter((e) => e.config.unconfigureOnFileRemoval || this.removedBecause.has(e));
    await this.retireRenamed(renamed.entries);
    changes.push(...renamed.changes, ...(await this.unconfigureRemoved(removing)));
    for (const e of gone.filter((x) => !removing.includes(x))) {
      if (e.markMissing()) {
        changes.push({
          service: e.config.id,
          uuid: e.uuid,
          change: 'kept',
          message: 'no longer in the configuration files: kept with its last configuration until upk remove',
        });
      }
    }
    this.c.store.recordChanges(changes, trigger);
    this.issues = [];
    for (const e of settingsChanged) {
      if (e.link?.open && !added.includes(e)) {
        const status = await e.link.call('reconfigure', {}).catch(() => null);
        if (status) e.observe(status);
      }
    }
    // New services get buddies, and start per InitialState, in dependency and priority order.
    await this.c.buddies.attachAll(added);
    void this.c.startDue(added);
    for (const change of changes) this.c.log.info(`reload (${trigger}): ${change.service}: ${change.change}: ${change.message}`);
    return { ok: true, issues: [], changes };
  }

  /**
   * Stop and remove services no longer in the files whose UnconfigureOnFileRemoval is set, or that
   * Instances dropped; what changed.
   */
  async unconfigureRemoved(entries: ServiceEntry[]): Promise<ConfigChange[]> {
    const why = (e: ServiceEntry): string => this.removedBecause.get(e) ?? 'UnconfigureOnFileRemoval';
    const logged = (e: ServiceEntry): string =>
      this.removedBecause.has(e)
        ? `no longer in the configuration files (${why(e)})`
        : 'no longer in the configuration files, and UnconfigureOnFileRemoval is set';
    await Promise.all(entries.map((e) => this.c.buddies.unconfigure(e, logged(e))));
    const changes = entries.map((e): ConfigChange => ({
      service: e.config.id,
      uuid: e.uuid,
      change: 'removed',
      message: `no longer in the configuration files: stopped and removed (${why(e)})`,
    }));
    for (const e of entries) this.removedBecause.delete(e);
    return changes;
  }

  /**
   * Record the files' services and write their run directories; what changed, in words. `renamed`: the
   * entries a rename left behind (a fixed UUID under a new id), out of the table, whose buddies under
   * their old ids must hand over and stop (retireRenamed) before the new ids' buddies are attached.
   */
  private applyFiles(loaded: LoadedServices): Applied {
    const changes: ConfigChange[] = [];
    const settingsChanged = new Set<ServiceEntry>();
    const added: ServiceEntry[] = [];
    const renamed: Renamed = { entries: [], changes: [] };
    // Each uuid's service before this load: in memory, else (at start) as the database recorded it.
    const before = new Map(this.c.services.all().map((e) => [e.uuid, e]));
    const recorded = new Map(this.c.store.activeServices().map((row) => [row.uuid, row.config]));
    // One transaction for all: each commit would otherwise be a write of its own (slow at 50 services).
    this.c.store.transaction(() => {
      // Fixed UUIDs first: a uuid they take from another id is no longer that id's (upsertService, rule 2).
      const stored = new Map<ServiceConfig, StoredService>();
      for (const svc of [...loaded.services.filter((s) => s.uuid !== null), ...loaded.services.filter((s) => s.uuid === null)]) {
        stored.set(
          svc,
          this.c.store.upsertService(svc, () => recordedUuid(join(this.c.config().svcRunPath, svc.id))),
        );
      }
      const claimed = new Set([...stored.values()].map((s) => s.uuid));
      for (const svc of loaded.services) {
        const { uuid, desired, created, changed: keys } = stored.get(svc)!;
        // In the database, but not configured before this load (removed, or known only by a buddy that outlived the database).
        const revived = !created && !recorded.has(uuid) && !before.has(uuid);
        const previous = before.get(uuid);
        if (previous && previous.config.id === svc.id) {
          const wasMissing = previous.reconfigure(svc);
          if (this.writeRunDir(previous)) settingsChanged.add(previous);
          if (keys.length > 0 || wasMissing) changes.push(changed(previous, keys, wasMissing));
          continue;
        }
        const existing = this.c.services.get(svc.id);
        if (existing && existing.uuid !== uuid && !claimed.has(existing.uuid)) {
          // A new UUID under this id (changed, or another service renamed onto it): the old identity's
          // buddy is retired on attach, and its history says it went.
          existing.retire();
          this.c.services.remove(existing);
          this.c.replaced(existing, uuid);
          changes.push({
            service: existing.config.id,
            uuid: existing.uuid,
            change: 'removed',
            message: `${svc.id} is now the service of UUID ${uuid}: the one it named (UUID ${existing.uuid}) is stopped and removed; its history stays`,
          });
        }
        // Renamed: its buddy and process are under the old id's run directory, and go before the new one starts.
        const from = previous ?? this.recordedUnder(uuid, recorded.get(uuid), svc.id);
        if (from) {
          from.retire();
          this.c.services.remove(from);
          renamed.entries.push(from);
        }
        const entry = this.add(svc, uuid, desired, settingsChanged);
        if (!entry) continue;
        added.push(entry);
        if (created || revived) {
          // Configured again after its removal (its fixed UUID): added again, as its history says.
          const again = revived ? `configured again (UUID ${uuid}); ` : '';
          changes.push({ service: svc.id, uuid, change: 'added', message: `${again}InitialState ${svc.initialState}` });
        } else if (from) {
          renamed.changes.push(renamedChange(entry, from.config.id, keys));
        } else if (keys.length > 0) {
          changes.push(changed(entry, keys, false));
        }
      }
    });
    return { changes, settingsChanged, added, renamed };
  }

  /**
   * The service a uuid was, as the database recorded it before this load, when that was under another
   * id (a rename while no controller ran): an entry for its old run directory, being retired.
   */
  private recordedUnder(uuid: string, config: string | undefined, id: string): ServiceEntry | null {
    const old = config === undefined ? null : storedConfig(config);
    if (!old || old.id === id) return null;
    return ServiceEntry.stray(old, uuid, join(this.c.config().svcRunPath, old.id));
  }

  /**
   * The buddies a rename left under the old ids hand over their events and stop with what they run;
   * the uuid lives on under its new id (nothing is marked removed). Before the new ids' buddies attach:
   * never two buddies for one service.
   */
  async retireRenamed(entries: readonly ServiceEntry[]): Promise<void> {
    // One that fails (the database, say) must not keep the new ids' buddies from attaching: told, and on.
    const settled = await Promise.allSettled(entries.map((e) => this.c.buddies.retireRenamed(e)));
    settled.forEach((r, i) => {
      if (r.status === 'rejected')
        this.c.log.error(`${entries[i]!.config.id}: its buddy under the old id could not be retired: ${(r.reason as Error).message}`);
    });
  }

  private add(svc: ServiceConfig, uuid: string, desired: ServiceEntry['desired'], settingsChanged: Set<ServiceEntry>): ServiceEntry | null {
    const runDir = join(this.c.config().svcRunPath, svc.id);
    const entry = new ServiceEntry(svc, uuid, runDir, desired);
    try {
      if (this.writeRunDir(entry)) settingsChanged.add(entry);
    } catch (err) {
      this.c.log.error(`${svc.id}: cannot prepare ${runDir}: ${(err as Error).message}`);
      return null;
    }
    this.c.services.set(entry);
    return entry;
  }

  /** Write a service's run directory; true when its buddy.json changed. */
  private writeRunDir(e: ServiceEntry): boolean {
    const settings = buddySettings(e.config, e.uuid, e.runDir, serviceEnvironment(this.c.config()), this.c.buddyEndpointPath);
    return prepareRunDir(e.runDir, e.config, settings);
  }

  private makeFifos(entries: ServiceEntry[]): void {
    try {
      ensureFifos(entries.flatMap((e) => runDirFifos(e.runDir)));
    } catch (err) {
      this.c.log.error(`cannot create the output FIFOs: ${(err as Error).message}`);
    }
  }
}

/**
 * When the files still define the service a configuration gone from them belongs to, with other
 * Instances (fewer, none, or Instances where there was one service): why it goes. Else undefined.
 */
function byInstances(gone: ServiceConfig, services: readonly ServiceConfig[]): string | undefined {
  const group = groupOf(gone);
  const now = services.filter((s) => groupOf(s) === group);
  if (now.length === 0) return undefined;
  return now[0]!.instanceOf === undefined ? `${group} is one service again, without Instances` : `${group} has Instances ${now.length} now`;
}
