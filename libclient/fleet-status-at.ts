// `upk status --at TIME --fleet`: each host's services at a past time from the fleet's PostgreSQL
// database, by the replay a host's controller makes of its own (schema/past-status.ts): the same
// reads, in PostgreSQL, of one host's rows (docs/fleet.md, "Fleet queries"). A buddy is named by its
// instance (the host's row id is not exported); events of one millisecond are in the order of their
// buddy instance and seq (a new buddy takes tens of ms to start: two buddies of one service do not
// share a millisecond).
import type { PastServiceStatus, StatusAtResult } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { configValue } from '../schema/stored-config.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { isoTime, type EventType } from '../schema/records.js';
import {
  MOVING_TYPES,
  PastStatuses,
  pastServices,
  statusAt,
  type ChainVariant,
  type PastBuddy,
  type PastExit,
  type PastReads,
  type PastRun,
  type PastService,
  type PastServiceRow,
  type PastUsage,
  type WindowEvent,
} from '../schema/past-status.js';
import type { FleetDatabase } from './fleet-database.js';

/** One host's status at a past time, as its own `status.at` answers, with the host. */
export type FleetStatusAt = StatusAtResult & { host: string };

/** The condition of the partial index events_anchors (fleet migration 006), word for word. */
const ANCHORS = `type IN ('buddy_started', 'desired', 'ready', 'adopted')`;
const MOVING = `type IN (${MOVING_TYPES.map((t) => `'${t}'`).join(', ')})`;
const EVENT = `time, type, pid, code, signal, detail, buddy_instance::text AS buddy, seq`;
const RUN = 'started, ended, cause, outcome';

interface EventRow {
  time: Date;
  type: EventType;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: Record<string, unknown> | null;
  buddy: string;
  seq: string;
}
interface RunRow {
  started: Date;
  ended: Date | null;
  cause: PastRun['cause'];
  outcome: PastRun['outcome'];
}

const ms = (t: Date): number => t.getTime();
const date = (t: number): Date => new Date(t);
const run = (r: RunRow): PastRun => ({ started: ms(r.started), ended: r.ended && ms(r.ended), cause: r.cause, outcome: r.outcome });
const windowEvent = (r: EventRow): WindowEvent<string> => ({
  time: ms(r.time),
  type: r.type,
  pid: r.pid,
  code: r.code,
  signal: r.signal,
  detail: r.detail,
  buddy: r.buddy,
  // Within a millisecond: by buddy instance, then seq (padded: compared as text).
  tie: `${r.buddy}:${r.seq.padStart(20, '0')}`,
});

/** Whether a run ended before it was running, by each variant (as a host's chainStart tells it). */
const NOT_RUNNING: Record<ChainVariant, string> = {
  uptime: `coalesce(ended - started <= $5::double precision * interval '1 millisecond', false)`,
  signal: `NOT EXISTS (SELECT 1 FROM events e WHERE e.host = runs.host AND e.service_uuid = runs.service_uuid AND e.${ANCHORS}
             AND e.type = 'ready' AND e.time >= runs.started AND e.time <= runs.ended)`,
  job: `outcome != 'stopped'`,
};

/** The reads of the replay of one host's services, in the fleet database (a buddy is named by its instance). */
class FleetReads implements PastReads<string> {
  constructor(
    private readonly db: FleetDatabase,
    private readonly host: string,
  ) {}

  private async one<R extends object>(sql: string, params: unknown[]): Promise<R | undefined> {
    return (await this.db.query<R & Record<string, unknown>>(sql, [this.host, ...params]))[0];
  }

  async lastRuns(uuid: string, at: number): Promise<PastRun[]> {
    const rows = await this.db.query<RunRow & Record<string, unknown>>(
      `SELECT ${RUN} FROM runs WHERE host = $1 AND service_uuid = $2 AND started <= $3 ORDER BY started DESC LIMIT 2`,
      [this.host, uuid, date(at)],
    );
    return rows.map(run);
  }

  async buddyStart(uuid: string, at: number, strictly: boolean): Promise<PastBuddy<string> | undefined> {
    const r = await this.one<{ time: Date; pid: number | null; buddy: string }>(
      `SELECT time, pid, buddy_instance::text AS buddy FROM events WHERE host = $1 AND service_uuid = $2 AND ${ANCHORS}
         AND type = 'buddy_started' AND time ${strictly ? '<' : '<='} $3 ORDER BY time DESC LIMIT 1`,
      [uuid, date(at)],
    );
    return r && { buddy: r.buddy, time: ms(r.time), pid: r.pid };
  }

  newest(uuid: string, from: number, at: number, limit: number): Promise<WindowEvent<string>[]> {
    return this.window(uuid, from, at, limit, 'DESC');
  }

  oldest(uuid: string, from: number, at: number, limit: number): Promise<WindowEvent<string>[]> {
    return this.window(uuid, from, at, limit, 'ASC');
  }

