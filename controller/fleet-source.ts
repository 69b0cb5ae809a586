// The local side of the fleet export: the rows after the exporter's position, read from the audit
// database, and the position itself (table fleet_export), saved after PostgreSQL committed a batch.
import type Database from 'better-sqlite3';

/** A local table the exporter ships. */
export type FleetSourceTable = 'events' | 'runs' | 'samples' | 'config_changes' | 'client_requests';

/** The column of each table whose value is the exporter's position: an id, or a counter (migration 013). */
const POSITION_COLUMN: Record<FleetSourceTable, string> = {
  events: 'id',
  runs: 'changed',
  samples: 'stored',
  config_changes: 'id',
  client_requests: 'changed',
};

/** An event as the fleet database stores it (docs/fleet.md#the-schema). */
export interface FleetEventRow {
  /** The local events.id: the position, never sent. */
  id: number;
  instance: string;
  seq: number;
  time: number;
  serviceUuid: string;
  service: string;
  type: string;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: string | null;
}

/** A run as the fleet database stores it: sent again each time it changes, and updated there. */
export interface FleetRunRow {
  /** The local runs.changed: the position, never sent. */
  id: number;
  uid: string;
  started: number;
  serviceUuid: string;
  service: string;
  instance: string;
  pid: number | null;
  cause: string;
  ended: number | null;
  outcome: string | null;
  code: number | null;
  signal: string | null;
  repaired: number | null;
}

/** A usage record as the fleet database stores it. */
export interface FleetSampleRow {
  /** The local samples.stored: the position, never sent. */
  id: number;
  instance: string;
  seq: number;
  time: number;
  serviceUuid: string;
  service: string;
  wallMs: number;
  cpuMs: number;
  rssKb: number;
  rssMaxKb: number;
  processes: number;
}

/** A configuration change as the fleet database stores it. */
export interface FleetChangeRow {
  /** The local config_changes.id: the position, never sent. */
  id: number;
  uid: string;
  time: number;
  serviceUuid: string | null;
  service: string;
  change: string;
  trigger: string;
  detail: string | null;
  config: string | null;
  keys: string | null;
}

/** A client request as the fleet database stores it: sent when it begins, and again when it finishes. */
export interface FleetRequestRow {
  /** The local client_requests.changed: the position, never sent. */
  id: number;
  uid: string;
  time: number;
  client: string;
  clientPid: number | null;
  clientUser: string | null;
  requester: string | null;
  request: string;
  serviceUuid: string | null;
  params: string | null;
  finished: number | null;
  ok: number | null;
  outcome: string | null;
}

export class FleetSource {
  private readonly readEvents: Database.Statement<[number, number], FleetEventRow>;
  private readonly readRuns: Database.Statement<[number, number], FleetRunRow>;
  private readonly readSamples: Database.Statement<[number, number], FleetSampleRow>;
  private readonly readChanges: Database.Statement<[number, number], FleetChangeRow>;
  private readonly readRequests: Database.Statement<[number, number], FleetRequestRow>;

  constructor(private readonly db: Database.Database) {
    this.readEvents = db.prepare(`
      SELECT e.id, b.instance, e.seq, e.time, e.service_uuid AS serviceUuid,
             CASE WHEN s.package IS NULL THEN s.name ELSE s.package || '::' || s.name END AS service,
             e.type, e.pid, e.code, e.signal, e.detail
      FROM events e JOIN buddies b ON b.id = e.buddy_id JOIN services s ON s.uuid = e.service_uuid
      WHERE e.id > ? ORDER BY e.id LIMIT ?`);
    this.readRuns = db.prepare(`
      SELECT r.changed AS id, r.uid, r.started, r.service_uuid AS serviceUuid,
             CASE WHEN s.package IS NULL THEN s.name ELSE s.package || '::' || s.name END AS service,
             b.instance, r.pid, r.cause, r.ended, r.outcome, r.code, r.signal, r.repaired
      FROM runs r JOIN buddies b ON b.id = r.buddy_id JOIN services s ON s.uuid = r.service_uuid
      WHERE r.changed > ? ORDER BY r.changed LIMIT ?`);
    this.readSamples = db.prepare(`
      SELECT m.stored AS id, b.instance, m.seq, m.time, b.service_uuid AS serviceUuid,
             CASE WHEN s.package IS NULL THEN s.name ELSE s.package || '::' || s.name END AS service,
             m.wall_ms AS wallMs, m.cpu_ms AS cpuMs, m.rss_kb AS rssKb, m.rss_max_kb AS rssMaxKb, m.processes
      FROM samples m JOIN buddies b ON b.id = m.buddy_id JOIN services s ON s.uuid = b.service_uuid
      WHERE m.stored > ? ORDER BY m.stored LIMIT ?`);
    this.readChanges = db.prepare(`
      SELECT id, uid, time, service_uuid AS serviceUuid, service, change, trigger, detail, config, keys
      FROM config_changes WHERE id > ? ORDER BY id LIMIT ?`);
    // A request changes once after it is stored (it finishes): its counter rises then, and it is sent again.
    this.readRequests = db.prepare(`
      SELECT changed AS id, uid, time, client, client_pid AS clientPid, client_user AS clientUser, requester, request,
             service_uuid AS serviceUuid, params, finished, ok, outcome
      FROM client_requests WHERE changed > ? ORDER BY changed LIMIT ?`);
  }

