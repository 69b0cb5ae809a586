// The audit database: services, buddy instances, events (exactly once) and client requests.
import { FleetSource } from './fleet-source.js';
import Database from 'better-sqlite3';
import { chmodSync } from 'node:fs';
import { v4 as uuidv4 } from 'uuid';
import type { ConfigChangeRecord, FailureStory } from '../schema/client-protocol.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { isoTime, USAGE_RECORD, type BuddyEvent, type DesiredState, type ServiceEvent } from '../schema/records.js';
import { ConfigHistory } from './config-history.js';
import { Correlations } from './correlation.js';
import { EventQueries } from './event-queries.js';
import { failureStory, type StorySubject } from './failure-story.js';
import { HookRuns } from './hook-runs.js';
import { migrate } from './migrations.js';
import { RequestQueries } from './request-queries.js';
import { Retention, type RetentionLimits } from './retention.js';
import { RunLedger } from './run-ledger.js';
import { SampleStore } from './sample-store.js';
import { StatusAtQueries } from './status-at-query.js';
import { TimelineQueries } from './timeline-query.js';
import { TrendQueries } from './trend-query.js';
import { isStorageError, WriteHealth, type WriteFailure } from './write-health.js';

export interface StoredService {
  uuid: string;
  desired: DesiredState;
  /** True when this call created the service (it is new to the database). */
  created: boolean;
  /** The configuration keys whose values changed (empty when none, or when created). */
  changed: string[];
}

/** One buddy's events of a poll round. */
export interface EventBatch {
  serviceUuid: string;
  /** The service's id and the buddy's instance, for the events given to subscribers. */
  service: string;
  instance: string;
  buddyId: number;
  events: BuddyEvent[];
}

/** A client request that changes something, as the audit trail records it. */
export interface RequestRecord {
  client: string;
  clientPid: number | null;
  clientUser: string | null;
  /** Who asked, when the client acts for others (`upk serve`: the HTTP peer); null or absent: the client itself. */
  requester?: string | null;
  /** The request's method: start, stop, action, signal, config.reload … */
  request: string;
  serviceUuid: string | null;
  params: unknown;
}

/** The outcome recorded for a client request whose controller stopped before the outcome was known. */
export const INTERRUPTED_OUTCOME = 'interrupted: the controller stopped before the outcome was known';

/** A client request begun while the database could not be written: written when it can be. */
interface PendingRequest {
  record: RequestRecord;
  time: number;
  finish: { time: number; ok: boolean; outcome: string } | null;
  /** Its row, once written. */
  id: number | null;
}

type ServiceRow = { uuid: string; desired: DesiredState; config: string };
type ServiceNameRow = { uuid: string; name: string; package: string | null };

