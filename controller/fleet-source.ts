// The local side of the fleet export: the rows after the exporter's position, read from the audit
// database, and the position itself (table fleet_export), saved after PostgreSQL committed a batch.
import type Database from 'better-sqlite3';

/** A local table the exporter ships. */
export type FleetSourceTable = 'events';

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

export class FleetSource {
  private readonly readEvents: Database.Statement<[number, number], FleetEventRow>;

  constructor(private readonly db: Database.Database) {
    this.readEvents = db.prepare(`
      SELECT e.id, b.instance, e.seq, e.time, e.service_uuid AS serviceUuid,
             CASE WHEN s.package IS NULL THEN s.name ELSE s.package || '::' || s.name END AS service,
             e.type, e.pid, e.code, e.signal, e.detail
      FROM events e JOIN buddies b ON b.id = e.buddy_id JOIN services s ON s.uuid = e.service_uuid
      WHERE e.id > ? ORDER BY e.id LIMIT ?`);
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