  private async window(uuid: string, from: number, at: number, limit: number, order: 'ASC' | 'DESC'): Promise<WindowEvent<string>[]> {
    const rows = await this.db.query<EventRow & Record<string, unknown>>(
      `SELECT ${EVENT} FROM events WHERE host = $1 AND service_uuid = $2 AND time >= $3 AND time <= $4 AND ${MOVING}
       ORDER BY time ${order}, buddy_instance ${order}, seq ${order} LIMIT $5`,
      [this.host, uuid, date(from), date(at), limit],
    );
    return rows.map(windowEvent);
  }

  async desiredBefore(uuid: string, before: number): Promise<Record<string, unknown> | null> {
    const r = await this.one<{ detail: Record<string, unknown> | null }>(
      `SELECT detail FROM events WHERE host = $1 AND service_uuid = $2 AND ${ANCHORS} AND type = 'desired' AND time < $3
         AND coalesce(detail->>'cause', '') != 'shutdown' ORDER BY time DESC LIMIT 1`,
      [uuid, date(before)],
    );
    return r?.detail ?? null;
  }

  async freshBuddy(uuid: string, before: number, notBefore: number | null): Promise<number | null> {
    const r = await this.one<{ time: Date }>(
      `SELECT b.time FROM events b WHERE b.host = $1 AND b.service_uuid = $2 AND b.${ANCHORS} AND b.type = 'buddy_started'
         AND b.time < $3 AND ($4::timestamptz IS NULL OR b.time >= $4)
         AND NOT EXISTS (SELECT 1 FROM events a WHERE a.host = b.host AND a.service_uuid = b.service_uuid AND a.${ANCHORS}
           AND a.type = 'adopted' AND a.time >= b.time AND a.buddy_instance = b.buddy_instance AND a.detail->>'how' IS NULL)
       ORDER BY b.time DESC LIMIT 1`,
      [uuid, date(before), notBefore === null ? null : date(notBefore)],
    );
    return r ? ms(r.time) : null;
  }

  async lastUserStart(uuid: string, before: number): Promise<number | null> {
    const r = await this.one<{ started: Date }>(
      `SELECT started FROM runs WHERE host = $1 AND service_uuid = $2 AND started < $3 AND cause IN ('start', 'adopted')
       ORDER BY started DESC LIMIT 1`,
      [uuid, date(before)],
    );
    return r ? ms(r.started) : null;
  }

  async runsBetween(uuid: string, after: number, before: number, restarts: boolean): Promise<number> {
    const r = await this.one<{ n: string }>(
      `SELECT count(*) AS n FROM runs WHERE host = $1 AND service_uuid = $2 AND started > $3 AND started < $4
         ${restarts ? "AND cause = 'restart'" : ''}`,
      [uuid, date(after), date(before)],
    );
    return Number(r?.n ?? 0);
  }

  async chainStart(
    variant: ChainVariant,
    q: { uuid: string; before: number; since: number; minUptimeMs: number },
  ): Promise<PastRun | undefined> {
    const r = await this.one<RunRow>(
      `SELECT ${RUN} FROM runs WHERE host = $1 AND service_uuid = $2 AND started < $3 AND started >= $4
         AND NOT (cause = 'restart' AND (outcome = 'spawn_failed' OR (outcome IN ('failed', 'stopped') AND ${NOT_RUNNING[variant]})))
       ORDER BY started DESC LIMIT 1`,
      [q.uuid, date(q.before), date(q.since), ...(variant === 'uptime' ? [q.minUptimeMs] : [])],
    );
    return r && run(r);
  }

  async readyWithin(uuid: string, from: number, to: number): Promise<boolean> {
    const r = await this.one<{ one: number }>(
      `SELECT 1 AS one FROM events WHERE host = $1 AND service_uuid = $2 AND ${ANCHORS} AND type = 'ready' AND time >= $3 AND time <= $4 LIMIT 1`,
      [uuid, date(from), date(to)],
    );
    return r !== undefined;
  }

  async lastExitBefore(uuid: string, before: number, since: number): Promise<PastExit | undefined> {
    const r = await this.one<{ ended: Date; code: number | null; signal: string | null; outcome: string }>(
      `SELECT ended, code, signal, outcome FROM runs WHERE host = $1 AND service_uuid = $2 AND started < $3 AND ended < $3
         AND started >= $4 AND outcome IN ('stopped', 'failed', 'spawn_failed') ORDER BY started DESC LIMIT 1`,
      [uuid, date(before), date(since)],
    );
    return r && { ...r, ended: ms(r.ended) };
  }

  async usage(buddy: string, uuid: string, from: number, at: number): Promise<PastUsage | undefined> {
    const r = await this.one<{ time: Date; wall_ms: number; cpu_ms: number; rss_kb: number; processes: number }>(
      `SELECT time, wall_ms, cpu_ms, rss_kb, processes FROM samples WHERE host = $1 AND service_uuid = $2
         AND buddy_instance = $3::uuid AND time >= $4 AND time <= $5 ORDER BY time DESC LIMIT 1`,
      [uuid, buddy, date(from), date(at)],
    );
    return r && { time: ms(r.time), wallMs: r.wall_ms, cpuMs: r.cpu_ms, rssKb: r.rss_kb, processes: r.processes };
  }
}