  /**
   * The highest local id known to be in the database `databaseId`: 0 when the position was saved for
   * another database, or lies beyond the newest row (retention emptied the table and its ids began
   * again). Sending a row again is harmless: its key conflicts and it is skipped.
   */
  position(table: FleetSourceTable, databaseId: string): number {
    const saved = this.db
      .prepare<[string], { database_id: string; last_id: number }>('SELECT database_id, last_id FROM fleet_export WHERE source = ?')
      .get(table);
    if (!saved || saved.database_id !== databaseId) return 0;
    return saved.last_id > this.newest(table) ? 0 : saved.last_id;
  }

  /**
   * The position saved for `table` if it was saved for the FleetDatabase `target` (the URL), else 0:
   * what retention may delete up to, and the status counts from, before the exporter connects.
   */
  savedPosition(table: FleetSourceTable, target: string): number {
    return (
      this.db
        .prepare<[string, string], { last_id: number }>('SELECT last_id FROM fleet_export WHERE source = ? AND target = ?')
        .get(table, target)?.last_id ?? 0
    );
  }

  /**
   * The exporter reached the database `databaseId` at `target`: positions saved for another database
   * start again from 0 (its rows are all to send, and retention keeps them), and every position names
   * the target it is for.
   */
  connected(databaseId: string, target: string): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE fleet_export SET database_id = ?, last_id = 0 WHERE database_id != ?').run(databaseId, databaseId);
      this.db.prepare('UPDATE fleet_export SET target = ?').run(target);
    })();
  }

  /** The newest local id (or counter) of `table` (0 when it is empty). */
  newest(table: FleetSourceTable): number {
    return this.db.prepare<[], { id: number | null }>(`SELECT max(${POSITION_COLUMN[table]}) AS id FROM ${table}`).get()?.id ?? 0;
  }

  /** Up to `limit` events after the local id `after`, oldest first. */
  eventsAfter(after: number, limit: number): FleetEventRow[] {
    return this.readEvents.all(after, limit);
  }

  /** Up to `limit` runs changed after the counter `after`, in the order they changed. */
  runsAfter(after: number, limit: number): FleetRunRow[] {
    return this.readRuns.all(after, limit);
  }

  /** Up to `limit` usage records stored after the counter `after`, in the order they were stored. */
  samplesAfter(after: number, limit: number): FleetSampleRow[] {
    return this.readSamples.all(after, limit);
  }

  /** Up to `limit` configuration changes after the local id `after`, oldest first. */
  changesAfter(after: number, limit: number): FleetChangeRow[] {
    return this.readChanges.all(after, limit);
  }

  /** Up to `limit` client requests begun or finished after the counter `after`, in that order. */
  requestsAfter(after: number, limit: number): FleetRequestRow[] {
    return this.readRequests.all(after, limit);
  }

  /** PostgreSQL committed every row up to `lastId`: remember it. */
  save(table: FleetSourceTable, databaseId: string, lastId: number, target: string | null = null, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO fleet_export (source, database_id, last_id, exported, target) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET database_id = excluded.database_id, last_id = excluded.last_id,
           exported = excluded.exported, target = coalesce(excluded.target, target)`,
      )
      .run(table, databaseId, lastId, now, target);
  }
}
