// `upk trend --fleet`: a metric per bucket over the fleet's runs, usage records and events, by host,
// by service or by both. PostgreSQL sums each group's runs and records per bucket (one statement per
// kind of sum, GROUP BY group and bucket: never a row of runs read out); the metric is then computed
// from those sums by the very code of a host's trend (schema/trend-math.ts, computeSeries).
import {
  TREND_MAX_BUCKETS,
  TREND_METRICS,
  TREND_UNITS,
  type TrendMetric,
  type TrendPoint,
  type TrendResult,
} from '../schema/client-protocol.js';
import { formatBucket } from '../schema/durations.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { isoTime } from '../schema/records.js';
import { bucketCount, computeSeries, emptySums, type BucketSums, type Range } from '../schema/trend-math.js';
import type { FleetDatabase } from './fleet-database.js';
import { Params, hostMatch, serviceMatch, timeMs, type FleetHosts } from './fleet-sql.js';

/** The most points (series × buckets) one fleet trend computes: each series holds its sums in memory. */
export const FLEET_TREND_MAX_POINTS = 2_000_000;

/** What a fleet trend's series are: one per host, per service id (every host's summed), or per host and service. */
export const FLEET_TREND_BY = ['host,service', 'host', 'service'] as const;
export type FleetTrendBy = (typeof FLEET_TREND_BY)[number];

export interface FleetTrendQuery extends FleetHosts {
  metric: TrendMetric;
  /** Bucket length in ms (at least a minute); buckets start at multiples of it since 1970-01-01 UTC. */
  bucketMs: number;
  since: string | Date | number;
  /** Default: now. */
  until?: string | Date | number;
  /** Only these services (named as commands name them); default: every one. */
  services?: string[];
  /** Default `host,service`. */
  by?: FleetTrendBy;
}

/** One series: its host and service (null: summed over every one). */
export interface FleetTrendSeries {
  host: string | null;
  service: string | null;
  points: TrendPoint[];
  total: number | null;
  max?: number | null;
}

export type FleetTrendResult = Omit<TrendResult, 'series'> & { by: FleetTrendBy; series: FleetTrendSeries[] };

/** A time column in ms since the epoch, and its bucket. */
const ms = (column: string): string => `(extract(epoch FROM ${column}) * 1000)`;
const FAILED = `outcome IN ('failed', 'spawn_failed')`;

interface Statement {
  p: Params;
  /** The group's columns (`host`, `service`, NULL for what is summed over). */
  group: string;
  /** The filter of hosts and services on a table's `host` and `service` columns. */
  where: string;
  /** The filter of hosts alone. */
  hostWhere: string;
  /** The range's start, end and now, and the bucket, in ms (literals: whole numbers this module checked). */
  start: string;
  end: string;
  now: string;
  bucket: string;
  /** The range's start and end as timestamptz. */
  startTs: string;
  endTs: string;
}

type GroupRow = { host: string | null; service: string | null };
type SumRow = GroupRow & { k: number } & Record<string, string | number | null>;

/** The statements' common parts, for the query's filters. */
function statement(q: FleetTrendQuery, r: Range, by: FleetTrendBy): Statement {
  const p = new Params();
  const where: string[] = [];
  const host = hostMatch('host', q, p);
  if (host) where.push(host);
  if (q.services && q.services.length > 0 && !q.services.includes('all'))
    where.push(`(${q.services.map((name) => serviceMatch('service', name, p)).join(' OR ')})`);
  const group = `${by === 'service' ? 'NULL::text' : 'host'} AS host, ${by === 'host' ? 'NULL::text' : 'service'} AS service`;
  const literal = (x: number): string => {
    if (!Number.isSafeInteger(x)) throw new UpkError(ErrorCode.BAD_REQUEST, `not a whole number of ms: ${x}`);
    return `${x}::float8`;
  };
  const at = (x: number): string => `(timestamptz 'epoch' + ${literal(x)} * interval '1 millisecond')`;
  return {
    p,
    group,
    where: where.length > 0 ? where.join(' AND ') : 'true',
    hostWhere: host ?? 'true',
    start: literal(r.start),
    end: literal(r.end),
    now: literal(r.now),
    bucket: literal(r.bucketMs),
    startTs: at(r.start),
    endTs: at(r.end),
  };
}

