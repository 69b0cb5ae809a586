// The local side of the fleet export: the rows after the exporter's position, read from the audit
// database, and the position itself (table fleet_export), saved after PostgreSQL committed a batch.
import type Database from 'better-sqlite3';

/** A local table the exporter ships. */
export type FleetSourceTable = 'events' | 'config_changes' | 'client_requests';

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

/** A finished client request as the fleet database stores it. */
export interface FleetRequestRow {
  /** The local client_requests.id: the position, never sent. */
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
  finished: number;
  ok: number;
  outcome: string | null;
}

export class FleetSource {
  private readonly readEvents: Database.Statement<[number, number], FleetEventRow>;
  private readonly readChanges: Database.Statement<[number, number], FleetChangeRow>;
  private readonly readRequests: Database.Statement<[number, number], FleetRequestRow>;

  constructor(private readonly db: Database.Database) {
    this.readEvents = db.prepare(`
      SELECT e.id, b.instance, e.seq, e.time, e.service_uuid AS serviceUuid,
             CASE WHEN s.package IS NULL THEN s.name ELSE s.package || '::' || s.name END AS service,
             e.type, e.pid, e.code, e.signal, e.detail
      FROM events e JOIN buddies b ON b.id = e.buddy_id JOIN services s ON s.uuid = e.service_uuid
      WHERE e.id > ? ORDER BY e.id LIMIT ?`);
    this.readChanges = db.prepare(`
      SELECT id, uid, time, service_uuid AS serviceUuid, service, change, trigger, detail, config, keys
      FROM config_changes WHERE id > ? ORDER BY id LIMIT ?`);
    // Only the requests before the oldest one not finished (all of them when every one is): the
    // position never passes a request that may still be finished, so each is sent once, when final.
    this.readRequests = db.prepare(`
      SELECT id, uid, time, client, client_pid AS clientPid, client_user AS clientUser, requester, request,
             service_uuid AS serviceUuid, params, finished, ok, outcome
      FROM client_requests
      WHERE id > ? AND id < coalesce((SELECT min(id) FROM client_requests WHERE finished IS NULL), 9223372036854775807)
      ORDER BY id LIMIT ?`);
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

  /** The newest local id of `table` (0 when it is empty). */
  newest(table: FleetSourceTable): number {
    return this.db.prepare<[], { id: number | null }>(`SELECT max(id) AS id FROM ${table}`).get()?.id ?? 0;
  }

  /** Up to `limit` events after the local id `after`, oldest first. */
  eventsAfter(after: number, limit: number): FleetEventRow[] {
    return this.readEvents.all(after, limit);
  }

  /** Up to `limit` configuration changes after the local id `after`, oldest first. */
  changesAfter(after: number, limit: number): FleetChangeRow[] {
    return this.readChanges.all(after, limit);
  }

  /** Up to `limit` client requests after the local id `after` and before the oldest unfinished one, oldest first. */
  requestsAfter(after: number, limit: number): FleetRequestRow[] {
    return this.readRequests.all(after, limit);
  }

  /** PostgreSQL committed every row up to `lastId`: remember it. */
  save(table: FleetSourceTable, databaseId: string, lastId: number, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO fleet_export (source, database_id, last_id, exported) VALUES (?, ?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET database_id = excluded.database_id, last_id = excluded.last_id, exported = excluded.exported`,
      )
      .run(table, databaseId, lastId, now);
  }
}
