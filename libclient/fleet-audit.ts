// `upk audit --fleet` and `upk config-history NAME --fleet`: the client requests (as they began, or finished) and the
// configuration changes of every host (or some), from the fleet's PostgreSQL database, as a host's
// own `requests` and `config.history` give them (controller/request-queries.ts, config-history.ts).
import type { ClientRequestRecord, ConfigHistoryRecord } from '../schema/audit-protocol.js';
import { valuesChanged, valuesOf } from '../schema/config-diff.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { FleetDatabase } from './fleet-database.js';
import { Params, hostMatch, serviceMatchScan, timeMs, type FleetHosts } from './fleet-sql.js';

/** A request of the fleet: the host's record with its host, without the host's local row id. */
export type FleetRequestRecord = Omit<ClientRequestRecord, 'id'> & { host: string };
/** A configuration change of the fleet: the host's record with its host, without the host's local row id. */
export type FleetConfigChange = Omit<ConfigHistoryRecord, 'id'> & { host: string };

export interface FleetRequestFilter extends FleetHosts {
  since?: string | Date | number;
  until?: string | Date | number;
  /** Only requests whose client or requester contains this text (any letter case). */
  client?: string;
  /** Only requests about this service (as commands name it), and those about no one service. */
  service?: string;
  /** The newest `limit` (default 100). */
  limit?: number;
}

export interface FleetConfigHistoryFilter extends FleetHosts {
  since?: string | Date | number;
  limit?: number;
}

const checkLimit = (limit: number, max: number): number => {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max)
    throw new UpkError(ErrorCode.BAD_REQUEST, `limit: expected 1 to ${max}, got ${limit}`);
  return limit;
};

/** The (host, service_uuid) pairs a name means on each host: the identities its configuration changes carry. */
function identitiesNamed(name: string, p: Params, hosts: string | null): string {
  const on = hosts === null ? '' : ` AND ${hosts}`;
  return `(SELECT DISTINCT host, service_uuid FROM config_changes WHERE ${serviceMatchScan('service', name, p)}${on} AND service_uuid IS NOT NULL)`;
}

/** The service id of a row's (host, service_uuid) now: its last configuration change's, else its last event's. */
const SERVICE_NOW = (t: string): string => `coalesce(
    (SELECT c.service FROM config_changes c WHERE c.host = ${t}.host AND c.service_uuid = ${t}.service_uuid ORDER BY c.time DESC LIMIT 1),
    (SELECT e.service FROM events e WHERE e.host = ${t}.host AND e.service_uuid = ${t}.service_uuid ORDER BY e.time DESC LIMIT 1))`;

interface RequestRow {
  host: string;
  time: Date;
  client: string;
  client_pid: number | null;
  client_user: string | null;
  requester: string | null;
  request: string;
  service: string | null;
  params: unknown;
  finished: Date | null;
  ok: boolean | null;
  outcome: string | null;
}

/**
 * The newest `limit` requests that match, oldest first (`oldest`: the oldest `limit`, for the
 * timeline; `services`: about any of these, for the timeline of several).
 */