/** The bucket of a time in ms. */
const bucketOf = (s: Statement, msExpr: string): string => `floor((${msExpr} - ${s.start}::float8) / ${s.bucket}::float8)::int`;

/** Spreads spans (a subquery of group columns, s and e in ms) over the buckets each covers: the ms of each in each bucket. */
function spread(s: Statement, spans: string): string {
  const b0 = `(${s.start}::float8 + k * ${s.bucket}::float8)`;
  return `SELECT host, service, k, sum(least(e, ${b0} + ${s.bucket}::float8) - greatest(sp.s, ${b0}))::float8 AS ms
    FROM (${spans}) sp, generate_series(${bucketOf(s, 'sp.s')}, ${bucketOf(s, 'sp.e - 1')}) AS k
    WHERE sp.e > sp.s GROUP BY host, service, k`;
}

/** The SQL of each kind of sum a metric needs: rows of group, bucket k and the sums named as BucketSums' keys. */
function sumQueries(metric: TrendMetric, s: Statement): string[] {
  const g = `GROUP BY 1, 2, k`;
  const restarts = `SELECT ${s.group}, ${bucketOf(s, ms('started'))} AS k, count(*)::float8 AS restarts FROM runs
    WHERE ${s.where} AND started >= ${s.startTs} AND started < ${s.endTs} AND cause = 'restart' ${g}`;
  // Runs ended in the range: failures, the runs that ended (for the failure rate), and the repairs.
  const ends = `SELECT ${s.group}, ${bucketOf(s, ms('ended'))} AS k,
      count(*) FILTER (WHERE ${FAILED})::float8 AS failures,
      count(*) FILTER (WHERE outcome IN ('stopped', 'failed', 'spawn_failed'))::float8 AS ended,
      count(*) FILTER (WHERE ${FAILED} AND repaired IS NOT NULL)::float8 AS repairs,
      coalesce(sum(${ms('repaired')} - ${ms('ended')}) FILTER (WHERE ${FAILED} AND repaired IS NOT NULL), 0)::float8 AS "repairMs"
    FROM runs WHERE ${s.where} AND ended >= ${s.startTs} AND ended < ${s.endTs} ${g}`;
  // A run's up time within the range: from its start (or the range's) to its end (or now, or the range's).
  const up = `SELECT host, service, k, ms AS "upMs" FROM (${spread(
    s,
    `SELECT ${s.group}, greatest(${ms('started')}, ${s.start}::float8) AS s,
       least(coalesce(${ms('ended')}, ${s.now}::float8), ${s.end}::float8) AS e
     FROM runs WHERE ${s.where} AND started < ${s.endTs} AND (ended IS NULL OR ended > ${s.startTs})
       AND outcome IS DISTINCT FROM 'spawn_failed'`,
  )}) x`;
  const usage = `SELECT ${s.group}, ${bucketOf(s, ms('time'))} AS k, sum(wall_ms)::float8 AS "wallMs", sum(cpu_ms)::float8 AS "cpuMs",
      sum(rss_kb::float8 * wall_ms) AS "rssKbMs", max(rss_max_kb)::float8 AS "rssMaxKb"
    FROM samples WHERE ${s.where} AND time >= ${s.startTs} AND time < ${s.endTs} ${g}`;
  // Unhealthy: from each unhealthy event (the last one before the range too) to the next healthy, exited or buddy_started.
  const unhealthy = `SELECT host, service, k, ms AS "unhealthyMs" FROM (${spread(
    s,
    `SELECT ${s.group}, greatest(${ms('u.time')}, ${s.start}::float8) AS s,
       least(coalesce((SELECT ${ms('min(x.time)')} FROM events x WHERE x.host = u.host AND x.service_uuid = u.service_uuid
         AND x.time > u.time AND x.type IN ('healthy', 'exited', 'buddy_started')), ${s.now}::float8), ${s.end}::float8) AS e
     FROM (SELECT host, service_uuid, service, time FROM events WHERE ${s.where} AND type = 'unhealthy'
             AND time >= ${s.startTs} AND time < ${s.endTs}
           UNION ALL
           SELECT DISTINCT ON (host, service_uuid) host, service_uuid, service, time FROM events
             WHERE ${s.where} AND type = 'unhealthy' AND time < ${s.startTs} ORDER BY host, service_uuid, time DESC) u`,
  )}) x`;
  const needs: Record<TrendMetric, string[]> = {
    restarts: [restarts],
    failures: [ends],
    failrate: [ends],
    uptime: [up],
    mtbf: [up, ends],
    mttr: [ends],
    cpu: [usage],
    rss: [usage],
    unhealthy: [unhealthy],
  };
  return needs[metric];
}

