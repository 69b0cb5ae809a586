// Keeps the audit database bounded: AuditMaxAge and AuditMaxRecords, applied at start, every hour, and
// when the events grow past AuditMaxRecords. Deletes in small batches, so requests are answered meanwhile.
// With a FleetDatabase, a row the fleet export has not sent yet is kept (docs/fleet.md#when-postgresql-is-away),
// until its table holds FLEET_HOLD_FACTOR times AuditMaxRecords.
import type Database from 'better-sqlite3';
import type { ControllerConfig } from '../schema/config/types.js';
import { HOUR_MS } from './run-hours.js';
import { MINUTE_SAMPLES_MS } from './trend-query.js';

export const PRUNE_EVERY_MS = 3_600_000;
const BATCH = 5000;
/** While the fleet export is behind, a table may grow to this many times AuditMaxRecords before unexported rows go. */
export const FLEET_HOLD_FACTOR = 10;

export interface RetentionLimits {
  /** Seconds, or null: no age limit. */
  maxAgeSeconds: number | null;
  /** Rows per table, or null: no count limit. */
  maxRecords: number | null;
  /** FleetDatabase, or null: keep the rows not exported to it yet. */
  fleet: string | null;
}

export const retentionLimits = (c: ControllerConfig): RetentionLimits => ({
  maxAgeSeconds: c.auditMaxAge,
  maxRecords: c.auditMaxRecords,
  fleet: c.fleetDatabase,
});

/** The tables the fleet export sends, and the column its position is in (controller/fleet-source.ts). */
const EXPORTED: Record<string, string> = {
  events: 'rowid',
  client_requests: 'changed',
  config_changes: 'rowid',
  runs: 'changed',
  samples: 'stored',
};

export interface PruneResult {
  /** Rows deleted, by table. */
  deleted: Record<string, number>;
  ms: number;
}

/** Tables with a count limit, and their time column. */
const COUNTED: Record<string, string> = { events: 'time', client_requests: 'time', config_changes: 'time', hook_runs: 'time' };

