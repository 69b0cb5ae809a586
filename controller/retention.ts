// Keeps the audit database bounded: AuditMaxAge and AuditMaxRecords, applied at start, every hour, and
// when the events grow past AuditMaxRecords. Deletes in small batches, so requests are answered meanwhile.
import type Database from 'better-sqlite3';
import type { ControllerConfig } from '../schema/config/types.js';
import { HOUR_MS } from './run-hours.js';
import { MINUTE_SAMPLES_MS } from './trend-query.js';

export const PRUNE_EVERY_MS = 3_600_000;
const BATCH = 5000;

export interface RetentionLimits {
  /** Seconds, or null: no age limit. */
  maxAgeSeconds: number | null;
  /** Rows per table, or null: no count limit. */
  maxRecords: number | null;
}

export const retentionLimits = (c: ControllerConfig): RetentionLimits => ({ maxAgeSeconds: c.auditMaxAge, maxRecords: c.auditMaxRecords });

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
    if (this.eventCount > this.limits.maxRecords + Math.max(10, this.limits.maxRecords / 100)) void this.prune();
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
        if (ageCut !== null)
          count(
            table,
            await this.deleteWhile(
              `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? LIMIT ${BATCH})`,
              ageCut,
            ),
          );
        if (maxRecords !== null) count(table, await this.deleteOldest(table, maxRecords));
      }
      // Runs go with their events: older than the age limit, or than the oldest event kept.
      const oldest = this.db.prepare<[], { t: number | null }>('SELECT min(time) AS t FROM events').get()?.t ?? null;
      const runCut = Math.max(ageCut ?? 0, deleted.events ? (oldest ?? now) : 0);
      if (runCut > 0) {
        count(
          'runs',
          await this.deleteWhile(
            `DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE ended IS NOT NULL AND ended < ? LIMIT ${BATCH})`,
            runCut,
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
          `DELETE FROM samples WHERE (buddy_id, seq) IN (SELECT buddy_id, seq FROM samples WHERE time < ? LIMIT ${BATCH})`,
          minuteCut,
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

  /** Run a batched DELETE until it deletes nothing, yielding to the event loop between batches. */
  private async deleteWhile(sql: string, arg: number): Promise<number> {
    const stmt = this.db.prepare<[number]>(sql);
    let total = 0;
    for (;;) {
      const n = stmt.run(arg).changes;
      total += n;
      if (n < BATCH) return total;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Delete the oldest rows (by rowid) past `max`. */
  private async deleteOldest(table: string, max: number): Promise<number> {
    const n = this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0;
    if (n <= max) return 0;
    const cut = this.db.prepare<[number], { id: number }>(`SELECT rowid AS id FROM ${table} ORDER BY rowid LIMIT 1 OFFSET ?`).get(n - max);
    if (!cut) return 0;
    return this.deleteWhile(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE rowid < ? LIMIT ${BATCH})`, cut.id);
  }
}