interface ChangeRow {
  uuid: string;
  time: Date;
  service: string;
  /** (never `removed`: the query leaves those out) */
  change: 'added' | 'changed' | 'kept';
  trigger: string;
  detail: string | null;
  config: ServiceConfig | null;
  keys: unknown;
  latest_config: ServiceConfig | null;
}

/** `status.at` over one host's rows of the fleet database (schema/past-status.ts statusAt takes it). */
export class FleetStatusAtQueries {
  private readonly past: PastStatuses<string>;

  constructor(
    private readonly db: FleetDatabase,
    private readonly host: string,
  ) {
    this.past = new PastStatuses(new FleetReads(db, host));
  }

  /**
   * The services of the host at `at`: those whose last configuration change by then is not a removal
   * (the fleet knows a host's services by its configuration changes: each was recorded when it was
   * added). Its id then is that change's; its configuration, the one that change applied, else (a
   * change recorded before the host's migration 007) its newest configuration the fleet holds.
   */
  async servicesAt(at: number): Promise<PastService[]> {
    const rows = await this.db.query<ChangeRow & Record<string, unknown>>(
      `SELECT c.*,
         (SELECT n.config FROM config_changes n WHERE n.host = $1 AND n.service_uuid = c.service_uuid AND n.config IS NOT NULL
           ORDER BY n.time DESC LIMIT 1) AS latest_config
       FROM (SELECT DISTINCT ON (service_uuid) service_uuid::text AS uuid, service_uuid, time, service, change, trigger, detail, config, keys
             FROM config_changes WHERE host = $1 AND time <= $2 AND service_uuid IS NOT NULL
             ORDER BY service_uuid, time DESC) c
       WHERE c.change != 'removed'`,
      [this.host, date(at)],
    );
    return pastServices(
      rows.map((r): PastServiceRow => ({
        uuid: r.uuid,
        id: r.service,
        config: configValue(r.latest_config),
        change: {
          time: ms(r.time),
          service: r.service,
          change: r.change,
          trigger: r.trigger,
          detail: r.detail,
          config: configValue(r.config),
          keys: Array.isArray(r.keys) ? r.keys.filter((k): k is string => typeof k === 'string') : null,
        },
      })),
    );
  }

  /**
   * The time of the host's oldest event the fleet holds, or null: the oldest of each of its services
   * (an index seek each; the host's whole index range would be read for a min over the host alone).
   */
  async historyFrom(): Promise<number | null> {
    const r = await this.db.query<{ t: Date | null }>(
      `SELECT min(x.time) AS t FROM (SELECT DISTINCT service_uuid FROM config_changes WHERE host = $1 AND service_uuid IS NOT NULL) s,
         LATERAL (SELECT time FROM events e WHERE e.host = $1 AND e.service_uuid = s.service_uuid ORDER BY time LIMIT 1) x`,
      [this.host],
    );
    return r[0]?.t ? ms(r[0].t) : null;
  }

  statusAt(svc: PastService, at: number): Promise<PastServiceStatus> {
    return this.past.statusAt(svc, at);
  }
}

/**
 * Each host's services (or those `names` mean on it) at `at`, as the host answers `status.at`, host by
 * host (each host once). One host: the host's very answer, or its error. Several: each name as it
 * means on each host; a host where none of the names meant a service then is left out, and a name
 * that meant none on any host is refused.
 */
export async function fleetStatusAt(
  db: FleetDatabase,
  hosts: readonly string[],
  at: number,
  names: readonly string[] = [],
  now = Date.now(),
): Promise<FleetStatusAt[]> {
  const unique = [...new Set(hosts)];
  if (unique.length === 1) return [{ host: unique[0]!, ...(await statusAt(new FleetStatusAtQueries(db, unique[0]!), at, names, now)) }];
  const out: FleetStatusAt[] = [];
  const meant = new Set<string>();
  for (const host of unique) {
    const missing = new Set<string>();
    const answer = await statusAt(new FleetStatusAtQueries(db, host), at, names, now, missing);
    for (const n of names) if (!missing.has(n)) meant.add(n);
    if (names.length === 0 || missing.size < new Set(names).size) out.push({ host, ...answer });
  }
  const unknown = [...new Set(names)].filter((n) => !meant.has(n) && n !== 'all');
  if (unknown.length > 0)
    throw new UpkError(
      ErrorCode.NO_SUCH_SERVICE,
      `no service named ${unknown.map((n) => JSON.stringify(n)).join(', ')} existed at ${isoTime(at)} on any of the hosts asked`,
      { details: { service: unknown[0] } },
    );
  return out;
}