export async function fleetRequests(
  db: FleetDatabase,
  f: FleetRequestFilter,
  max: number,
  more: { oldest?: boolean; services?: string[] } = {},
): Promise<FleetRequestRecord[]> {
  const limit = checkLimit(f.limit ?? 100, max);
  const p = new Params();
  const where: string[] = [];
  const hosts = hostMatch('host', f, p);
  if (hosts) where.push(`r.${hosts}`);
  if (f.since !== undefined) where.push(`r.time >= ${p.add(new Date(timeMs('since', f.since)))}`);
  if (f.until !== undefined) where.push(`r.time <= ${p.add(new Date(timeMs('until', f.until)))}`);
  if (f.client !== undefined) {
    const c = p.add(f.client);
    where.push(`(strpos(lower(r.client), lower(${c})) > 0 OR strpos(lower(coalesce(r.requester, '')), lower(${c})) > 0)`);
  }
  const names = [...(f.service === undefined ? [] : [f.service]), ...(more.services ?? [])];
  // (`all`: every service, as on a host)
  if (names.length > 0 && !names.includes('all'))
    where.push(
      `(r.service_uuid IS NULL OR ${names.map((n) => `(r.host, r.service_uuid) IN ${identitiesNamed(n, p, hosts)}`).join(' OR ')})`,
    );
  const rows = await db.query<RequestRow>(
    `SELECT r.host, r.time, r.client, r.client_pid, r.client_user, r.requester, r.request, ${SERVICE_NOW('r')} AS service,
       r.params, r.finished, r.ok, r.outcome
     FROM client_requests r ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${more.oldest ? 'r.time, r.host, r.uid' : 'r.time DESC, r.host DESC, r.uid DESC'} LIMIT ${limit}`,
    p.values,
  );
  if (!more.oldest) rows.reverse();
  return rows.map((r) => ({
    host: r.host,
    time: r.time.toISOString(),
    client: r.client,
    pid: r.client_pid,
    user: r.client_user,
    requester: r.requester,
    request: r.request,
    service: r.service,
    params: r.params,
    ok: r.ok,
    outcome: r.outcome,
    finished: r.finished === null ? null : r.finished.toISOString(),
    durationMs: r.finished === null ? null : r.finished.getTime() - r.time.getTime(),
  }));
}

interface ChangeRow {
  host: string;
  time: Date;
  service_uuid: string | null;
  service: string;
  change: ConfigHistoryRecord['change'];
  trigger: string;
  detail: string | null;
  config: Record<string, unknown> | null;
  keys: unknown;
  before: Record<string, unknown> | null;
}

/**
 * The newest `limit` configuration changes of `name` on the hosts, oldest first, each with its keys'
 * values before (the change before it of the same identity that tells its configuration) and after.
 */
export async function fleetConfigHistory(
  db: FleetDatabase,
  name: string,
  f: FleetConfigHistoryFilter,
  max: number,
): Promise<FleetConfigChange[]> {
  if (name === 'all') throw new UpkError(ErrorCode.BAD_REQUEST, 'this takes one service, not all: name one');
  const limit = checkLimit(f.limit ?? 100, max);
  const p = new Params();
  const hosts = hostMatch('host', f, p);
  const since = f.since === undefined ? '' : `AND c.time >= ${p.add(new Date(timeMs('since', f.since)))}`;
  const rows = await db.query<ChangeRow>(
    `SELECT * FROM (
       SELECT c.host, c.uid, c.time, c.service_uuid::text, c.service, c.change, c.trigger, c.detail, c.config, c.keys,
         (SELECT b.config FROM config_changes b WHERE b.host = c.host AND b.service_uuid = c.service_uuid AND b.time < c.time
            AND NOT (b.keys IS NOT NULL AND b.config IS NULL) ORDER BY b.time DESC LIMIT 1) AS before
       FROM config_changes c WHERE (c.host, c.service_uuid) IN ${identitiesNamed(name, p, hosts)} ${since}
       ORDER BY c.time DESC, c.host DESC, c.uid DESC LIMIT ${limit}) x
     ORDER BY time, host, uid`,
    p.values,
  );
  return rows.map((r) => {
    const keys = Array.isArray(r.keys) ? r.keys.filter((k): k is string => typeof k === 'string') : null;
    const rec: FleetConfigChange = {
      host: r.host,
      time: r.time.toISOString(),
      service: r.service,
      uuid: r.service_uuid,
      change: r.change,
      trigger: r.trigger,
      detail: r.detail,
      keys,
      values: [],
      beforeRecorded: false,
    };
    if (r.change !== 'changed' || r.config === null || keys === null || r.service_uuid === null) return rec;
    rec.beforeRecorded = r.before !== null;
    rec.values = r.before ? valuesChanged(r.before, r.config) : valuesOf(keys, r.config);
    return rec;
  });
}
