// Answers a trend query: sums each service's runs and usage records per bucket in SQL, then computes
// the metric (trend-math.ts). Buckets of whole hours read the hourly sums (run_hours, samples_hourly):
// a month of a crash-looping service is tens of thousands of runs but 720 hours. Shorter buckets count
// the runs and minute records themselves, in SQL, never reading them out one by one.
import type Database from 'better-sqlite3';
import {
  TREND_MAX_BUCKETS,
  TREND_UNITS,
  type TrendMetric,
  type TrendQuery,
  type TrendResult,
  type TrendSeries,
} from '../schema/client-protocol.js';
import { formatBucket } from '../schema/durations.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { isoTime } from '../schema/records.js';
import { HOUR_MS } from './run-hours.js';
import { bucketCount, computeSeries, emptySums, flapping, spreadUp, type BucketSums, type Range } from '../schema/trend-math.js';
import { FAILED_RUN } from './failure-kinds.js';

/** How long samples keeps its minute records (samples_hourly keeps hours for AuditMaxAge). */
export const MINUTE_SAMPLES_MS = 7 * 86_400_000;

export interface TrendService {
  id: string;
  /** Every identity the id has had (a changed UUID makes a new one), the current one first. */
  uuids: string[];
  /** When the service was first recorded (services.created), or the oldest event kept if later. */
  knownFrom: number;
}

/** The bucket of a time column: parameters are bound as REAL, so the quotient is cast. */
const bucket = (column: string): string => `CAST((${column} - @start) / @bucket AS INTEGER)`;
/** A run's up time within the range: from its start (or the range's) to its end (or now, or the range's). */
const UP_SPAN = `SELECT max(started, @start) AS s, min(coalesce(ended, @now), @end) AS e FROM runs
  WHERE service_uuid = @uuid AND started >= @lo AND started < @end AND outcome IS NOT 'spawn_failed'`;

type Metric = TrendMetric;
const USES: Record<Metric, (keyof BucketSums)[]> = {
  restarts: ['restarts'],
  failures: ['failures'],
  failrate: ['failures', 'ended'],
  uptime: ['upMs'],
  mtbf: ['upMs', 'failures'],
  mttr: ['repairs'],
  cpu: ['wallMs'],
  rss: ['wallMs'],
  unhealthy: ['unhealthyMs'],
};

/** What the queries of one service's runs bind (each statement reads those it names). */
type RunParams = { uuid: string; start: number; end: number; bucket: number; lo: number; now: number };
/** A count (and a sum of ms) per bucket. */
type BucketRow = { k: number; n: number; ms?: number };
type UsageRow = { uuid: string; k: number; wall: number; cpu: number; rss: number; rssMax: number };
type HourlyRow = { k: number; restarts: number; failures: number; up: number; repairs: number; repairMs: number };

