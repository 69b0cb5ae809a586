// The PostgreSQL side of the fleet export: one connection, the fleet schema migrated, the month
// partitions a batch needs, and each batch inserted in one transaction, ON CONFLICT DO NOTHING.
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { fleetPassword } from './fleet-password.js';
import { migrateFleet } from './fleet-migrations.js';
import type { FleetEventRow } from './fleet-source.js';

/** A connection attempt and each statement give up after this long: a silent network is a failure too. */
export const FLEET_TIMEOUT_MS = 30_000;
const MONTH = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

export class FleetSink {
  private client: pg.Client | null = null;
  /** Set when the connection broke between two uses (pg reports it as an 'error' event). */
  private broken: Error | null = null;
  /** The month partitions known to exist, as "YYYY-MM". */
  private readonly months = new Set<string>();

  constructor(
    private readonly url: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Connect and migrate; returns the database's id (fleet_meta.database_id). */
  async open(): Promise<string> {
    const config = parseIntoClientConfig(this.url);
    const to = {
      host: String(config.host ?? 'localhost'),
      port: String(config.port ?? 5432),
      database: String(config.database ?? config.user ?? ''),
      user: String(config.user ?? ''),
    };
    const client = new pg.Client({
      ...config,
      password: () => {
        const password = fleetPassword(to, this.env);
        if (password === null)
          throw new Error('the server asks for a password: set PGPASSWORD, or put it in the password file (PGPASSFILE, ~/.pgpass)');
        return password;
      },
      application_name: 'upkeeper',
      connectionTimeoutMillis: FLEET_TIMEOUT_MS,
      statement_timeout: FLEET_TIMEOUT_MS,
      query_timeout: FLEET_TIMEOUT_MS + 5000,
      keepAlive: true,
    });
    this.broken = null;
    client.on('error', (err) => (this.broken = err));
    this.client = client;
    await client.connect();
    await migrateFleet(client);
    const meta = await client.query<{ id: string }>('SELECT database_id::text AS id FROM fleet_meta WHERE id = 1');
    const id = meta.rows[0]?.id;
    if (id === undefined) throw new Error('the fleet database has no fleet_meta row');
    return id;
  }

  /** Insert the events of `host` in one transaction; rows already there are skipped. Returns how many were new. */
  async writeEvents(host: string, rows: readonly FleetEventRow[]): Promise<number> {
    const client = this.connected();
    for (const month of new Set(rows.map((r) => MONTH(r.time)))) await this.ensureMonth(client, month);
    await client.query('BEGIN');
    try {
      const result = await client.query(
        `INSERT INTO events (host, buddy_instance, seq, time, service_uuid, service, type, pid, code, signal, detail)
         SELECT $1, i, s, timestamptz 'epoch' + t * interval '1 millisecond', u, n, ty, p, c, sg, d::jsonb
         FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::uuid[], $6::text[], $7::text[], $8::integer[], $9::integer[], $10::text[], $11::text[])
           AS r (i, s, t, u, n, ty, p, c, sg, d)
         ON CONFLICT DO NOTHING`,
        [
          host,
          rows.map((r) => r.instance),
          rows.map((r) => r.seq),
          rows.map((r) => r.time),
          rows.map((r) => r.serviceUuid),
          rows.map((r) => clean(r.service)),
          rows.map((r) => r.type),
          rows.map((r) => r.pid),
          rows.map((r) => r.code),
          rows.map((r) => r.signal),
          rows.map((r) => cleanJson(r.detail)),
        ],
      );
      await client.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Close the connection (after a failure too); the next open() makes a new one. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private connected(): pg.Client {
    if (this.broken) throw this.broken;
    if (!this.client) throw new Error('not connected');
    return this.client;
  }

  /** Create the month's partition (and the next month's, ahead) unless known to exist. */
  private async ensureMonth(client: pg.Client, month: string): Promise<void> {
    if (this.months.has(month)) return;
    const first = Date.parse(`${month}-01T00:00:00Z`);
    const next = new Date(first);
    next.setUTCMonth(next.getUTCMonth() + 1);
    await client.query("SELECT fleet_ensure_partition('events', $1), fleet_ensure_partition('events', $2)", [
      new Date(first).toISOString(),
      next.toISOString(),
    ]);
    this.months.add(month);
    this.months.add(MONTH(next.getTime()));
  }
}

/** PostgreSQL's text holds no NUL character and no lone surrogate: U+FFFD for them. */
function clean(text: string): string {
  return text.replace(/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** The same inside a JSON text (where a NUL is written \u0000). */
function cleanJson(text: string | null): string | null {
  if (text === null || !/\\u0000|\\ud[89a-f]/i.test(text)) return text;
  return JSON.stringify(JSON.parse(text), (_key, value: unknown) => (typeof value === 'string' ? clean(value) : value));
}