/** The store's statements, prepared once, each with its parameters and the row it reads. */
function statements(db: Database.Database) {
  return {
    activeNamed: db.prepare<[pkg: string, name: string], ServiceRow>(
      `SELECT uuid, desired, config FROM services WHERE coalesce(package, '') = ? AND name = ? AND removed IS NULL`,
    ),
    retire: db.prepare<[removed: number, uuid: string]>('UPDATE services SET removed = ? WHERE uuid = ?'),
    service: db.prepare<[uuid: string], { desired: DesiredState; config: string; removed: number | null }>(
      'SELECT desired, config, removed FROM services WHERE uuid = ?',
    ),
    insertService: db.prepare<
      [
        uuid: string,
        name: string,
        pkg: string | null,
        config: string,
        file: string,
        desired: DesiredState,
        created: number,
        modified: number,
      ]
    >(
      `INSERT INTO services (uuid, name, package, config, config_file, desired, created, modified)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateService: db.prepare<[name: string, pkg: string | null, config: string, file: string, modified: number, uuid: string]>(
      'UPDATE services SET name = ?, package = ?, config = ?, config_file = ?, modified = ?, removed = NULL WHERE uuid = ?',
    ),
    known: db.prepare<[uuid: string]>('SELECT 1 FROM services WHERE uuid = ?'),
    active: db.prepare<[], ServiceRow>('SELECT uuid, desired, config FROM services WHERE removed IS NULL'),
    byUuid: db.prepare<[uuid: string], { config: string; removed: number | null }>('SELECT config, removed FROM services WHERE uuid = ?'),
    forgotten: db.prepare<[uuid: string, name: string, pkg: string | null, created: number, modified: number, removed: number]>(
      `INSERT OR IGNORE INTO services (uuid, name, package, config, desired, created, modified, removed)
       VALUES (?, ?, ?, '{}', 'stopped', ?, ?, ?)`,
    ),
    markRemoved: db.prepare<[removed: number, uuid: string]>('UPDATE services SET removed = ? WHERE uuid = ? AND removed IS NULL'),
    insertChange: db.prepare<
      [
        time: number,
        uuid: string | null,
        service: string,
        change: string,
        trigger: string,
        detail: string,
        config: string | null,
        keys: string,
      ]
    >(`INSERT INTO config_changes (time, service_uuid, service, change, trigger, detail, config, keys, uid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, lower(hex(randomblob(16))))`),
    newerDesired: db.prepare<[uuid: string], { desired: unknown }>(
      `SELECT json_extract(e.detail, '$.desired') AS desired FROM events e JOIN services s ON s.uuid = e.service_uuid
       WHERE e.service_uuid = ? AND e.type = 'desired' AND e.time > s.modified
         AND ((json_extract(e.detail, '$.by') = 'controller' AND json_extract(e.detail, '$.cause') = 'command')
           OR json_extract(e.detail, '$.cause') IN ('unhealthy', 'limit', 'timeout', 'completed'))
       ORDER BY e.time DESC, e.id DESC LIMIT 1`,
    ),
    setDesired: db.prepare<[desired: DesiredState, modified: number, uuid: string]>(
      'UPDATE services SET desired = ?, modified = ? WHERE uuid = ?',
    ),
    named: db.prepare<[name: string], ServiceNameRow>(
      'SELECT uuid, name, package FROM services WHERE name = ? ORDER BY removed IS NOT NULL, coalesce(removed, modified) DESC',
    ),
    namedIn: db.prepare<[pkg: string, name: string], ServiceNameRow>(
      'SELECT uuid, name, package FROM services WHERE package = ? AND name = ? ORDER BY removed IS NOT NULL, coalesce(removed, modified) DESC',
    ),
    buddyId: db.prepare<[instance: string], { id: number }>('SELECT id FROM buddies WHERE instance = ?'),
    insertBuddy: db.prepare<[instance: string, serviceUuid: string, pid: number, started: number, seen: number]>(
      'INSERT INTO buddies (instance, service_uuid, pid, started, seen) VALUES (?, ?, ?, ?, ?)',
    ),
    buddyByInstance: db.prepare<[instance: string], { id: number; serviceUuid: string }>(
      'SELECT id, service_uuid AS serviceUuid FROM buddies WHERE instance = ?',
    ),
    // (max() of several values is NULL when one is: each side defaults to 0.)
    lastSeq: db.prepare<[buddyId: number, buddyId: number], { seq: number | null }>(
      'SELECT max(coalesce((SELECT max(seq) FROM events WHERE buddy_id = ?), 0), coalesce((SELECT max(seq) FROM samples WHERE buddy_id = ?), 0)) AS seq',
    ),
    endOtherBuddies: db.prepare<[ended: number, reason: string, serviceUuid: string, currentId: number]>(
      'UPDATE buddies SET ended = ?, end_reason = ? WHERE service_uuid = ? AND id != ? AND ended IS NULL',
    ),
    openBuddies: db.prepare<[], { id: number; instance: string; serviceUuid: string; pid: number }>(
      'SELECT id, instance, service_uuid AS serviceUuid, pid FROM buddies WHERE ended IS NULL',
    ),
    endBuddy: db.prepare<[ended: number, reason: string, id: number]>(
      'UPDATE buddies SET ended = ?, end_reason = ? WHERE id = ? AND ended IS NULL',
    ),
    insertEvent: db.prepare<
      [
        serviceUuid: string,
        buddyId: number,
        seq: number,
        time: number,
        type: string,
        pid: number | null,
        code: number | null,
        signal: string | null,
        detail: string | null,
      ]
    >(
      `INSERT OR IGNORE INTO events (service_uuid, buddy_id, seq, time, type, pid, code, signal, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    probe: db.prepare<[]>('UPDATE services SET modified = modified WHERE rowid = (SELECT min(rowid) FROM services)'),
    insertRequest: db.prepare<
      [
        time: number,
        client: string,
        clientPid: number | null,
        clientUser: string | null,
        requester: string | null,
        request: string,
        serviceUuid: string | null,
        params: string,
        finished: number | null,
        ok: 0 | 1 | null,
        outcome: string | null,
      ]
    >(
      `INSERT INTO client_requests (time, client, client_pid, client_user, requester, request, service_uuid, params, finished, ok, outcome, uid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, lower(hex(randomblob(16))))`,
    ),
    interruptRequests: db.prepare<[finished: number, outcome: string]>(
      'UPDATE client_requests SET finished = ?, ok = 0, outcome = ? WHERE finished IS NULL',
    ),
    finishRequest: db.prepare<[finished: number, ok: 0 | 1, outcome: string, id: number]>(
      'UPDATE client_requests SET finished = ?, ok = ?, outcome = ? WHERE id = ?',
    ),
  };
}

export class AuditStore {
  /** Private: the database is this class's; others get the reads and writes they need, by name. */
  private readonly db: Database.Database;
  private readonly s: ReturnType<typeof statements>;
  /** Whether the database can be written; bookkeeping kept meanwhile (write-health.ts). */
  readonly health = new WriteHealth();
  private readonly pendingRequests = new Map<number, PendingRequest>();
  private nextPendingId = -1;
  readonly runs: RunLedger;
  readonly trends: TrendQueries;
  /** Events read back: queries, pages, by id. */
  readonly events: EventQueries;
  private readonly samples: SampleStore;
  /** The runs of the OnEvent hooks, and the newest event they were decided for. */
  readonly hookRuns: HookRuns;
  /** The configuration changes applied, each with its values before and after (upk config-history). */
  readonly configHistory: ConfigHistory;
  /** What fails together (upk correlate; the line upk why adds). */
  readonly correlations: Correlations;
  /** The client requests recorded, read back (upk audit). */
  readonly requests: RequestQueries;
  /** The services and their statuses at a past time (status.at), from the events, runs and samples. */
  readonly pastStatus: StatusAtQueries;
  /** Events, configuration changes and client requests between two times (upk timeline). */
  readonly timeline: TimelineQueries;
  /** Since the store was opened: the events stored, and the CPU ms of the usage records stored by service uuid (for metrics). */
  readonly stored = { events: 0, cpuMs: new Map<string, number>() };

  constructor(file: string) {
    this.db = new Database(file, { timeout: 5000 });
    chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    // Bookkeeping (services, buddy rows, client requests) commits without an fsync of its own; event
    // commits are FULL (see insertEvents), and since the WAL is written in order, each of them makes
    // every earlier commit durable too. A crash loses nothing either way; a power failure could lose
    // only bookkeeping written since the last event commit.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    const applied = migrate(this.db);
    this.runs = new RunLedger(this.db);
    this.samples = new SampleStore(this.db);
    this.trends = new TrendQueries(this.db);
    this.events = new EventQueries(this.db);
    this.hookRuns = new HookRuns(this.db);
    this.configHistory = new ConfigHistory(this.db);
    this.correlations = new Correlations(this.db);
    this.requests = new RequestQueries(this.db);
    this.pastStatus = new StatusAtQueries(this.db);
    this.timeline = new TimelineQueries(this.db, this.events);
    // The runs table came with migration 3: a database that had events gets its runs from them.
    if (applied.includes(3)) this.transaction(() => this.runs.rebuild());
    this.s = statements(this.db);
  }

  close(): void {
    this.db.close();
  }

  /** False once closed: a late bookkeeping write (of a request the stop cut short) is then dropped. */
  get open(): boolean {
    return this.db.open;
  }

  /** Run `fn` in one transaction (nested: a savepoint), committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** The pruning of this database by AuditMaxAge and AuditMaxRecords (not started). */
  retention(limits: RetentionLimits, log: (message: string) => void): Retention {
    return new Retention(this.db, limits, log);
  }

  /** What the fleet export reads of this database, and its position (fleet_export). */
  fleetSource(): FleetSource {
    return new FleetSource(this.db);
  }

  /** The story of a service's last failure (upk why). */
  failureStory(who: StorySubject): FailureStory {
    return failureStory(this.db, this.events, who);
  }

  // ---- services --------------------------------------------------------------------------------

  /**
   * Record a configured service. Its uuid is the configured one, else the one it already has, else
   * `fallbackUuid()` (what its run directory says it was: read only then) if the database has never seen
   * that one, else new.
   */
  upsertService(svc: ServiceConfig, fallbackUuid: () => string | null = () => null, now = Date.now()): StoredService {
    const config = JSON.stringify(svc);
    return this.transaction((): StoredService => {
      const active = this.s.activeNamed.get(svc.package ?? '', svc.name);
      const uuid = svc.uuid ?? active?.uuid ?? this.unseenOr(fallbackUuid(), uuidv4);
      if (active && active.uuid !== uuid) {
        // The configured UUID changed: the old identity is retired, its history kept.
        this.s.retire.run(now, active.uuid);
      }
      const existing = this.s.service.get(uuid);
      if (!existing) {
        this.s.insertService.run(uuid, svc.name, svc.package, config, svc.file, svc.initialState, now, now);
        return { uuid, desired: svc.initialState, created: true, changed: [] };
      }
      if (existing.config !== config || existing.removed !== null) {
        this.s.updateService.run(svc.name, svc.package, config, svc.file, now, uuid);
      }
      return { uuid, desired: existing.desired, created: false, changed: changedKeys(existing.config, svc) };
    });
  }

  /** `uuid` when the database has never seen it, else a new one. */
  private unseenOr(uuid: string | null, make: () => string): string {
    return uuid !== null && this.s.known.get(uuid) === undefined ? uuid : make();
  }

  /** Every configured (not removed) service, with its last good configuration. */
  activeServices(): { uuid: string; desired: DesiredState; config: string }[] {
    return this.s.active.all();
  }

  /** A service's row by uuid, configured or removed. */
  serviceByUuid(uuid: string): { config: string; removed: number | null } | undefined {
    return this.s.byUuid.get(uuid);
  }

  /** A service the database never knew (its buddy outlived the database): recorded as removed, so its events can be stored. */
  recordForgotten(uuid: string, id: string, now = Date.now()): void {
    const [pkg, name] = splitId(id);
    this.s.forgotten.run(uuid, name, pkg, now, now, now);
  }

  markRemoved(uuid: string): void {
    const now = Date.now();
    this.keep(() => this.s.markRemoved.run(now, uuid));
  }

  /**
   * Record configuration changes applied, each with the service's configuration as applied (as
   * `services.config` holds it, once upsertService wrote it; none for a removal) and the keys changed.
   */
  recordChanges(changes: ConfigChangeRecord[], trigger: string, now = Date.now()): void {
    this.transaction(() => {
      for (const c of changes) {
        const config = c.uuid !== null && c.change !== 'removed' ? (this.s.byUuid.get(c.uuid)?.config ?? null) : null;
        this.s.insertChange.run(now, c.uuid, c.service, c.change, trigger, c.message, config, JSON.stringify(c.keys ?? []));
      }
    });
  }

  /**
   * The desired state a user set through a controller (a `desired` event of cause `command`, by
   * `controller`; a shutdown's is not one: it leaves the desired states as they are), or the buddy's
   * own stop (cause `unhealthy`, `limit` or `timeout`), after the database last recorded one for the
   * service, or null: a change the database could not store (a full disk) and a controller that
   * stopped meanwhile lost, or one made while no controller ran, which its buddy kept.
   */
  newerDesired(uuid: string): DesiredState | null {
    const desired = this.s.newerDesired.get(uuid)?.desired;
    return desired === 'running' || desired === 'stopped' ? desired : null;
  }

  setDesired(uuid: string, desired: DesiredState): void {
    const now = Date.now();
    this.keep(() => this.s.setDesired.run(desired, now, uuid));
  }

  /**
   * Every service ever recorded (configured or removed) under an id: `package::name` exactly, or a
   * bare name in any package. Returns the ids found with their uuids (a removed service keeps its
   * history under its old uuid): the configured one first, then the most recently removed.
   */
  servicesNamed(id: string): { id: string; uuid: string }[] {
    const [pkg, name] = splitId(id);
    const rows = pkg === null ? this.s.named.all(name) : this.s.namedIn.all(pkg, name);
    return rows.map((r) => ({ id: r.package ? `${r.package}::${r.name}` : r.name, uuid: r.uuid }));
  }

  // ---- buddies ---------------------------------------------------------------------------------

  /** The database id of a buddy instance, recording it on first contact. */
  buddyId(instance: string, serviceUuid: string, pid: number, started: number): number {
    const row = this.s.buddyId.get(instance);
    if (row) return row.id;
    return Number(this.s.insertBuddy.run(instance, serviceUuid, pid, started, Date.now()).lastInsertRowid);
  }

  /** A buddy instance's row, if it was ever recorded. */
  buddyByInstance(instance: string): { id: number; serviceUuid: string } | undefined {
    return this.s.buddyByInstance.get(instance);
  }

  /** Highest sequence number stored for a buddy instance, event or usage record (0 when none). */
  lastSeq(buddyId: number): number {
    return this.s.lastSeq.get(buddyId, buddyId)?.seq ?? 0;
  }

  /** Record every other buddy instance of a service as ended (they died while no controller watched). */
  endOtherBuddies(serviceUuid: string, currentId: number, reason: string): void {
    const now = Date.now();
    this.keep(() => this.s.endOtherBuddies.run(now, reason, serviceUuid, currentId));
  }

  /** Buddy instances not recorded as ended. */
  openBuddies(): { id: number; instance: string; serviceUuid: string; pid: number }[] {
    return this.s.openBuddies.all();
  }

  endBuddy(id: number, reason: string): void {
    const now = Date.now();
    this.keep(() => this.s.endBuddy.run(now, reason, id));
  }

  // ---- events ----------------------------------------------------------------------------------

  /** Called after each commit of events with those that were new (subscribers get them). */
  onInserted: (events: ServiceEvent[]) => void = () => undefined;

  /**
   * Write a poll round's events in one transaction, synced to disk (FULL) before it returns: the
   * buddies are acknowledged only after this, and then forget the events. Returns how many were new.
   */
  insertEvents(batches: EventBatch[]): number {
    this.db.pragma('synchronous = FULL');
    let inserted: ServiceEvent[];
    let usage: { uuid: string; cpuMs: number }[];
    try {
      ({ inserted, usage } = this.writeEvents(batches));
    } catch (err) {
      if (isStorageError(err)) this.health.failed(err);
      throw err;
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
    this.health.succeeded();
    this.stored.events += inserted.length;
    for (const u of usage) this.stored.cpuMs.set(u.uuid, (this.stored.cpuMs.get(u.uuid) ?? 0) + u.cpuMs);
    if (inserted.length > 0) this.onInserted(inserted);
    return inserted.length;
  }

  // ---- when the database cannot be written -----------------------------------------------------

  /** Try a small write (while writes fail, to notice when they work again). */
  probe(): void {
    try {
      this.s.probe.run();
    } catch (err) {
      if (isStorageError(err)) this.health.failed(err);
      return;
    }
    this.health.succeeded();
  }

  /** Null while writes succeed. */
  get writeFailure(): WriteFailure | null {
    return this.health.failure;
  }

  /** A bookkeeping write: now, or (while writes fail) when the database can be written again. */
  private keep(write: () => void, onShed?: () => void): void {
    if (this.db.open) this.health.keep(write, onShed);
  }

  /** The new events, and the CPU time of the new usage records, once committed. */
  private writeEvents(batches: EventBatch[]): { inserted: ServiceEvent[]; usage: { uuid: string; cpuMs: number }[] } {
    return this.transaction(() => {
      const inserted: ServiceEvent[] = [];
      const usage: { uuid: string; cpuMs: number }[] = [];
      for (const b of batches) {
        for (const e of b.events) {
          if (e.type === USAGE_RECORD) {
            const cpuMs = this.samples.add(b.serviceUuid, b.buddyId, e.seq, e.detail);
            if (cpuMs !== null) usage.push({ uuid: b.serviceUuid, cpuMs });
            continue;
          }
          const detail = e.detail ? JSON.stringify(e.detail) : null;
          const r = this.s.insertEvent.run(
            b.serviceUuid,
            b.buddyId,
            e.seq,
            e.time,
            e.type,
            e.pid ?? null,
            e.code ?? null,
            e.signal ?? null,
            detail,
          );
          if (r.changes === 0) continue; // stored before: exactly once
          const id = Number(r.lastInsertRowid);
          this.runs.apply(b.serviceUuid, b.buddyId, id, e);
          inserted.push({
            id,
            service: b.service,
            uuid: b.serviceUuid,
            buddy: b.instance,
            seq: e.seq,
            time: isoTime(e.time),
            type: e.type,
            pid: e.pid ?? null,
            code: e.code ?? null,
            signal: e.signal ?? null,
            detail: e.detail ?? null,
          });
        }
      }
      return { inserted, usage };
    });
  }

  /** When each service was first recorded (ms), by uuid. */
  createdTimes(uuids: string[]): Map<string, number> {
    const rows = this.db
      .prepare<string[], { uuid: string; created: number }>(
        `SELECT uuid, created FROM services WHERE uuid IN (${uuids.map(() => '?').join(',') || 'NULL'})`,
      )
      .all(...uuids);
    return new Map(rows.map((r) => [r.uuid, r.created]));
  }

  // ---- client requests -------------------------------------------------------------------------

  /**
   * Record a client request as begun; returns its id for finishRequest. While the database cannot be
   * written the request is kept in memory (a negative id) and written, with its outcome, when it can.
   */
  beginRequest(r: RequestRecord, now = Date.now()): number {
    if (this.writeFailure === null) {
      try {
        return this.insertRequest(r, now, null);
      } catch (err) {
        if (!isStorageError(err)) throw err;
        this.health.failed(err);
      }
    }
    const id = this.nextPendingId--;
    const pending: PendingRequest = { record: r, time: now, finish: null, id: null };
    this.pendingRequests.set(id, pending);
    this.keep(
      () => {
        pending.id = this.insertRequest(r, now, pending.finish);
        if (pending.finish) this.pendingRequests.delete(id);
      },
      () => this.pendingRequests.delete(id), // shed: its outcome is not kept either
    );
    return id;
  }

  private insertRequest(r: RequestRecord, time: number, finish: PendingRequest['finish']): number {
    const info = this.s.insertRequest.run(
      time,
      r.client,
      r.clientPid,
      r.clientUser,
      r.requester ?? null,
      r.request,
      r.serviceUuid,
      JSON.stringify(r.params ?? null),
      finish?.time ?? null,
      finish ? (finish.ok ? 1 : 0) : null,
      finish?.outcome ?? null,
    );
    return Number(info.lastInsertRowid);
  }

  /** Client requests a controller began but never finished (it died): their outcome is unknown. */
  interruptRequests(): number {
    return this.s.interruptRequests.run(Date.now(), INTERRUPTED_OUTCOME).changes;
  }

  finishRequest(id: number, ok: boolean, outcome: string): void {
    const now = Date.now();
    let row = id;
    if (id < 0) {
      const pending = this.pendingRequests.get(id);
      if (!pending) return;
      if (pending.id === null) {
        pending.finish = { time: now, ok, outcome }; // written with the row
        return;
      }
      this.pendingRequests.delete(id);
      row = pending.id;
    }
    this.keep(() => this.s.finishRequest.run(now, ok ? 1 : 0, outcome, row));
  }
}

/** `package::name` → [package, name]; a bare name has no package. */
function splitId(id: string): [pkg: string | null, name: string] {
  if (!id.includes('::')) return [null, id];
  const [pkg = '', name = ''] = id.split('::', 2);
  return [pkg, name];
}

/** Keys of a stored configuration whose values differ in `svc` (where it was written does not count). */
function changedKeys(storedJson: string, svc: ServiceConfig): string[] {
  let before: Record<string, unknown>;
  try {
    before = JSON.parse(storedJson) as Record<string, unknown>;
  } catch {
    return ['(unreadable stored configuration)'];
  }
  const after = svc as unknown as Record<string, unknown>;
  return Object.keys(after).filter((k) => k !== 'file' && k !== 'line' && JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
