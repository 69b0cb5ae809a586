// The statistic of `upk correlate`, pure (docs/correlation.md): for a service's failures and another
// service's events of one kind, how many failures have such an event within ±w (k of n), how that
// compares with chance (p: the share of the range that the events' ±w windows cover), and a binomial
// tail P(X ≥ k) to rank by. Times are ms; every list of times is sorted, oldest first. Chance, Together
// and FiguresSum compute p, k and the figures from the other service's times given one at a time, so
// that the store streams them (controller/correlation-reads.ts) instead of holding them.

import type { Correlation } from './correlation-protocol.js';

/** A span of time [from, to], ms. */
export interface Span {
  from: number;
  to: number;
}

/** The figures of one (service, other, kind), before names are put on them (n, k, p, n × p, lift, P(X ≥ k), median offset). */
export type Figures = Pick<
  Correlation,
  'failures' | 'together' | 'chance' | 'expected' | 'lift' | 'score' | 'medianOffsetMs' | 'before' | 'after'
>;

/** The index of the first time ≥ t in sorted `times` (times.length when none is). */
export function firstAtOrAfter(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * p: the chance that a window of ±w centred anywhere in `range` holds one of `times`, that is the
 * length of the union of the windows [t − w, t + w] within the range, over the range's length
 * (1 at most, and 1 for an empty range: no evidence). Only the times within w of the range count.
 */
export function chanceOf(times: readonly number[], windowMs: number, range: Span): number {
  const length = range.to - range.from;
  if (length <= 0) return 1; // an empty range is no evidence of anything: every coincidence is chance
  let covered = 0;
  let end = -Infinity; // where the union so far ends
  for (let i = firstAtOrAfter(times, range.from - windowMs); i < times.length; i++) {
    const t = times[i]!;
    if (t - windowMs > range.to) break;
    const from = Math.max(t - windowMs, end, range.from);
    const to = Math.min(t + windowMs, range.to);
    if (to > from) covered += to - from;
    end = Math.max(end, to);
  }
  return Math.min(1, covered / length);
}

/**
 * k and the offsets: for each failure, the nearest of `times` (the earlier on a tie), counted when it
 * is at most `windowMs` away; its offset is t − failure (negative: before the failure).
 */
export function together(failures: readonly number[], times: readonly number[], windowMs: number): number[] {
  const offsets: number[] = [];
  for (const f of failures) {
    const i = firstAtOrAfter(times, f - windowMs);
    let best: number | null = null;
    for (let j = i; j < times.length && times[j]! <= f + windowMs; j++) {
      const offset = times[j]! - f;
      if (best === null || Math.abs(offset) < Math.abs(best)) best = offset;
    }
    if (best !== null) offsets.push(best);
  }
  return offsets;
}

/**
 * The onsets of the episodes of failures in sorted `times`: a failure at most `windowMs` after the
 * one before it belongs to that one's episode (a crash loop is one episode); each episode counts once,
 * at its first failure (docs/correlation.md). correlation-reads.ts walks the same from the newest.
 */
export function episodeOnsets(times: readonly number[], windowMs: number): number[] {
  return times.filter((t, i) => i === 0 || t - times[i - 1]! > windowMs);
}

/** The median of some numbers (the mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** ln(n!) for n up to CORRELATION_FAILURES_MAX and beyond, summed once and kept. */
const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i));
  return logFactorials[n]!;
}

/** P(X ≥ k) for X ~ Binomial(n, p): summed in logarithms, so that a large n neither underflows nor overflows. */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const terms: number[] = [];
  for (let i = k; i <= n; i++) terms.push(logFactorial(n) - logFactorial(i) - logFactorial(n - i) + i * lp + (n - i) * lq);
  const top = Math.max(...terms);
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - top);
  return Math.min(1, Math.exp(top) * sum);
}

/** The figures for `failures` of a service against `times` of another's events of one kind, over `range`. */
export function figures(failures: readonly number[], times: readonly number[], windowMs: number, range: Span): Figures {
  return figuresOf(failures.length, together(failures, times, windowMs), chanceOf(times, windowMs, range));
}

