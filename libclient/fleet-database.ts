// The fleet's PostgreSQL database, read (docs/fleet.md, "Fleet queries"): which URL (the option, the
// environment, the controller configuration's FleetDatabase), the password as libpq finds it, time
// limits on the connection and every statement, and each way it fails as an UpkError with its code.
import type pg from 'pg';
import { FLEET_DATABASE_DESCRIPTION, describeFleetDatabase, fleetDatabaseProblem } from '../schema/config/fleet-database.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { fleetPassword, passwordFor } from '../schema/fleet-password.js';
import { readControllerConfig, type DiscoveryOptions } from './discovery.js';

/** The default time limit of the connection (to the end of its login). */
export const FLEET_READ_TIMEOUT_MS = 10_000;
/** The default time limit of each statement: a fleet trend over months of a thousand hosts sums millions of rows. */
export const FLEET_STATEMENT_TIMEOUT_MS = 60_000;

export interface FleetOpenOptions {
  env?: NodeJS.ProcessEnv;
  /** The connection's limit (default FLEET_READ_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Each statement's limit (default FLEET_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
}

export interface FleetDatabaseOptions extends DiscoveryOptions {
  /** The URL as given (`upk --fleet-database`); else $UPKEEPER_FLEET_DATABASE, else FleetDatabase of the controller configuration. */
  url?: string;
}

/** Where a fleet URL was found: `option`, `environment`, or the configuration file (its path, or `default settings`). */
export interface FleetUrl {
  url: string;
  from: string;
}

/**
 * The fleet database's URL: `options.url`, else $UPKEEPER_FLEET_DATABASE, else FleetDatabase of the
 * controller configuration (--config, $UPKEEPER_CONFIG, the default file). None: CONFIG_INVALID. A
 * URL given that is no PostgreSQL URL or holds a password: BAD_REQUEST (CONFIG_INVALID from the file,
 * which its check refuses already).
 */
export function fleetDatabaseUrl(options: FleetDatabaseOptions = {}): FleetUrl {
  const env = options.env ?? process.env;
  const given = options.url ?? (env['UPKEEPER_FLEET_DATABASE'] || undefined);
  if (given !== undefined) {
    const problem = fleetDatabaseProblem(given);
    const from = options.url !== undefined ? '--fleet-database' : 'UPKEEPER_FLEET_DATABASE';
    if (problem !== null) throw new UpkError(ErrorCode.BAD_REQUEST, `${from}: ${problem}`);
    return { url: given, from };
  }
  const config = readControllerConfig(options);
  const from = config.file ?? 'the default settings';
  if (config.fleetDatabase === null) {
    throw new UpkError(
      ErrorCode.CONFIG_INVALID,
      `no fleet database: give --fleet-database URL, or set UPKEEPER_FLEET_DATABASE, or FleetDatabase in ${from} (${FLEET_DATABASE_DESCRIPTION})`,
    );
  }
  return { url: config.fleetDatabase, from };
}

/** One connection to the fleet database, for reading. */
export class FleetDatabase {
  private constructor(
    private readonly client: pg.Client,
    /** The URL without a password, for messages. */
    readonly name: string,
  ) {}

  /**
   * Connect, within `timeoutMs` (default FLEET_READ_TIMEOUT_MS), each statement then limited to
   * `statementTimeoutMs` (FLEET_STATEMENT_TIMEOUT_MS); and check that the fleet schema is there. The
   * password: PGPASSWORD, else the password file.
   */
  static async open(url: string, options: FleetOpenOptions = {}): Promise<FleetDatabase> {
    const problem = fleetDatabaseProblem(url);
    if (problem !== null) throw new UpkError(ErrorCode.BAD_REQUEST, `the fleet database: ${problem}`);
    // Loaded at first use: every other upk command starts without the driver.
    const { default: driver } = await import('pg');
    const { parseIntoClientConfig } = await import('pg-connection-string');
    const env = options.env ?? process.env;
    const limit = options.timeoutMs ?? FLEET_READ_TIMEOUT_MS;
    const statements = options.statementTimeoutMs ?? FLEET_STATEMENT_TIMEOUT_MS;
    const parsed = parseIntoClientConfig(url);
    const to = passwordFor(parsed, env);
    const name = describeFleetDatabase(url);
    const client = new driver.Client({
      // The URL's parts, not connectionString: pg would let the URL's (absent) password override the function.
      ...parsed,
      password: () => {
        const password = fleetPassword(to, env);
        if (password === null)
          throw new UpkError(
            ErrorCode.CONTROLLER_NOT_RUNNING,
            `the fleet database ${name} asks for a password: set PGPASSWORD, or put it in the password file (PGPASSFILE, ~/.pgpass)`,
          );
        return password;
      },
      application_name: 'upk',
      connectionTimeoutMillis: limit,
      statement_timeout: statements,
      query_timeout: statements + 2000,
    });
    client.on('error', () => undefined); // a connection lost between statements: the next one fails, and says so
    const db = new FleetDatabase(client, name);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw db.failure(err);
    }
    const schema = await db.query<{ t: string | null }>("SELECT to_regclass('fleet_meta')::text AS t");
    if (schema[0]?.t == null) {
      db.close();
      throw new UpkError(
        ErrorCode.PROTOCOL_ERROR,
        `the fleet database ${name} holds no fleet schema: no controller has exported to it yet (FleetDatabase in its configuration)`,
      );
    }
    return db;
  }

  /** The rows of one statement; a failure as an UpkError naming the database. */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.client.query<R>(sql, params)).rows;
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Whether a table of the fleet schema exists (a migration the exporters have applied). */
  async hasTable(table: string): Promise<boolean> {
    const rows = await this.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
    return rows[0]?.t != null;
  }

  close(): void {
    void this.client.end().catch(() => undefined);
  }

  /** What went wrong, as an UpkError (CONTROLLER_NOT_RUNNING: cannot reach or log in; TIMEOUT; else PROTOCOL_ERROR). */
  private failure(err: unknown): UpkError {
    if (err instanceof UpkError) return err;
    const e = err as Error & { code?: string };
    const code = typeof e.code === 'string' ? e.code : '';
    const text = e.message || String(err);
    const say = (c: ErrorCode, what: string): UpkError => new UpkError(c, `the fleet database ${this.name}: ${what}`, { cause: err });
    if (/timeout|timed out/i.test(text) || code === 'ETIMEDOUT') return say(ErrorCode.TIMEOUT, `no answer in time (${text})`);
    if (code === '57014') return say(ErrorCode.TIMEOUT, `a statement took too long (${text})`);
    if (code.startsWith('28') || code === '3D000') return say(ErrorCode.CONTROLLER_NOT_RUNNING, `cannot log in: ${text}`);
    if (['ECONNREFUSED', 'ENOENT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE'].includes(code))
      return say(ErrorCode.CONTROLLER_NOT_RUNNING, `cannot reach it: ${text}`);
    if (/Connection terminated|not queryable|closed/i.test(text))
      return say(ErrorCode.CONTROLLER_NOT_RUNNING, `the connection was lost: ${text}`);
    if (code === '42P01' || code === '42703')
      return say(ErrorCode.PROTOCOL_ERROR, `its fleet schema lacks what this upk reads (${text}): a newer controller exports it`);
    return say(ErrorCode.PROTOCOL_ERROR, text);
  }
}
