// The fleet export (FleetDatabase; docs/fleet.md): on a timer, never in the path of a local write, it
// reads, table by table (events, runs, usage records, configuration changes, finished client requests), the rows after
// that table's saved position, inserts them into PostgreSQL in one transaction (ON CONFLICT DO NOTHING
// on their key), then saves the position. A failure: retry after 1 s, doubling to 60 s; the local
// database goes on meanwhile and the exporter catches up.
import type { Logger } from './log.js';
import type { FleetExportStatus } from '../schema/client-protocol.js';
import type {
  FleetChangeRow,
  FleetEventRow,
  FleetRequestRow,
  FleetRunRow,
  FleetSampleRow,
  FleetSource,
  FleetSourceTable,
} from './fleet-source.js';

/** Rows per batch (one PostgreSQL transaction). */
export const FLEET_BATCH = 1000;
/** The local tables exported, each with its own position (fleet_export), in this order. */
export const FLEET_TABLES: readonly FleetSourceTable[] = ['events', 'runs', 'samples', 'config_changes', 'client_requests'];
/** While caught up, a batch every second. */
export const FLEET_INTERVAL_MS = 1000;
export const FLEET_RETRY_FIRST_MS = 1000;
export const FLEET_RETRY_MAX_MS = 60_000;
/** stop() lets a round under way finish for this long, then closes the connection under it (and waits as long again). */
export const FLEET_STOP_WAIT_MS = 500;

/** What the exporter needs of PostgreSQL (controller/fleet-sink.ts). */
export interface FleetTarget {
  open(): Promise<string>;
  writeEvents(host: string, rows: readonly FleetEventRow[]): Promise<number>;
  /** Runs are upserted: returns how many were new or changed. */
  writeRuns(host: string, rows: readonly FleetRunRow[]): Promise<number>;
  writeSamples(host: string, rows: readonly FleetSampleRow[]): Promise<number>;
  writeChanges(host: string, rows: readonly FleetChangeRow[]): Promise<number>;
  writeRequests(host: string, rows: readonly FleetRequestRow[]): Promise<number>;
  close(): Promise<void>;
}

export interface FleetExportParts {
  source: FleetSource;
  target: FleetTarget;
  /** FleetHost, or the machine's host name. */
  host: string;
  /** The database in words, for the log (no password). */
  where: string;
  /** FleetDatabase (no password in it): the positions are saved for it, and retention keeps what it has not got. */
  url: string;
  log: Logger;
  /** The problem `fleet`: a message while the export fails, null once a batch goes through again. */
  problem: (message: string | null) => void;
}

/** What the exporter did since the controller started. */
export interface FleetExportStats {
  /** Rows PostgreSQL took as new (runs and requests: new or changed), by local table. */
  exported: Record<FleetSourceTable, number>;
  /** Rows sent again that it already had (skipped by their key), by local table. */
  skipped: Record<FleetSourceTable, number>;
  batches: number;
  /** When a batch last went through (ms), or null. */
  lastBatch: number | null;
}

const perTable = (): Record<FleetSourceTable, number> =>
  Object.fromEntries(FLEET_TABLES.map((t) => [t, 0])) as Record<FleetSourceTable, number>;

export class FleetExport {
  readonly stats: FleetExportStats = { exported: perTable(), skipped: perTable(), batches: 0, lastBatch: null };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private databaseId: string | null = null;
  private retryMs = FLEET_RETRY_FIRST_MS;
  private failure: string | null = null;
  /** Tables whose last batch PostgreSQL refused (the connection still good): each waits on its own, the others go on. */
  private readonly refused = new Map<FleetSourceTable, { at: number; ms: number; message: string }>();

  constructor(private readonly p: FleetExportParts) {}

  start(): void {
    this.schedule(0);
  }

  /**
   * No batch after this one; the connection is closed. Takes a second or two at most, whatever PostgreSQL
   * does: a round under way gets FLEET_STOP_WAIT_MS to finish, then its connection is closed under it
   * (a batch cut short is sent again after the next start, and its rows conflict) and it ends quietly.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await within(this.running, FLEET_STOP_WAIT_MS);
    await this.p.target.close();
    await within(this.running, FLEET_STOP_WAIT_MS);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.round().finally(() => (this.running = null));
    }, ms);
  }

  /** One batch, or a connection; then the next one's time. */
  private async round(): Promise<void> {
    let next: number;
    try {
      next = (await this.batch()) === FLEET_BATCH ? 0 : FLEET_INTERVAL_MS;
      this.retryMs = FLEET_RETRY_FIRST_MS;
      if (this.failure !== null) {
        this.failure = null;
        this.p.log.info(`fleet database ${this.p.where}: exporting again`);
        this.report();
      }
    } catch (err) {
      this.databaseId = null;
      // Failed because stop() closed the connection under it: no warning, no problem.
      if (this.stopped) return;
      next = this.failed(err);
      await this.p.target.close();
    }
    this.schedule(next);
  }

  /** Connect if need be, then export a batch of each table after its position: returns the most rows one batch read. */
  private async batch(): Promise<number> {
    const { source, target, host } = this.p;
    if (this.databaseId === null) {
      const id = await target.open();
      source.connected(id, this.p.url);
      this.databaseId = id;
      const behind = source.newest('events') - source.position('events', id);
      this.p.log.info(`fleet database ${this.p.where}: connected (database ${id}, host ${host}); ${behind} event id(s) to export`);
    }
    let most = 0;
    for (const table of FLEET_TABLES) {
      if (this.stopped) break;
      const held = this.refused.get(table);
      if (held && Date.now() < held.at) continue;
      try {
        most = Math.max(most, await this.batchOf(table, this.databaseId));
      } catch (err) {
        if (!refusedStatement(err)) throw err; // the connection: the whole round fails, and waits
        this.refuse(table, held, err);
        continue;
      }
      if (held) {
        this.refused.delete(table);
        this.p.log.info(`fleet database ${this.p.where}: exporting ${table} again`);
        this.report();
      }
    }
    return most;
  }