/**
 * The groups the series are of, with when each was first known and its known time per bucket: the
 * host's services as their configuration changes tell (the first change of each, `added`, is when it
 * was recorded; one whose last change removed it counts only when named), and not before the host's
 * oldest event (what a host's own trend takes as the start of its history). The oldest event of a
 * host is the oldest of its services' (one index descent each, on events_by_host_service_time).
 */
function membersQuery(s: Statement, named: boolean): string {
  return `WITH m AS (
      SELECT host, service, ${ms('min(time)')} AS created, (array_agg(change ORDER BY time DESC))[1] AS last
      FROM config_changes WHERE ${s.where} AND time < ${s.endTs} GROUP BY host, service
    ), history AS (
      SELECT c.host, ${ms('min(f.first)')} AS t
      FROM (SELECT DISTINCT host, service_uuid FROM config_changes WHERE ${s.hostWhere} AND service_uuid IS NOT NULL) c,
        LATERAL (SELECT min(time) AS first FROM events e WHERE e.host = c.host AND e.service_uuid = c.service_uuid) f
      GROUP BY c.host
    ), g AS (
      SELECT ${s.group}, greatest(m.created, coalesce(h.t, m.created)) AS created
      FROM m LEFT JOIN history h USING (host) ${named ? '' : `WHERE last <> 'removed'`}
    )
    SELECT host, service, created::float8 AS created FROM g`;
}

const key = (r: GroupRow): string => JSON.stringify([r.host, r.service]);