/** The trend queries, prepared once, each with its parameters and the rows it reads. */
function statements(db: Database.Database) {
  type Range = { start: number; end: number; bucket: number };
  return {
    // The last run begun before the range may reach into it.
    lo: db.prepare<{ uuid: string; start: number }, { t: number | null }>(
      'SELECT max(started) AS t FROM runs WHERE service_uuid = @uuid AND started < @start',
    ),
    restarts: db.prepare<RunParams, BucketRow>(`SELECT ${bucket('started')} AS k, count(*) AS n FROM runs
        WHERE service_uuid = @uuid AND started >= @start AND started < @end AND cause = 'restart' GROUP BY k`),
    failures: db.prepare<RunParams, BucketRow>(`SELECT ${bucket('ended')} AS k, count(*) AS n FROM runs
        WHERE service_uuid = @uuid AND started >= @lo AND started < @end AND ${FAILED_RUN} AND ended >= @start AND ended < @end GROUP BY k`),
    ended: db.prepare<RunParams, BucketRow>(`SELECT ${bucket('ended')} AS k, count(*) AS n FROM runs
        WHERE service_uuid = @uuid AND started >= @lo AND started < @end AND outcome IN ('stopped', 'failed', 'spawn_failed')
          AND ended >= @start AND ended < @end GROUP BY k`),
    upWithin: db.prepare<RunParams, BucketRow>(`SELECT ${bucket('s')} AS k, sum(e - s) AS n FROM (${UP_SPAN})
        WHERE e > s AND ${bucket('s')} = ${bucket('e - 1')} GROUP BY k`),
    upAcross: db.prepare<RunParams, { s: number; e: number }>(
      `SELECT s, e FROM (${UP_SPAN}) WHERE e > s AND ${bucket('s')} != ${bucket('e - 1')}`,
    ),
    repairs: db.prepare<RunParams, BucketRow>(`SELECT ${bucket('ended')} AS k, count(*) AS n, sum(repaired - ended) AS ms FROM runs
        WHERE service_uuid = @uuid AND started >= @lo AND started < @end AND ${FAILED_RUN} AND ended >= @start AND ended < @end
          AND repaired IS NOT NULL GROUP BY k`),
    hourly: db.prepare<
      Range & { uuid: string },
      HourlyRow
    >(`SELECT ${bucket('hour')} AS k, sum(restarts) AS restarts, sum(failures) AS failures, sum(up_ms) AS up,
          sum(repairs) AS repairs, sum(repair_ms) AS repairMs
        FROM run_hours WHERE service_uuid = @uuid AND hour >= @start AND hour < @end GROUP BY k`),
    open: db.prepare<{ uuid: string; end: number }, { started: number }>(
      'SELECT started FROM runs INDEXED BY runs_open WHERE service_uuid = @uuid AND ended IS NULL AND started < @end',
    ),
    // The densest burst of automatic restarts of the hours the range touches.
    densest: db.prepare<
      { uuid: string; from: number; end: number },
      { at: number; n: number }
    >(`SELECT burst AS n, burst_at AS at FROM run_hours
        WHERE service_uuid = @uuid AND hour >= @from AND hour < @end ORDER BY burst DESC, burst_at LIMIT 1`),
    oldest: db.prepare<[], { t: number | null }>('SELECT min(time) AS t FROM events'),
    // Unhealthy spans: each unhealthy event (the last one before the range too), and what ended it.
    unhealthyBefore: db.prepare<{ uuid: string; start: number }, { time: number }>(
      `SELECT time FROM events INDEXED BY events_by_type_time WHERE type = 'unhealthy' AND time < @start AND service_uuid = @uuid
        ORDER BY time DESC LIMIT 1`,
    ),
    unhealthyIn: db.prepare<{ uuid: string; start: number; end: number }, { time: number }>(
      `SELECT time FROM events INDEXED BY events_by_type_time WHERE type = 'unhealthy' AND time >= @start AND time < @end
        AND service_uuid = @uuid ORDER BY time`,
    ),
    unhealthyEnd: db.prepare<{ uuid: string; from: number }, { t: number | null }>(
      `SELECT min(time) AS t FROM events WHERE service_uuid = @uuid AND time > @from AND type IN ('healthy', 'exited', 'buddy_started')`,
    ),
    runaways: db.prepare<{ uuid: string; start: number; end: number }, { count: number; first: number | null }>(
      `SELECT count(*) AS count, min(time) AS first FROM events WHERE type = 'runaway' AND service_uuid = @uuid AND time >= @start AND time < @end`,
    ),
    // Usage of every service at once: one pass over the range of the time index.
    minutes: db.prepare<
      Range,
      UsageRow
    >(`SELECT b.service_uuid AS uuid, ${bucket('s.time')} AS k, sum(s.wall_ms) AS wall, sum(s.cpu_ms) AS cpu,
          sum(s.rss_kb * s.wall_ms) AS rss, max(s.rss_max_kb) AS rssMax
        FROM samples s JOIN buddies b ON b.id = s.buddy_id WHERE s.time >= @start AND s.time < @end GROUP BY b.service_uuid, k`),
    hours: db.prepare<
      Range,
      UsageRow
    >(`SELECT service_uuid AS uuid, ${bucket('hour')} AS k, sum(wall_ms) AS wall, sum(cpu_ms) AS cpu, sum(rss_kb_ms) AS rss,
          max(rss_max_kb) AS rssMax
        FROM samples_hourly WHERE hour >= @start AND hour < @end GROUP BY service_uuid, k`),
  };
}

