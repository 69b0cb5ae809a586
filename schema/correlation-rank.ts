// What fails together, put together (docs/correlation.md), pure: the walk that finds a service's last
// episodes of failures from its newest, the rows named and ranked, the fleet-wide pairs (each B's
// failures streamed past every A whose range they fall in, the stronger direction of a pair kept), and
// the ask of `upk why`. One definition for the controller (controller/correlation.ts, reading SQLite)
// and for the fleet (libclient/fleet-correlate.ts, reading PostgreSQL); the statistic itself is in
// correlation-math.ts.
import {
  CORRELATION_FAILURES,
  CORRELATION_KINDS,
  CORRELATION_LIMIT_MAX,
  CORRELATION_MIN_FAILURES,
  isSignificant,
  type Correlation,
  type CorrelationKind,
  type CorrelationResult,
} from './correlation-protocol.js';
import { FiguresSum, strongerFirst, type Figures, type Span } from './correlation-math.js';
import { isoTime } from './records.js';

/** What a correlation is asked for, in ms. */
export interface CorrelationAsk {
  windowMs: number;
  since: number;
  until: number;
  /** How many of the last failures count (n at most, at least 1). */
  failures: number;
  limit: number;
}

/** A service's last failures counted (the onsets of its last n episodes, oldest first) and the range chance is measured over. */
export interface LastFailures {
  failures: number[];
  range: Span;
}

/**
 * The onsets of a service's last `n` (≥ 1) episodes of failures within [from, to], from its failures
 * given newest first (`add`, until it answers false: it has seen enough), and the range the chance is
 * measured over: [from, to], or from the oldest onset counted when older ones were left out. A failure
 * at most `windowMs` after the one before it belongs to that one's episode (a crash loop is one episode,
 * counted at its first failure). It stops at n + 1 onsets: the one more tells whether any was left out.
 */
export class LastEpisodes {
  private readonly onsets: number[] = []; // newest first
  /** The oldest failure of the episode walked now. */
  private episode: number | null = null;

  constructor(
    private readonly n: number,
    private readonly windowMs: number,
    private readonly from: number,
    private readonly to: number,
  ) {}

  /** The next failure, older than (or as old as) every one before; false: no more is needed. */
  add(t: number): boolean {
    if (this.episode !== null && this.episode - t > this.windowMs) {
      this.onsets.push(this.episode);
      if (this.onsets.length > this.n) return false;
    }
    this.episode = t;
    return true;
  }

  result(): LastFailures {
    const onsets = [...this.onsets];
    if (this.episode !== null && onsets.length <= this.n) onsets.push(this.episode);
    const within = onsets.reverse();
    const failures = within.slice(-this.n);
    return { failures, range: { from: within.length > this.n ? failures[0]! : this.from, to: this.to } };
  }
}

/** An answer with no row yet: the range the chance is measured over, n, and whether n is too few. */
export function resultOf(service: string | null, ask: CorrelationAsk, range: Span, failures: number): CorrelationResult {
  return {
    service,
    windowMs: ask.windowMs,
    since: isoTime(range.from),
    until: isoTime(range.to),
    failures,
    tooFew: failures < CORRELATION_MIN_FAILURES,
    correlations: [],
  };
}

/** A row: the figures with the names put on them, and whether it is significant. */
export function correlationRow(service: string, other: string, kind: CorrelationKind, prerequisite: boolean, f: Figures): Correlation {
  const c: Correlation = { service, other, kind, prerequisite, ...f, significant: false };
  c.significant = isSignificant(c);
  return c;
}

/** Strongest first (correlation-math.ts), then by name and kind, so that equal rows keep one order. */
export function ranked(rows: Correlation[]): Correlation[] {
  const kindOrder = (k: CorrelationKind): number => CORRELATION_KINDS.indexOf(k);
  return rows.sort(
    (a, b) =>
      strongerFirst(a, b) ||
      (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) ||
      (a.other < b.other ? -1 : a.other > b.other ? 1 : 0) ||
      kindOrder(a.kind) - kindOrder(b.kind),
  );
}

