// What fails together (upk correlate, and the line `upk why` adds): puts the figures of
// correlation-math.ts together from the times correlation-reads.ts reads, in memory bounded whatever
// the history holds: a service's last n failures, and the other services' events streamed past them
// (FiguresSum), never held. docs/correlation.md defines the statistic.
import type Database from 'better-sqlite3';
import {
  CORRELATION_FAILURES,
  CORRELATION_KINDS,
  CORRELATION_LIMIT_MAX,
  CORRELATION_MIN_FAILURES,
  isSignificant,
  type Correlation,
  type CorrelationKind,
  type CorrelationResult,
} from '../schema/correlation-protocol.js';
import { isoTime } from '../schema/records.js';
import { FiguresSum, strongerFirst, type Figures, type Span } from './correlation-math.js';
import { CorrelationReads } from './correlation-reads.js';

/** A service as correlations name it: its id, with every uuid that id had. */
export interface Subject {
  id: string;
  uuids: string[];
}

/** What a correlation is asked for, in ms. */
export interface CorrelationAsk {
  windowMs: number;
  since: number;
  until: number;
  /** How many of the last failures count (n at most, at least 1). */
  failures: number;
  limit: number;
}

export class Correlations {
  private readonly reads: CorrelationReads;

  constructor(db: Database.Database) {
    this.reads = new CorrelationReads(db);
  }

  /** Every service id ever recorded, with its uuids (a removed service's history counts too). */
  subjects(): Subject[] {
    const byId = new Map<string, string[]>();
    for (const r of this.reads.subjects()) byId.set(r.service, [...(byId.get(r.service) ?? []), r.uuid]);
    return [...byId].map(([id, uuids]) => ({ id, uuids }));
  }

  /**
   * The events of every other service near the last failures of `subject`, by kind, ranked
   * (docs/correlation.md). `prerequisites`: the ids that provide its Prerequisites, to say so.
   */
  around(subject: Subject, others: Subject[], ask: CorrelationAsk, prerequisites: ReadonlySet<string> = new Set()): CorrelationResult {
    const from = Math.max(ask.since, this.reads.oldest() ?? ask.since);
    const { failures, range } = this.reads.lastFailures(subject.uuids, ask.failures, ask.windowMs, from, ask.until);
    const result = resultOf(subject.id, ask, range, failures.length);
    if (failures.length === 0) return result;
    const own = new Set(subject.uuids);
    const rows: Correlation[] = [];
    for (const other of others.filter((o) => !o.uuids.some((u) => own.has(u)))) {
      for (const kind of CORRELATION_KINDS) {
        const sum = new FiguresSum(failures, ask.windowMs, range);
        for (const t of this.reads.times(other.uuids, kind, range.from - ask.windowMs, range.to + ask.windowMs)) sum.add(t);
        const f = sum.figures();
        if (f.together > 0) rows.push(row(subject.id, other.id, kind, prerequisites.has(other.id), f));
      }
    }
    result.correlations = ranked(rows).slice(0, ask.limit);
    return result;
  }

  /**
   * Fleet-wide: the pairs of services whose failures co-occur. For each service A and each other B,
   * B's failures around A's last failures; of the two directions of a pair, the stronger is kept.
   * Each B's failures are read once, streamed past every A whose range (±w) they fall in.
   */
  fleet(subjects: Subject[], ask: CorrelationAsk): CorrelationResult {
    const w = ask.windowMs;
    const from = Math.max(ask.since, this.reads.oldest() ?? ask.since);
    const failing = subjects
      .map((s) => ({ ...s, ...this.reads.lastFailures(s.uuids, ask.failures, ask.windowMs, from, ask.until) }))
      .filter((s) => s.failures.length > 0);
    // found[a]: B's index in `subjects` → the figures of B's failures around A's, when some are together.
    const found = failing.map(() => new Map<number, Figures>());
    const byFrom = [...failing.keys()].sort((x, y) => failing[x]!.range.from - failing[y]!.range.from);
    subjects.forEach((b, bIndex) => {
      const as = byFrom.filter((a) => failing[a]!.id !== b.id);
      if (as.length === 0) return;
      const sums = as.map((a) => new FiguresSum(failing[a]!.failures, w, failing[a]!.range));
      let active = 0; // the As whose range (from − w on) B's stream has reached: the first `active` of `as`
      for (const t of this.reads.times(b.uuids, 'failed', failing[as[0]!]!.range.from - w, ask.until + w)) {
        while (active < as.length && failing[as[active]!]!.range.from - w <= t) active++;
        for (let i = 0; i < active; i++) sums[i]!.add(t);
      }
      as.forEach((a, i) => {
        const f = sums[i]!.figures();
        if (f.together > 0) found[a]!.set(bIndex, f);
      });
    });
    const best = new Map<string, Correlation>();
    failing.forEach((a, aIndex) => {
      for (const [bIndex, f] of found[aIndex]!) {
        const b = subjects[bIndex]!;
        const pair = [a.id, b.id].sort().join('\n');
        const known = best.get(pair);
        if (!known || strongerFirst(f, known) < 0) best.set(pair, row(a.id, b.id, 'failed', false, f));
      }
    });
    const counted = failing.reduce((sum, s) => sum + s.failures.length, 0);
    const earliest = failing.reduce((min, s) => Math.min(min, s.range.from), ask.until);
    const result = resultOf(null, ask, { from: earliest, to: ask.until }, counted);
    result.tooFew = !failing.some((s) => s.failures.length >= CORRELATION_MIN_FAILURES);
    result.correlations = ranked([...best.values()]).slice(0, ask.limit);
    return result;
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

function row(service: string, other: string, kind: CorrelationKind, prerequisite: boolean, f: Figures): Correlation {
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

/** How far back from a failure `upk why` looks for its correlations: 7 days. */
export const WHY_CORRELATION_SPAN_MS = 7 * 86_400_000;

/**
 * The correlation `upk why` names for a failure that ended at `failedAt`: the strongest significant
 * one around the service's last failures in the 7 days up to it (CORRELATION_FAILURES of them at
 * most), or null.
 */
export function strongestCorrelation(
  correlations: Correlations,
  subject: Subject,
  failedAt: number,
  windowMs: number,
  prerequisites: ReadonlySet<string>,
): Correlation | null {
  const ask: CorrelationAsk = {
    windowMs,
    since: failedAt - WHY_CORRELATION_SPAN_MS,
    until: failedAt,
    failures: CORRELATION_FAILURES,
    limit: CORRELATION_LIMIT_MAX,
  };
  return correlations.around(subject, correlations.subjects(), ask, prerequisites).correlations.find((c) => c.significant) ?? null;
}