/** The figures from n, the offsets of the k failures together, and p. */
function figuresOf(n: number, offsets: readonly number[], p: number): Figures {
  const k = offsets.length;
  return {
    failures: n,
    together: k,
    chance: p,
    expected: n * p,
    lift: p > 0 && n > 0 ? k / n / p : null,
    score: binomialTail(n, k, p),
    medianOffsetMs: median(offsets),
    before: offsets.filter((o) => o < 0).length,
    after: offsets.filter((o) => o > 0).length,
  };
}

/**
 * chanceOf, one time at a time: `add` the times oldest first, then `value()` is chanceOf of them all.
 * It keeps two numbers, whatever the count: a history of millions of events is read as it streams.
 */
export class Chance {
  /** The length of the union of the windows within the range so far, and where that union ends. */
  private covered = 0;
  private end = -Infinity;

  constructor(
    private readonly windowMs: number,
    private readonly range: Span,
  ) {}

  add(t: number): void {
    const w = this.windowMs;
    if (t < this.range.from - w || t - w > this.range.to) return; // its window misses the range
    const from = Math.max(t - w, this.end, this.range.from);
    const to = Math.min(t + w, this.range.to);
    if (to > from) this.covered += to - from;
    this.end = Math.max(this.end, to);
  }

  value(): number {
    const length = this.range.to - this.range.from;
    return length <= 0 ? 1 : Math.min(1, this.covered / length);
  }
}

/**
 * together, one time at a time: `add` the times oldest first, then `offsets()` is together of them all.
 * A failure is settled by the first time at or after it: its nearest is that one or the latest before
 * it (the earlier of the two when as near). It keeps the failures' offsets, n at most.
 */
export class Together {
  private readonly found: number[] = [];
  /** The next failure to settle, and the latest time added (before it). */
  private next = 0;
  private last: number | null = null;

  constructor(
    private readonly failures: readonly number[],
    private readonly windowMs: number,
  ) {}

  add(t: number): void {
    while (this.next < this.failures.length && this.failures[this.next]! <= t) this.settle(this.failures[this.next++]!, t);
    this.last = t;
  }

  /** The offsets of the failures with a time within the window, in the failures' order. */
  offsets(): number[] {
    while (this.next < this.failures.length) this.settle(this.failures[this.next++]!, null);
    return this.found;
  }

  private settle(failure: number, after: number | null): void {
    const before = this.last !== null && failure - this.last <= this.windowMs ? this.last - failure : null;
    const later = after !== null && after - failure <= this.windowMs ? after - failure : null;
    if (before !== null && (later === null || -before <= later)) this.found.push(before);
    else if (later !== null) this.found.push(later);
  }
}

/**
 * figures, one time at a time (Chance and Together): `add` another service's times oldest first, then
 * `figures()` is figures(failures, those times, windowMs, range), for failures within the range (as
 * every caller's are: the last failures in it). A time whose window misses the range misses every
 * failure's too, and is passed over.
 */
export class FiguresSum {
  private readonly chance: Chance;
  private readonly together: Together;

  constructor(
    private readonly failures: readonly number[],
    private readonly windowMs: number,
    private readonly range: Span,
  ) {
    this.chance = new Chance(windowMs, range);
    this.together = new Together(failures, windowMs);
  }

  add(t: number): void {
    // Its window misses the range, so it misses every failure's (all within the range) too.
    if (t < this.range.from - this.windowMs || t - this.windowMs > this.range.to) return;
    this.chance.add(t);
    this.together.add(t);
  }

  figures(): Figures {
    return figuresOf(this.failures.length, this.together.offsets(), this.chance.value());
  }
}

/** The order of the rows: the lowest score first, then the highest lift, then the most failures together. */
export function strongerFirst(a: Figures, b: Figures): number {
  return a.score - b.score || (b.lift ?? Infinity) - (a.lift ?? Infinity) || b.together - a.together;
}