  /** PostgreSQL refused a batch of `table`: that table waits (1 s doubling to 60 s), the others go on. */
  private refuse(table: FleetSourceTable, held: { ms: number; message: string } | undefined, err: unknown): void {
    const ms = held ? Math.min(held.ms * 2, FLEET_RETRY_MAX_MS) : FLEET_RETRY_FIRST_MS;
    const message = `${table}: ${(err as Error).message || String(err)}`;
    if (message !== held?.message)
      this.p.log.warn(
        `the fleet database ${this.p.where} refuses a batch of ${message}; its rows wait in the local database (tried again after ${ms / 1000} s, doubling up to 60 s), the other tables go on`,
      );
    this.refused.set(table, { at: Date.now() + ms, ms, message });
    this.report();
  }

  /** The problem `fleet` as things are: the connection's failure, else the tables refused, else none. */
  private report(): void {
    this.p.problem(this.error());
  }

  /** Why the export (or part of it) does not go through now, or null. */
  private error(): string | null {
    if (this.failure !== null) return `${this.failure}; the rows wait in the local database`;
    if (this.refused.size === 0) return null;
    const tables = [...this.refused.values()].map((r) => r.message).join('; ');
    return `the fleet database ${this.p.where} refuses batches of ${tables}; their rows wait in the local database`;
  }

  /** One batch of `table`: read after the position, insert in one transaction, then save the position. */
  private async batchOf(table: FleetSourceTable, databaseId: string): Promise<number> {
    const { source } = this.p;
    const after = source.position(table, databaseId);
    const rows = this.read(table, after);
    const added = rows.length === 0 ? 0 : await this.write(table, rows);
    const last = rows.at(-1);
    if (last === undefined) return 0;
    // Only once PostgreSQL committed: a crash before this line sends the batch again, and its rows conflict.
    source.save(table, databaseId, last.id, this.p.url);
    const s = this.stats;
    s.exported[table] += added;
    s.skipped[table] += rows.length - added;
    s.batches += 1;
    s.lastBatch = Date.now();
    return rows.length;
  }

  /** Up to a batch of `table`'s rows after the position `after`. */
  private read(table: FleetSourceTable, after: number): readonly { id: number }[] {
    const { source } = this.p;
    switch (table) {
      case 'events':
        return source.eventsAfter(after, FLEET_BATCH);
      case 'runs':
        return source.runsAfter(after, FLEET_BATCH);
      case 'samples':
        return source.samplesAfter(after, FLEET_BATCH);
      case 'config_changes':
        return source.changesAfter(after, FLEET_BATCH);
      case 'client_requests':
        return source.requestsAfter(after, FLEET_BATCH);
    }
  }

  /** Send rows `read` returned for `table`: the rows PostgreSQL took as new (or, for runs, changed). */
  private write(table: FleetSourceTable, rows: readonly { id: number }[]): Promise<number> {
    const { target, host } = this.p;
    switch (table) {
      case 'events':
        return target.writeEvents(host, rows as FleetEventRow[]);
      case 'runs':
        return target.writeRuns(host, rows as FleetRunRow[]);
      case 'samples':
        return target.writeSamples(host, rows as FleetSampleRow[]);
      case 'config_changes':
        return target.writeChanges(host, rows as FleetChangeRow[]);
      case 'client_requests':
        return target.writeRequests(host, rows as FleetRequestRow[]);
    }
  }

  /** Its state for `controller.status` and /metrics: the counters, and how far behind each table is. */
  status(): FleetExportStatus {
    const { source } = this.p;
    const behind: Record<string, number> = {};
    for (const table of FLEET_TABLES) {
      // Before its first connection the database is not known: the position saved for any.
      const at = this.databaseId === null ? source.savedPosition(table, this.p.url) : source.position(table, this.databaseId);
      behind[table] = Math.max(0, source.newest(table) - at);
    }
    const s = this.stats;
    return {
      database: this.p.where,
      host: this.p.host,
      up: this.databaseId !== null && this.failure === null && this.refused.size === 0,
      exported: { ...s.exported },
      skipped: { ...s.skipped },
      behind,
      lastExport: s.lastBatch === null ? null : new Date(s.lastBatch).toISOString(),
      error: this.error(),
    };
  }

  /** Report a failure (once per new error) and return the wait before the next try. */
  private failed(err: unknown): number {
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, FLEET_RETRY_MAX_MS);
    const message = `cannot export to the fleet database ${this.p.where}: ${(err as Error).message || String(err)}`;
    const changed = message !== this.failure;
    this.failure = message;
    if (changed) {
      this.p.log.warn(`${message}; the rows wait in the local database (tried again after ${wait / 1000} s, doubling up to 60 s)`);
      this.report();
    }
    return wait;
  }
}

/**
 * PostgreSQL refused a statement (an error message from the server, with its severity and SQLSTATE: a
 * missing table, a refused value, a lacking privilege) while the connection stays good: not classes 08
 * (connection), 53 (resources), 57 (operator intervention, a statement timeout among them), nor an
 * error of the network, whose code is Node's (EPIPE, ECONNRESET: no severity).
 */
export function refusedStatement(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  const code = e?.code;
  return typeof e?.severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57)/.test(code);
}

/** Wait for `promise` (if any) at most `ms`; its failure is not ours to report. */
async function within(promise: Promise<unknown> | null, ms: number): Promise<void> {
  if (promise === null) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