/** The trend of the fleet (FleetReader.trend). */
export async function fleetTrend(db: FleetDatabase, q: FleetTrendQuery, now = Date.now()): Promise<FleetTrendResult> {
  if (!(TREND_METRICS as readonly string[]).includes(q.metric))
    throw new UpkError(ErrorCode.BAD_REQUEST, `metric: expected one of ${TREND_METRICS.join(', ')}, got ${JSON.stringify(q.metric)}`);
  const by = q.by ?? 'host,service';
  if (!FLEET_TREND_BY.includes(by))
    throw new UpkError(ErrorCode.BAD_REQUEST, `by: expected one of ${FLEET_TREND_BY.join(', ')}, got ${JSON.stringify(by)}`);
  const bucketMs = q.bucketMs;
  if (!Number.isInteger(bucketMs) || bucketMs < 60_000) throw new UpkError(ErrorCode.BAD_REQUEST, 'bucket: at least a minute');
  const start = Math.floor(timeMs('since', q.since) / bucketMs) * bucketMs;
  const end = Math.min(q.until !== undefined ? timeMs('until', q.until) : now, now);
  if (!(end > start)) throw new UpkError(ErrorCode.BAD_REQUEST, `the range is empty: ${isoTime(start)} to ${isoTime(end)}`);
  const range: Range = { start, end, bucketMs, now };
  const n = bucketCount(range);
  if (n > TREND_MAX_BUCKETS)
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      `${n} buckets of ${formatBucket(bucketMs)}: at most ${TREND_MAX_BUCKETS}; use a larger bucket or a shorter range`,
    );
  if (q.metric !== 'unhealthy' && !(await db.hasTable('runs')))
    throw new UpkError(ErrorCode.PROTOCOL_ERROR, `the fleet database ${db.name} has no runs and samples yet (fleet migration 003)`);
  const named = q.services !== undefined && q.services.length > 0 && !q.services.includes('all');
  const groups = new Map<string, { row: GroupRow; sums: BucketSums; knownFrom: number; knownMs: number[] | undefined }>();
  const groupOf = (row: GroupRow) => {
    let g = groups.get(key(row));
    if (!g)
      groups.set(
        key(row),
        (g = { row: { host: row.host, service: row.service }, sums: emptySums(n), knownFrom: start, knownMs: undefined }),
      );
    return g;
  };
  const m = statement(q, range, by);
  // Each member (a host's service) of a group: the group is known from its first member, and each
  // bucket's known time is its members' summed (a bucket's part after the member's start, and before now).
  const seen = new Set<string>();
  const members = await db.query<GroupRow & { created: number }>(membersQuery(m, named), m.p.values);
  const wanted = new Set(members.map(key)).size;
  if (wanted * n > FLEET_TREND_MAX_POINTS)
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      `${wanted} series × ${n} buckets: at most ${FLEET_TREND_MAX_POINTS.toLocaleString('en-US')} points in one fleet trend; ` +
        'use --by host or --by service, name hosts (--host) or services, a larger bucket, or a shorter range',
    );
  for (const row of members) {
    const g = groupOf(row);
    const created = Number(row.created);
    const known = (g.knownMs ??= new Array<number>(n).fill(0));
    g.knownFrom = seen.has(key(row)) ? Math.min(g.knownFrom, created) : created;
    seen.add(key(row));
    for (let k = 0; k < n; k++) {
      const b0 = start + k * bucketMs;
      known[k]! += Math.max(0, Math.min(b0 + bucketMs, end, now) - Math.max(b0, created));
    }
  }
  const kinds = sumQueries(q.metric, m).length;
  for (let i = 0; i < kinds; i++) {
    // Each statement with its own parameters (PostgreSQL refuses one it is given and does not use).
    const s = statement(q, range, by);
    for (const row of await db.query<SumRow>(sumQueries(q.metric, s)[i]!, s.p.values)) {
      if (row.k < 0 || row.k >= n) continue;
      const sums = groupOf(row).sums;
      for (const [name, value] of Object.entries(row)) {
        if (name === 'host' || name === 'service' || name === 'k' || !(name in sums)) continue;
        const into = sums[name as keyof BucketSums];
        into[row.k] = name === 'rssMaxKb' ? Math.max(into[row.k]!, Number(value)) : into[row.k]! + Number(value);
      }
    }
  }
  const bucketStarts = Array.from({ length: n }, (_, i) => isoTime(start + i * bucketMs));
  const series = [...groups.values()]
    .sort((a, b) => (a.row.host ?? '').localeCompare(b.row.host ?? '') || (a.row.service ?? '').localeCompare(b.row.service ?? ''))
    .map((g): FleetTrendSeries => {
      const values = computeSeries(q.metric, g.sums, g.knownFrom, range, g.knownMs);
      const out: FleetTrendSeries = {
        host: g.row.host,
        service: g.row.service,
        points: values.points.map((v, i) => ({ start: bucketStarts[i]!, ...v })),
        total: values.total,
      };
      if (values.max !== undefined) out.max = values.max;
      return out;
    });
  return { metric: q.metric, unit: TREND_UNITS[q.metric], bucketMs, since: isoTime(start), until: isoTime(end), by, series };
}
