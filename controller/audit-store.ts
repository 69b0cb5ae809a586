// The audit database: services, buddy instances, events (exactly once) and client requests.
import Database from 'better-sqlite3';
import { chmodSync } from 'node:fs';
import { v4 as uuidv4 } from 'uuid';
import type { ConfigChangeRecord, EventQuery } from '../schema/client-protocol.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { EVENTS_PAGE_MAX } from '../schema/client-protocol.js';
import { isoTime, USAGE_RECORD, type BuddyEvent, type DesiredState, type ServiceEvent } from '../schema/records.js';
import { migrate } from './migrations.js';
import { RunLedger } from './run-ledger.js';
import { SampleStore } from './sample-store.js';
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
  /** The request's method: start, stop, action, signal, config.reload … */
  request: string;
  serviceUuid: string | null;
  params: unknown;
}

interface EventRow {
  id: number;
  seq: number;
  time: number;
  type: string;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: string | null;
  uuid: string;
  name: string;
  package: string | null;
  instance: string;
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

export class AuditStore {
  readonly db: Database.Database;
  /** Whether the database can be written; bookkeeping kept meanwhile (write-health.ts). */
  readonly health = new WriteHealth();
  private readonly pendingRequests = new Map<number, PendingRequest>();
  private nextPendingId = -1;
  private readonly insertEvent: Database.Statement;
  readonly runs: RunLedger;
  readonly trends: TrendQueries;
  private readonly samples: SampleStore;

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
    // The runs table came with migration 3: a database that had events gets its runs from them.
    if (applied.includes(3)) this.db.transaction(() => this.runs.rebuild())();
    this.insertEvent = this.db.prepare(
      `INSERT OR IGNORE INTO events (service_uuid, buddy_id, seq, time, type, pid, code, signal, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  close(): void {
    this.db.close();
  }

  /** False once closed: a late bookkeeping write (of a request the stop cut short) is then dropped. */
  get open(): boolean {
    return this.db.open;
  }

  // ---- services --------------------------------------------------------------------------------

  /**
   * Record a configured service. Its uuid is the configured one, else the one it already has, else
   * `fallbackUuid()` (what its run directory says it was: read only then) if the database has never seen
   * that one, else new.
   */
  upsertService(svc: ServiceConfig, fallbackUuid: () => string | null = () => null, now = Date.now()): StoredService {
    const config = JSON.stringify(svc);
    return this.db.transaction((): StoredService => {
      const active = this.db
        .prepare(`SELECT uuid, desired, config FROM services WHERE coalesce(package, '') = ? AND name = ? AND removed IS NULL`)
        .get(svc.package ?? '', svc.name) as { uuid: string; desired: DesiredState; config: string } | undefined;
      const uuid = svc.uuid ?? active?.uuid ?? this.unseenOr(fallbackUuid(), uuidv4);
      if (active && active.uuid !== uuid) {
        // The configured UUID changed: the old identity is retired, its history kept.
        this.db.prepare('UPDATE services SET removed = ? WHERE uuid = ?').run(now, active.uuid);
      }
      const existing = this.db.prepare('SELECT desired, config, removed FROM services WHERE uuid = ?').get(uuid) as
        { desired: DesiredState; config: string; removed: number | null } | undefined;
      if (!existing) {
        this.db
          .prepare(
            `INSERT INTO services (uuid, name, package, config, config_file, desired, created, modified)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(uuid, svc.name, svc.package, config, svc.file, svc.initialState, now, now);
        return { uuid, desired: svc.initialState, created: true, changed: [] };
      }
      if (existing.config !== config || existing.removed !== null) {
        this.db
          .prepare('UPDATE services SET name = ?, package = ?, config = ?, config_file = ?, modified = ?, removed = NULL WHERE uuid = ?')
          .run(svc.name, svc.package, config, svc.file, now, uuid);
      }
      return { uuid, desired: existing.desired, created: false, changed: changedKeys(existing.config, svc) };
    })();
  }

  /** `uuid` when the database has never seen it, else a new one. */
  private unseenOr(uuid: string | null, make: () => string): string {
    return uuid !== null && !this.db.prepare('SELECT 1 FROM services WHERE uuid = ?').get(uuid) ? uuid : make();
  }

  /** Every configured (not removed) service, with its last good configuration. */
  activeServices(): { uuid: string; desired: DesiredState; config: string }[] {
    return this.db.prepare('SELECT uuid, desired, config FROM services WHERE removed IS NULL').all() as never;
  }

  /** A service's row by uuid, configured or removed. */
  serviceByUuid(uuid: string): { config: string; removed: number | null } | undefined {
    return this.db.prepare('SELECT config, removed FROM services WHERE uuid = ?').get(uuid) as never;
  }

  /** A service the database never knew (its buddy outlived the database): recorded as removed, so its events can be stored. */
  recordForgotten(uuid: string, id: string, now = Date.now()): void {
    const [pkg, name] = id.includes('::') ? id.split('::', 2) : [null, id];
    this.db
      .prepare(
        `INSERT OR IGNORE INTO services (uuid, name, package, config, desired, created, modified, removed)
         VALUES (?, ?, ?, '{}', 'stopped', ?, ?, ?)`,
      )
      .run(uuid, name, pkg, now, now, now);
  }

  markRemoved(uuid: string): void {
    const now = Date.now();
    this.keep(() => this.db.prepare('UPDATE services SET removed = ? WHERE uuid = ? AND removed IS NULL').run(now, uuid));
  }

  recordChanges(changes: ConfigChangeRecord[], trigger: string, now = Date.now()): void {
    const insert = this.db.prepare(
      'INSERT INTO config_changes (time, service_uuid, service, change, trigger, detail) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const c of changes) insert.run(now, c.uuid, c.service, c.change, trigger, c.message);
    })();
  }

  /**
   * The desired state a user set through a controller (a `desired` event of cause `command`, by
   * `controller`; a shutdown's is not one: it leaves the desired states as they are) after the database last
   * recorded one for the service, or null: a change the database could not store (a full disk) and a
   * controller that stopped meanwhile lost, which its buddy kept.
   */
  newerDesired(uuid: string): DesiredState | null {
    const row = this.db
      .prepare(
        `SELECT json_extract(e.detail, '$.desired') AS desired FROM events e JOIN services s ON s.uuid = e.service_uuid
         WHERE e.service_uuid = ? AND e.type = 'desired' AND json_extract(e.detail, '$.by') = 'controller'
           AND json_extract(e.detail, '$.cause') = 'command' AND e.time > s.modified
         ORDER BY e.time DESC, e.id DESC LIMIT 1`,
      )
      .get(uuid) as { desired: DesiredState } | undefined;
    return row?.desired === 'running' || row?.desired === 'stopped' ? row.desired : null;
  }

  setDesired(uuid: string, desired: DesiredState): void {
    const now = Date.now();
    this.keep(() => this.db.prepare('UPDATE services SET desired = ?, modified = ? WHERE uuid = ?').run(desired, now, uuid));
  }

  /**
   * Every service ever recorded (configured or removed) under an id: `package::name` exactly, or a
   * bare name in any package. Returns the ids found with their uuids (a removed service keeps its
   * history under its old uuid): the configured one first, then the most recently removed.
   */
  servicesNamed(id: string): { id: string; uuid: string }[] {
    const [pkg, name] = id.includes('::') ? id.split('::', 2) : [null, id];
    const rows = (
      pkg === null
        ? this.db
            .prepare(
              'SELECT uuid, name, package FROM services WHERE name = ? ORDER BY removed IS NOT NULL, coalesce(removed, modified) DESC',
            )
            .all(name)
        : this.db
            .prepare(
              'SELECT uuid, name, package FROM services WHERE package = ? AND name = ? ORDER BY removed IS NOT NULL, coalesce(removed, modified) DESC',
            )
            .all(pkg, name)
    ) as { uuid: string; name: string; package: string | null }[];
    return rows.map((r) => ({ id: r.package ? `${r.package}::${r.name}` : r.name, uuid: r.uuid }));
  }

  // ---- buddies ---------------------------------------------------------------------------------

  /** The database id of a buddy instance, recording it on first contact. */
  buddyId(instance: string, serviceUuid: string, pid: number, started: number): number {
    const row = this.db.prepare('SELECT id FROM buddies WHERE instance = ?').get(instance) as { id: number } | undefined;
    if (row) return row.id;
    const info = this.db
      .prepare('INSERT INTO buddies (instance, service_uuid, pid, started, seen) VALUES (?, ?, ?, ?, ?)')
      .run(instance, serviceUuid, pid, started, Date.now());
    return Number(info.lastInsertRowid);
  }

  /** A buddy instance's row, if it was ever recorded. */
  buddyByInstance(instance: string): { id: number; serviceUuid: string } | undefined {
    return this.db.prepare('SELECT id, service_uuid AS serviceUuid FROM buddies WHERE instance = ?').get(instance) as never;
  }

  /** Highest sequence number stored for a buddy instance, event or usage record (0 when none). */
  lastSeq(buddyId: number): number {
    const row = this.db
      // (max() of several values is NULL when one is: each side defaults to 0.)
      .prepare(
        'SELECT max(coalesce((SELECT max(seq) FROM events WHERE buddy_id = ?), 0), coalesce((SELECT max(seq) FROM samples WHERE buddy_id = ?), 0)) AS seq',
      )
      .get(buddyId, buddyId) as { seq: number | null };
    return row.seq ?? 0;
  }

  /** Record every other buddy instance of a service as ended (they died while no controller watched). */
  endOtherBuddies(serviceUuid: string, currentId: number, reason: string): void {
    const now = Date.now();
    this.keep(() =>
      this.db
        .prepare('UPDATE buddies SET ended = ?, end_reason = ? WHERE service_uuid = ? AND id != ? AND ended IS NULL')
        .run(now, reason, serviceUuid, currentId),
    );
  }

  /** Buddy instances not recorded as ended. */
  openBuddies(): { id: number; instance: string; serviceUuid: string; pid: number }[] {
    return this.db.prepare('SELECT id, instance, service_uuid AS serviceUuid, pid FROM buddies WHERE ended IS NULL').all() as never;
  }

  endBuddy(id: number, reason: string): void {
    const now = Date.now();
    this.keep(() => this.db.prepare('UPDATE buddies SET ended = ?, end_reason = ? WHERE id = ? AND ended IS NULL').run(now, reason, id));
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
    try {
      inserted = this.writeEvents(batches);
    } catch (err) {
      if (isStorageError(err)) this.health.failed(err);
      throw err;
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
    this.health.succeeded();
    if (inserted.length > 0) this.onInserted(inserted);
    return inserted.length;
  }

  // ---- when the database cannot be written -----------------------------------------------------

  /** Try a small write (while writes fail, to notice when they work again). */
  probe(): void {
    try {
      this.db.prepare('UPDATE services SET modified = modified WHERE rowid = (SELECT min(rowid) FROM services)').run();
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

  private writeEvents(batches: EventBatch[]): ServiceEvent[] {
    return this.db.transaction((): ServiceEvent[] => {
      const inserted: ServiceEvent[] = [];
      for (const b of batches) {
        for (const e of b.events) {
          if (e.type === USAGE_RECORD) {
            this.samples.add(b.serviceUuid, b.buddyId, e.seq, e.detail);
            continue;
          }
          const detail = e.detail ? JSON.stringify(e.detail) : null;
          const r = this.insertEvent.run(
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
      return inserted;
    })();
  }

  /** The id of the newest stored event (0 when none). */
  lastEventId(): number {
    return (this.db.prepare('SELECT max(id) AS id FROM events').get() as { id: number | null }).id ?? 0;
  }

  /**
   * Events matching the query, oldest first. With `afterId`: the next ones by id (paging, following).
   * Without: the newest `limit` ones by time.
   */
  queryEvents(q: EventQuery, serviceUuids: string[] | null): ServiceEvent[] {
    const { condition, args } = this.eventFilter(q, serviceUuids);
    const limit = Math.min(q.limit ?? EVENTS_PAGE_MAX, EVENTS_PAGE_MAX);
    const order = q.afterId !== undefined ? 'e.id ASC' : 'e.time DESC, e.id DESC';
    const events = this.selectEvents(condition, args, order, limit);
    return q.afterId === undefined ? events.reverse() : events;
  }

  /** The SQL condition on `e` (events) and its arguments for a query's filters. */
  eventFilter(q: EventQuery, serviceUuids: string[] | null): { condition: string; args: unknown[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (serviceUuids) {
      where.push(`e.service_uuid IN (${serviceUuids.map(() => '?').join(',') || 'NULL'})`);
      args.push(...serviceUuids);
    }
    if (q.types && q.types.length > 0) {
      where.push(`e.type IN (${q.types.map(() => '?').join(',')})`);
      args.push(...q.types);
    }
    // Each condition with its value, when the query sets it. The text test is the one matchesEvent
    // (schema/event-filter.ts) makes on live events.
    const conditions: [string, unknown][] = [
      ['e.time >= ?', q.since ? Date.parse(q.since) : undefined],
      ['e.time <= ?', q.until ? Date.parse(q.until) : undefined],
      ['e.id > ?', q.afterId],
      ['e.pid = ?', q.pid],
      ['e.code = ?', q.code],
      ['e.signal = ?', q.signal],
      ['instr(lower(e.detail), lower(?)) > 0', q.text],
    ];
    for (const [condition, value] of conditions) {
      if (value === undefined) continue;
      where.push(condition);
      args.push(value);
    }
    return { condition: where.length > 0 ? where.join(' AND ') : '1', args };
  }

  /** One event by its id, or null. */
  eventById(id: number): ServiceEvent | null {
    return this.selectEvents('e.id = ?', [id], 'e.id', 1)[0] ?? null;
  }

  /** Events matching an SQL condition on `e` (events), oldest first by id. */
  eventsWhere(condition: string, args: unknown[], limit: number): ServiceEvent[] {
    return this.selectEvents(condition, args, 'e.id ASC', limit);
  }

  /** Events matching an SQL condition on `e` (events), in the given SQL order. */
  selectEvents(condition: string, args: unknown[], order: string, limit: number): ServiceEvent[] {
    const rows = this.db
      .prepare(
        `SELECT e.id, e.seq, e.time, e.type, e.pid, e.code, e.signal, e.detail, s.uuid, s.name, s.package, b.instance
         FROM events e JOIN services s ON s.uuid = e.service_uuid JOIN buddies b ON b.id = e.buddy_id
         WHERE ${condition} ORDER BY ${order} LIMIT ?`,
      )
      .all(...args, limit) as EventRow[];
    return rows.map(toServiceEvent);
  }

  /** When each service was first recorded (ms), by uuid. */
  createdTimes(uuids: string[]): Map<string, number> {
    const rows = this.db
      .prepare(`SELECT uuid, created FROM services WHERE uuid IN (${uuids.map(() => '?').join(',') || 'NULL'})`)
      .all(...uuids) as {
      uuid: string;
      created: number;
    }[];
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
    const info = this.db
      .prepare(
        `INSERT INTO client_requests (time, client, client_pid, client_user, request, service_uuid, params, finished, ok, outcome)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        time,
        r.client,
        r.clientPid,
        r.clientUser,
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
    return this.db
      .prepare('UPDATE client_requests SET finished = ?, ok = 0, outcome = ? WHERE finished IS NULL')
      .run(Date.now(), INTERRUPTED_OUTCOME).changes;
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
    this.keep(() =>
      this.db.prepare('UPDATE client_requests SET finished = ?, ok = ?, outcome = ? WHERE id = ?').run(now, ok ? 1 : 0, outcome, row),
    );
  }
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

function toServiceEvent(r: EventRow): ServiceEvent {
  return {
    id: r.id,
    service: r.package ? `${r.package}::${r.name}` : r.name,
    uuid: r.uuid,
    buddy: r.instance,
    seq: r.seq,
    time: isoTime(r.time),
    type: r.type as ServiceEvent['type'],
    pid: r.pid,
    code: r.code,
    signal: r.signal,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  };
}