export class TrendQueries {
  private readonly s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.s = statements(db);
  }

  trend(q: TrendQuery, services: TrendService[], now = Date.now()): TrendResult {
    const bucketMs = q.bucketMs;
    const start = Math.floor(Date.parse(q.since) / bucketMs) * bucketMs;
    const end = Math.min(q.until ? Date.parse(q.until) : now, now);
    if (!(end > start)) throw new UpkError(ErrorCode.BAD_REQUEST, `the range is empty: ${isoTime(start)} to ${isoTime(end)}`);
    const range: Range = { start, end, bucketMs, now };
    const n = bucketCount(range);
    if (n > TREND_MAX_BUCKETS) {
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `${n} buckets of ${formatBucket(bucketMs)}: at most ${TREND_MAX_BUCKETS}; use a larger bucket or a shorter range`,
      );
    }
    // Hourly sums serve whole-hour buckets of a range that ends now or on the hour (else its last hour would count too much).
    const hourly = bucketMs % HOUR_MS === 0 && (end === now || end % HOUR_MS === 0);
    const usage = q.metric === 'cpu' || q.metric === 'rss' ? this.usage(range, hourly) : new Map<string, BucketSums>();
    const series = services.map((svc): TrendSeries => {
      const sums = emptySums(n);
      let densest: { at: number; n: number } | null = null;
      const runaways = { count: 0, first: null as number | null };
      for (const uuid of svc.uuids) {
        const u = usage.get(uuid);
        if (u) addSums(sums, u);
        this.runSums(q.metric, uuid, range, sums, hourly);
        if (q.metric === 'unhealthy') this.unhealthySums(uuid, range, sums);
        const d = this.s.densest.get({ uuid, from: Math.floor(start / HOUR_MS) * HOUR_MS, end });
        if (d && (!densest || d.n > densest.n)) densest = d;
        const r = this.s.runaways.get({ uuid, start, end });
        if (r) runaways.count += r.count;
        if (r && r.first !== null && (runaways.first === null || r.first < runaways.first)) runaways.first = r.first;
      }
      const values = computeSeries(q.metric, sums, svc.knownFrom, range);
      const out: TrendSeries = {
        service: svc.id,
        uuid: svc.uuids[0]!,
        points: values.points.map((v, i) => ({ start: isoTime(start + i * bucketMs), ...v })),
        total: values.total,
        flapping: flapping(densest, runaways),
      };
      if (values.max !== undefined) out.max = values.max;
      return out;
    });
    return { metric: q.metric, unit: TREND_UNITS[q.metric], bucketMs, since: isoTime(start), until: isoTime(end), series };
  }

  /** Fill the sums of runs the metric needs. */
  private runSums(metric: Metric, uuid: string, r: Range, sums: BucketSums, hourly: boolean): void {
    const uses = USES[metric];
    if (!uses.some((k) => k === 'restarts' || k === 'failures' || k === 'upMs' || k === 'repairs')) return;
    // (the hourly sums do not count ended runs: a failure rate counts the runs themselves)
    if (hourly && !uses.includes('ended')) return this.hourlySums(uuid, r, sums);
    const lo = this.s.lo.get({ uuid, start: r.start })?.t ?? r.start;
    const p: RunParams = { uuid, start: r.start, end: r.end, bucket: r.bucketMs, lo, now: r.now };
    const add = (counts: Database.Statement<[RunParams], BucketRow>, into: number[], ms?: number[]): void => {
      for (const row of counts.all(p)) {
        into[row.k]! += row.n;
        if (ms) ms[row.k]! += row.ms ?? 0;
      }
    };
    if (uses.includes('restarts')) add(this.s.restarts, sums.restarts);
    if (uses.includes('failures')) add(this.s.failures, sums.failures);
    if (uses.includes('ended')) add(this.s.ended, sums.ended);
    if (uses.includes('upMs')) {
      add(this.s.upWithin, sums.upMs);
      for (const x of this.s.upAcross.all(p)) spreadUp(sums.upMs, r, x.s, x.e);
    }
    if (uses.includes('repairs')) add(this.s.repairs, sums.repairs, sums.repairMs);
  }

  /** Unhealthy time: from each unhealthy event to the next healthy, exited or buddy_started (or now). */
  private unhealthySums(uuid: string, r: Range, sums: BucketSums): void {
    const before = this.s.unhealthyBefore.get({ uuid, start: r.start });
    const starts = [...(before ? [before.time] : []), ...this.s.unhealthyIn.all({ uuid, start: r.start, end: r.end }).map((x) => x.time)];
    for (const from of starts) {
      const until = this.s.unhealthyEnd.get({ uuid, from })?.t ?? r.now;
      spreadUp(sums.unhealthyMs, r, Math.max(from, r.start), Math.min(until, r.end));
    }
  }

  /** The oldest event the database keeps: before it, what happened is not known any more. */
  historyStart(): number | null {
    return this.s.oldest.get()?.t ?? null;
  }

  /** Whole-hour buckets: the hourly sums, and the open runs up to now. */
  private hourlySums(uuid: string, r: Range, sums: BucketSums): void {
    for (const row of this.s.hourly.all({ uuid, start: r.start, end: r.end, bucket: r.bucketMs })) {
      sums.restarts[row.k]! += row.restarts;
      sums.failures[row.k]! += row.failures;
      sums.upMs[row.k]! += row.up;
      sums.repairs[row.k]! += row.repairs;
      sums.repairMs[row.k]! += row.repairMs;
    }
    for (const o of this.s.open.all({ uuid, end: r.end })) spreadUp(sums.upMs, r, Math.max(o.started, r.start), Math.min(r.now, r.end));
  }

  /** Usage sums per service: whole-hour buckets from the hourly sums (kept for AuditMaxAge), others from minute records (7 days). */
  private usage(r: Range, hourly: boolean): Map<string, BucketSums> {
    const n = bucketCount(r);
    const out = new Map<string, BucketSums>();
    const rows = (hourly ? this.s.hours : this.s.minutes).all({ start: r.start, end: r.end, bucket: r.bucketMs });
    for (const row of rows) {
      let sums = out.get(row.uuid);
      if (!sums) out.set(row.uuid, (sums = emptySums(n)));
      sums.wallMs[row.k]! += row.wall;
      sums.cpuMs[row.k]! += row.cpu;
      sums.rssKbMs[row.k]! += row.rss;
      sums.rssMaxKb[row.k] = Math.max(sums.rssMaxKb[row.k]!, row.rssMax);
    }
    return out;
  }
}

function addSums(into: BucketSums, from: BucketSums): void {
  for (const key of Object.keys(into) as (keyof BucketSums)[]) {
    const a = into[key];
    const b = from[key];
    for (let i = 0; i < a.length; i++) a[i] = key === 'rssMaxKb' ? Math.max(a[i]!, b[i]!) : a[i]! + b[i]!;
  }
}