/** A service that failed in the range, fleet-wide: its id, its last failures and range. */
export interface Failing extends LastFailures {
  id: string;
}

/**
 * Fleet-wide, one B: its failures (`add`, oldest first, from `from` to `to`) given to the FiguresSum of
 * every A (of `failing`, B itself left out) whose range, less w, they have reached. `found()`: A's index
 * → the figures of B's failures around A's, when some are together.
 */
export class FailuresAround {
  /** Where B's failures are read from and to; from null: no A to compare with. */
  readonly from: number | null;
  readonly to: number;
  private readonly as: number[];
  private readonly sums: FiguresSum[];
  /** The As whose range (from − w on) the stream has reached: the first `active` of `as`. */
  private active = 0;

  constructor(
    private readonly failing: readonly Failing[],
    b: string,
    private readonly windowMs: number,
    until: number,
  ) {
    const byFrom = [...failing.keys()].sort((x, y) => failing[x]!.range.from - failing[y]!.range.from);
    this.as = byFrom.filter((a) => failing[a]!.id !== b);
    this.sums = this.as.map((a) => new FiguresSum(failing[a]!.failures, windowMs, failing[a]!.range));
    this.from = this.as.length === 0 ? null : failing[this.as[0]!]!.range.from - windowMs;
    this.to = until + windowMs;
  }

  add(t: number): void {
    while (this.active < this.as.length && this.failing[this.as[this.active]!]!.range.from - this.windowMs <= t) this.active++;
    for (let i = 0; i < this.active; i++) this.sums[i]!.add(t);
  }

  found(): Map<number, Figures> {
    const found = new Map<number, Figures>();
    this.as.forEach((a, i) => {
      const f = this.sums[i]!.figures();
      if (f.together > 0) found.set(a, f);
    });
    return found;
  }
}

/**
 * The fleet-wide answer: `found[a]` (A's index in `failing`) maps B's index in `subjects` (their ids) to
 * the figures of B's failures around A's; of the two directions of a pair, the stronger is kept.
 */
export function pairsResult(
  failing: readonly Failing[],
  subjects: readonly string[],
  found: Map<number, Figures>[],
  ask: CorrelationAsk,
): CorrelationResult {
  const best = new Map<string, Correlation>();
  failing.forEach((a, aIndex) => {
    for (const [bIndex, f] of found[aIndex]!) {
      const b = subjects[bIndex]!;
      const pair = [a.id, b].sort().join('\n');
      const known = best.get(pair);
      if (!known || strongerFirst(f, known) < 0) best.set(pair, correlationRow(a.id, b, 'failed', false, f));
    }
  });
  const counted = failing.reduce((sum, s) => sum + s.failures.length, 0);
  const earliest = failing.reduce((min, s) => Math.min(min, s.range.from), ask.until);
  const result = resultOf(null, ask, { from: earliest, to: ask.until }, counted);
  result.tooFew = !failing.some((s) => s.failures.length >= CORRELATION_MIN_FAILURES);
  result.correlations = ranked([...best.values()]).slice(0, ask.limit);
  return result;
}

/** How far back from a failure `upk why` looks for its correlations: 7 days. */
export const WHY_CORRELATION_SPAN_MS = 7 * 86_400_000;

/**
 * What `upk why` asks for a failure that ended at `failedAt`: the service's last failures in the 7 days
 * up to it (CORRELATION_FAILURES of them at most), every row; it names the strongest significant one.
 */
export function whyAsk(failedAt: number, windowMs: number): CorrelationAsk {
  return {
    windowMs,
    since: failedAt - WHY_CORRELATION_SPAN_MS,
    until: failedAt,
    failures: CORRELATION_FAILURES,
    limit: CORRELATION_LIMIT_MAX,
  };
}

/** The correlation `upk why` names: the strongest significant one, or null. */
export function strongestOf(result: CorrelationResult): Correlation | null {
  return result.correlations.find((c) => c.significant) ?? null;
}