export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PruneResult> | null = null;
  private eventCount: number | null = null;
  /** The events a pass left: rows the fleet export has not sent stay, and a pass at each poll would not delete them. */
  private eventsKept = 0;
  /** The tables whose unexported rows went (past FLEET_HOLD_FACTOR): told once each. */
  private readonly overflowed = new Set<string>();

  constructor(
    private readonly db: Database.Database,
    private limits: RetentionLimits,
    private readonly log: (message: string) => void,
  ) {}

  setLimits(limits: RetentionLimits): void {
    this.limits = limits;
  }

  /** Prune now and every hour after. */
  start(): void {
    void this.prune();
    this.timer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Events were stored: past AuditMaxRecords by 1 %, prune at once rather than within the hour. */
  added(events: number): void {
    if (this.eventCount === null || this.limits.maxRecords === null) return;
    this.eventCount += events;
    const limit = Math.max(this.limits.maxRecords, this.eventsKept);
    if (this.eventCount > limit + Math.max(10, this.limits.maxRecords / 100)) void this.prune();
  }

  /** One pass over every table; a second call while one runs waits for it. */
  prune(now = Date.now()): Promise<PruneResult> {
    this.running ??= this.pass(now).finally(() => (this.running = null));
    return this.running;
  }

  private async pass(now: number): Promise<PruneResult> {
    const started = Date.now();
    const deleted: Record<string, number> = {};
    const count = (table: string, n: number): void => {
      if (n > 0) deleted[table] = (deleted[table] ?? 0) + n;
    };
    const { maxAgeSeconds, maxRecords } = this.limits;
    const ageCut = maxAgeSeconds === null ? null : now - maxAgeSeconds * 1000;
    try {
      for (const [table, column] of Object.entries(COUNTED)) {
        const held = this.exportedUpTo(table);
        const position = EXPORTED[table] ?? 'rowid';
        // The newest row stays, whatever its age: SQLite gives a new row the highest id plus one, so an
        // emptied table would give its ids again, and the fleet export would take them for rows it sent.
        if (ageCut !== null)
          count(
            table,
            await this.deleteWhile(
              `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? AND ${position} <= ?
                 AND rowid < (SELECT max(rowid) FROM ${table}) LIMIT ${BATCH})`,
              ageCut,
              held,
            ),
          );
        if (maxRecords !== null) count(table, await this.deleteOldest(table, maxRecords, position, held));
      }
      // Runs go with their events: older than the age limit, or than the oldest event kept.
      const oldest = this.db.prepare<[], { t: number | null }>('SELECT min(time) AS t FROM events').get()?.t ?? null;
      const runCut = Math.max(ageCut ?? 0, deleted.events ? (oldest ?? now) : 0);
      if (runCut > 0) {
        count(
          'runs',
          await this.deleteWhile(
            `DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE ended IS NOT NULL AND ended < ? AND changed <= ? LIMIT ${BATCH})`,
            runCut,
            this.exportedUpTo('runs'),
          ),
        );
        count(
          'run_hours',
          await this.deleteWhile(
            `DELETE FROM run_hours WHERE (service_uuid, hour) IN (SELECT service_uuid, hour FROM run_hours WHERE hour < ? LIMIT ${BATCH})`,
            runCut - HOUR_MS,
          ),
        );
      }
      const minuteCut = Math.max(ageCut ?? 0, now - MINUTE_SAMPLES_MS);
      count(
        'samples',
        await this.deleteWhile(
          `DELETE FROM samples WHERE (buddy_id, seq) IN (SELECT buddy_id, seq FROM samples WHERE time < ? AND stored <= ? LIMIT ${BATCH})`,
          minuteCut,
          this.exportedUpTo('samples'),
        ),
      );
      if (ageCut !== null) {
        count(
          'samples_hourly',
          await this.deleteWhile(
            `DELETE FROM samples_hourly WHERE (service_uuid, hour) IN (SELECT service_uuid, hour FROM samples_hourly WHERE hour < ? LIMIT ${BATCH})`,
            ageCut - HOUR_MS,
          ),
        );
      }
      this.eventCount = this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events').get()?.n ?? 0;
      this.eventsKept = this.eventCount;
    } catch (err) {
      this.log(`cannot prune the audit database: ${(err as Error).message}`);
    }
    const ms = Date.now() - started;
    const total = Object.values(deleted).reduce((a, b) => a + b, 0);
    if (total > 0)
      this.log(
        `pruned the audit database in ${ms} ms: ${Object.entries(deleted)
          .map(([t, n]) => `${n} ${t}`)
          .join(', ')}`,
      );
    return { deleted, ms };
  }

  /**
   * The highest id (or counter) of `table` that may be deleted: with a FleetDatabase, the fleet
   * export's saved position (0 before its first batch), unless the table holds FLEET_HOLD_FACTOR
   * times AuditMaxRecords already: then every row may go, and the log says once that rows go unexported.
   */
  private exportedUpTo(table: string): number {
    const column = EXPORTED[table];
    const target = this.limits.fleet;
    if (target === null || column === undefined) return Number.MAX_SAFE_INTEGER;
    const { maxRecords } = this.limits;
    if (maxRecords !== null) {
      const n = this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0;
      if (n > maxRecords * FLEET_HOLD_FACTOR) {
        if (!this.overflowed.has(table))
          this.log(
            `the fleet export is behind by more than ${FLEET_HOLD_FACTOR} times AuditMaxRecords in ${table}: ` +
              'its oldest rows are deleted unexported (docs/fleet.md#when-postgresql-is-away)',
          );
        this.overflowed.add(table);
        return Number.MAX_SAFE_INTEGER;
      }
    }
    this.overflowed.delete(table);
    // Saved for another FleetDatabase (or before the exporter reached this one): nothing is known to be exported to it.
    return (
      this.db
        .prepare<[string, string], { id: number }>('SELECT last_id AS id FROM fleet_export WHERE source = ? AND target = ?')
        .get(table, target)?.id ?? 0
    );
  }

  /** Run a batched DELETE until it deletes nothing, yielding to the event loop between batches. */
  private async deleteWhile(sql: string, ...args: number[]): Promise<number> {
    const stmt = this.db.prepare<number[]>(sql);
    let total = 0;
    for (;;) {
      const n = stmt.run(...args).changes;
      total += n;
      if (n < BATCH) return total;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Delete the oldest rows (by rowid) past `max`, none whose `position` column is above `held`. */
  private async deleteOldest(table: string, max: number, position: string, held: number): Promise<number> {
    const n = this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0;
    if (n <= max) return 0;
    const cut = this.db.prepare<[number], { id: number }>(`SELECT rowid AS id FROM ${table} ORDER BY rowid LIMIT 1 OFFSET ?`).get(n - max);
    if (!cut) return 0;
    return this.deleteWhile(
      `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE rowid < ? AND ${position} <= ? LIMIT ${BATCH})`,
      cut.id,
      held,
    );
  }
}
