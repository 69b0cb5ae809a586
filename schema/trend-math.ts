// The trend metrics, from per-bucket sums of a service's runs and usage records (trend-query.ts reads
// them with SQL). Pure: the tests feed it by hand.
import { FLAP_RESTARTS, FLAP_WINDOW_MS, type Flapping, type TrendMetric } from './client-protocol.js';

export interface Range {
  /** The first bucket's start (a multiple of bucketMs). */
  start: number;
  end: number;
  bucketMs: number;
  now: number;
}

/** What the database sums per bucket (arrays of bucketCount(range) numbers). */
export interface BucketSums {
  /** Automatic restarts begun in the bucket. */
  restarts: number[];
  /** Failures (exits nobody asked for, starts that could not execute) ended in the bucket. */
  failures: number[];
  /** Runs ended in the bucket, however (stopped, failed, could not start; not the runs whose end was lost). */
  ended: number[];
  /** Milliseconds some run of the service was up in the bucket. */
  upMs: number[];
  /** Failures in the bucket whose service ran again, and the milliseconds until it did. */
  repairs: number[];
  repairMs: number[];
  /** Usage records whose stretch ended in the bucket: wall time, CPU time, Σ rss×wall, highest rss (KiB). */
  wallMs: number[];
  cpuMs: number[];
  rssKbMs: number[];
  rssMaxKb: number[];
  /** Milliseconds the service was unhealthy in the bucket (from an unhealthy event to healthy, its exit, or its buddy's end). */
  unhealthyMs: number[];
}

export interface SeriesValues {
  points: { value: number | null; max?: number | null }[];
  total: number | null;
  max?: number | null;
}

export function bucketCount(r: Range): number {
  return Math.max(1, Math.ceil((r.end - r.start) / r.bucketMs));
}

/** Per-bucket sums, all zero. */
export function emptySums(n: number): BucketSums {
  const zeros = (): number[] => new Array<number>(n).fill(0);
  return {
    restarts: zeros(),
    failures: zeros(),
    ended: zeros(),
    upMs: zeros(),
    repairs: zeros(),
    repairMs: zeros(),
    wallMs: zeros(),
    cpuMs: zeros(),
    rssKbMs: zeros(),
    rssMaxKb: zeros(),
    unhealthyMs: zeros(),
  };
}

/** Add the time from s to e (ms) to the buckets it covers. */
export function spreadUp(upMs: number[], r: Range, s: number, e: number): void {
  for (let k = Math.floor((s - r.start) / r.bucketMs); k < upMs.length && e > s; k++) {
    const b0 = r.start + k * r.bucketMs;
    const b1 = b0 + r.bucketMs;
    if (b0 >= e) break;
    upMs[k]! += Math.max(0, Math.min(e, b1) - Math.max(s, b0));
  }
}

const overlap = (a0: number, a1: number, b0: number, b1: number): number => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const nullIf0 = (x: number, v: number): number | null => (x > 0 ? v : null);

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * The metric in each bucket and over the whole range. `knownFrom` is when the service was first
 * recorded: before it, its uptime is not known. `knownMs`: the known time of each bucket, when it is
 * given (several services summed, the fleet's trends); else it is counted from `knownFrom`.
 */
export function computeSeries(metric: TrendMetric, s: BucketSums, knownFrom: number, r: Range, knownMs?: number[]): SeriesValues {
  const n = bucketCount(r);
  const bucketBounds = (i: number): [number, number] => [r.start + i * r.bucketMs, Math.min(r.start + (i + 1) * r.bucketMs, r.end)];
  // The known time of each bucket and of the range: from knownFrom, or as given (`knownMs`).
  const knownIn = (i: number): number => knownMs?.[i] ?? overlap(knownFrom, r.now, ...bucketBounds(i));
  const knownAll = (): number => (knownMs ? sum(knownMs) : overlap(knownFrom, r.now, r.start, r.end));
  // A bucket that ends before the service was known (created, or its history pruned) has no value.
  const unknown = (i: number): boolean => bucketBounds(i)[1] <= knownFrom;
  const each = (f: (i: number) => number | null): { value: number | null }[] =>
    Array.from({ length: n }, (_, i) => ({ value: unknown(i) ? null : f(i) }));
  switch (metric) {
    case 'restarts':
    case 'failures': {
      const counts = s[metric];
      return { points: each((i) => counts[i]!), total: sum(counts) };
    }
    case 'failrate': {
      // Of the runs that ended, the share that failed: a job's runs, or a service's.
      const pct = (f: number, e: number): number | null => nullIf0(e, round((f / e) * 100, 3));
      return { points: each((i) => pct(s.failures[i]!, s.ended[i]!)), total: pct(sum(s.failures), sum(s.ended)) };
    }
    case 'uptime': {
      // (An overlap restart's two runs are both up for a moment: never more than all of the time.)
      const pct = (up: number, k: number): number | null => nullIf0(k, round((Math.min(up, k) / k) * 100, 3));
      return { points: each((i) => pct(s.upMs[i]!, knownIn(i))), total: pct(sum(s.upMs), knownAll()) };
    }
    case 'unhealthy': {
      const pct = (ms: number, k: number): number | null => nullIf0(k, round((ms / k) * 100, 3));
      return {
        points: each((i) => pct(s.unhealthyMs[i]!, knownIn(i))),
        total: pct(sum(s.unhealthyMs), knownAll()),
      };
    }
    case 'mtbf': {
      const mtbf = (up: number, f: number): number | null => nullIf0(f, round(up / f / 1000, 3));
      return { points: each((i) => mtbf(s.upMs[i]!, s.failures[i]!)), total: mtbf(sum(s.upMs), sum(s.failures)) };
    }
    case 'mttr': {
      const mean = (ms: number, c: number): number | null => nullIf0(c, round(ms / c / 1000, 3));
      return { points: each((i) => mean(s.repairMs[i]!, s.repairs[i]!)), total: mean(sum(s.repairMs), sum(s.repairs)) };
    }
    case 'cpu': {
      const cpu = (c: number, w: number): number | null => nullIf0(w, round((c / w) * 100, 2));
      return { points: each((i) => cpu(s.cpuMs[i]!, s.wallMs[i]!)), total: cpu(sum(s.cpuMs), sum(s.wallMs)) };
    }
    case 'rss': {
      const mean = (x: number, w: number): number | null => nullIf0(w, Math.round((x / w) * 1024));
      const points = Array.from({ length: n }, (_, i) =>
        unknown(i)
          ? { value: null, max: null }
          : { value: mean(s.rssKbMs[i]!, s.wallMs[i]!), max: nullIf0(s.wallMs[i]!, s.rssMaxKb[i]! * 1024) },
      );
      const wall = sum(s.wallMs);
      return { points, total: mean(sum(s.rssKbMs), wall), max: nullIf0(wall, Math.max(0, ...s.rssMaxKb) * 1024) };
    }
  }
}

/** Flapping from the densest window of restarts (count, and when it began) and the runaway holds. */
export function flapping(densest: { n: number; at: number } | null, runaways: { count: number; first: number | null }): Flapping | null {
  const restarts = densest?.n ?? 0;
  if (restarts < FLAP_RESTARTS && runaways.count === 0) return null;
  const at = restarts >= FLAP_RESTARTS ? densest!.at : (runaways.first ?? densest?.at ?? 0);
  return { restarts, windowMs: FLAP_WINDOW_MS, at: new Date(at).toISOString(), runaways: runaways.count };
}
