// The PostgreSQL side of the fleet export: one connection, the fleet schema migrated, the month
// partitions a batch needs, and each batch inserted in one transaction, ON CONFLICT DO NOTHING.
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { fleetPassword, passwordFor } from '../schema/fleet-password.js';
import { migrateFleet } from './fleet-migrations.js';
import type { FleetChangeRow, FleetEventRow, FleetRequestRow, FleetRunRow, FleetSampleRow } from './fleet-source.js';

/** A connection attempt and each statement give up after this long: a silent network is a failure too. */
export const FLEET_TIMEOUT_MS = 30_000;
/** close() waits this long for the server to end the connection, then destroys its socket (a server that never answers). */
export const FLEET_CLOSE_MS = 500;
const MONTH = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

export class FleetSink {
  private client: pg.Client | null = null;
  /** Set when the connection broke between two uses (pg reports it as an 'error' event). */
  private broken: Error | null = null;
  /** The month partitions known to exist, as "table YYYY-MM". */
  private readonly months = new Set<string>();

  constructor(
    private readonly url: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Connect and migrate; returns the database's id (fleet_meta.database_id). */
  async open(): Promise<string> {
    const config = parseIntoClientConfig(this.url);
    const to = passwordFor(config, this.env);
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
    // Retention may have dropped a partition since: ask again after a reconnection.
    this.months.clear();
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
    await this.ensureMonths(
      'events',
      rows.map((r) => r.time),
    );
    return this.insert(
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
  }

  /**
   * Upsert the runs of `host` in one transaction: a run already there takes the columns sent now (the
   * host sends a run again each time it changes). Returns how many were new or changed.
   */
  async writeRuns(host: string, rows: readonly FleetRunRow[]): Promise<number> {
    await this.ensureMonths(
      'runs',
      rows.map((r) => r.started),
    );
    const at = (column: string): string => `timestamptz 'epoch' + ${column} * interval '1 millisecond'`;
    return this.insert(
      `INSERT INTO runs (host, uid, started, service_uuid, service, buddy_instance, pid, cause, ended, outcome, code, signal, repaired)
       SELECT $1, k, ${at('st')}, u, n, i, p, ca, ${at('en')}, o, c, sg, ${at('rp')}
       FROM unnest($2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::uuid[], $7::integer[], $8::text[], $9::bigint[], $10::text[],
                   $11::integer[], $12::text[], $13::bigint[])
         AS r (k, st, u, n, i, p, ca, en, o, c, sg, rp)
       ON CONFLICT (host, uid, started) DO UPDATE SET
         service = excluded.service, buddy_instance = excluded.buddy_instance, pid = excluded.pid, ended = excluded.ended,
         outcome = excluded.outcome, code = excluded.code, signal = excluded.signal, repaired = excluded.repaired, updated = now()
       WHERE (runs.service, runs.buddy_instance, runs.pid, runs.ended, runs.outcome, runs.code, runs.signal, runs.repaired)
             IS DISTINCT FROM (excluded.service, excluded.buddy_instance, excluded.pid, excluded.ended, excluded.outcome,
                               excluded.code, excluded.signal, excluded.repaired)`,
      [
        host,
        rows.map((r) => clean(r.uid)),
        rows.map((r) => r.started),
        rows.map((r) => r.serviceUuid),
        rows.map((r) => clean(r.service)),
        rows.map((r) => r.instance),
        rows.map((r) => r.pid),
        rows.map((r) => r.cause),
        rows.map((r) => r.ended),
        rows.map((r) => r.outcome),
        rows.map((r) => r.code),
        rows.map((r) => r.signal),
        rows.map((r) => r.repaired),
      ],
    );
  }

  /** Insert the usage records of `host` in one transaction; rows already there are skipped. Returns how many were new. */
  async writeSamples(host: string, rows: readonly FleetSampleRow[]): Promise<number> {
    await this.ensureMonths(
      'samples',
      rows.map((r) => r.time),
    );
    return this.insert(
      `INSERT INTO samples (host, buddy_instance, seq, time, service_uuid, service, wall_ms, cpu_ms, rss_kb, rss_max_kb, processes)
       SELECT $1, i, s, timestamptz 'epoch' + t * interval '1 millisecond', u, n, w, c, r, rm, p
       FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::uuid[], $6::text[], $7::integer[], $8::integer[], $9::integer[],
                   $10::integer[], $11::integer[])
         AS r (i, s, t, u, n, w, c, r, rm, p)
       ON CONFLICT DO NOTHING`,
      [
        host,
        rows.map((r) => r.instance),
        rows.map((r) => r.seq),
        rows.map((r) => r.time),
        rows.map((r) => r.serviceUuid),
        rows.map((r) => clean(r.service)),
        rows.map((r) => r.wallMs),
        rows.map((r) => r.cpuMs),
        rows.map((r) => r.rssKb),
        rows.map((r) => r.rssMaxKb),
        rows.map((r) => r.processes),
      ],
    );
  }

  /** Insert the configuration changes of `host` in one transaction; rows already there are skipped. Returns how many were new. */
  async writeChanges(host: string, rows: readonly FleetChangeRow[]): Promise<number> {
    return this.insert(
      `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger, detail, config, keys)
       SELECT $1, k, timestamptz 'epoch' + t * interval '1 millisecond', u, n, c, tr, d, cf::jsonb, ks::jsonb
       FROM unnest($2::uuid[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         AS r (k, t, u, n, c, tr, d, cf, ks)
       ON CONFLICT DO NOTHING`,
      [
        host,
        rows.map((r) => r.uid),
        rows.map((r) => r.time),
        rows.map((r) => r.serviceUuid),
        rows.map((r) => clean(r.service)),
        rows.map((r) => r.change),
        rows.map((r) => clean(r.trigger)),
        rows.map((r) => (r.detail === null ? null : clean(r.detail))),
        rows.map((r) => cleanJson(r.config)),
        rows.map((r) => cleanJson(r.keys)),
      ],
    );
  }

  /** Upsert the client requests of `host` in one transaction (sent as they begin, and again finished). Returns how many were new or changed. */
  async writeRequests(host: string, rows: readonly FleetRequestRow[]): Promise<number> {
    return this.insert(
      `INSERT INTO client_requests (host, uid, time, client, client_pid, client_user, requester, request, service_uuid, params, finished, ok, outcome)
       SELECT $1, k, timestamptz 'epoch' + t * interval '1 millisecond', c, p, us, rq, q, u, pa::jsonb,
              timestamptz 'epoch' + f * interval '1 millisecond', ok, o
       FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[],
                   $11::bigint[], $12::boolean[], $13::text[])
         AS r (k, t, c, p, us, rq, q, u, pa, f, ok, o)
       ON CONFLICT (host, uid) DO UPDATE SET finished = excluded.finished, ok = excluded.ok, outcome = excluded.outcome
       WHERE (client_requests.finished, client_requests.ok, client_requests.outcome)
             IS DISTINCT FROM (excluded.finished, excluded.ok, excluded.outcome)`,
      [
        host,
        rows.map((r) => r.uid),
        rows.map((r) => r.time),
        rows.map((r) => clean(r.client)),
        rows.map((r) => r.clientPid),
        rows.map((r) => (r.clientUser === null ? null : clean(r.clientUser))),
        rows.map((r) => (r.requester === null ? null : clean(r.requester))),
        rows.map((r) => clean(r.request)),
        rows.map((r) => r.serviceUuid),
        rows.map((r) => cleanJson(r.params)),
        rows.map((r) => r.finished),
        rows.map((r) => (r.ok === null ? null : r.ok === 1)),
        rows.map((r) => (r.outcome === null ? null : clean(r.outcome))),
      ],
    );
  }

  /** One INSERT … ON CONFLICT DO NOTHING in its own transaction: the rows it added. */
  private async insert(sql: string, params: unknown[]): Promise<number> {
    const client = this.connected();
    await client.query('BEGIN');
    try {
      const result = await client.query(sql, params);
      await client.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Close the connection (after a failure too); the next open() makes a new one. Never waits on a server
   * that does not answer: the socket is destroyed after FLEET_CLOSE_MS, and a connection attempt or
   * statement under way fails at once.
   */
  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    const ended = client.end().then(
      () => true,
      () => true,
    );
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), FLEET_CLOSE_MS)));
    if (!(await Promise.race([ended, late]))) client.connection.stream.destroy();
    clearTimeout(timer);
  }

  private connected(): pg.Client {
    if (this.broken) throw this.broken;
    if (!this.client) throw new Error('not connected');
    return this.client;
  }

  /** Create the month partitions of `table` that these times need (and the month after each, ahead), unless known to exist. */
  private async ensureMonths(table: 'events' | 'runs' | 'samples', times: readonly number[]): Promise<void> {
    const client = this.connected();
    for (const month of new Set(times.map(MONTH))) {
      if (this.months.has(`${table} ${month}`)) continue;
      const first = Date.parse(`${month}-01T00:00:00Z`);
      const next = new Date(first);
      next.setUTCMonth(next.getUTCMonth() + 1);
      await client.query('SELECT fleet_ensure_partition($1, $2), fleet_ensure_partition($1, $3)', [
        table,
        new Date(first).toISOString(),
        next.toISOString(),
      ]);
      this.months.add(`${table} ${month}`);
      this.months.add(`${table} ${MONTH(next.getTime())}`);
    }
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
