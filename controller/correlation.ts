// What fails together (upk correlate, and the line `upk why` adds): puts the figures of
// schema/correlation-math.ts together (schema/correlation-rank.ts: the rows, their order, the pairs)
// from the times correlation-reads.ts reads, in memory bounded whatever the history holds: a service's
// last n failures, and the other services' events streamed past them (FiguresSum), never held.
// docs/correlation.md defines the statistic.
import type Database from 'better-sqlite3';
import { CORRELATION_KINDS, type Correlation, type CorrelationResult } from '../schema/correlation-protocol.js';
import { FiguresSum, type Figures } from '../schema/correlation-math.js';
import {
  FailuresAround,
  correlationRow,
  pairsResult,
  ranked,
  resultOf,
  strongestOf,
  whyAsk,
  type CorrelationAsk,
} from '../schema/correlation-rank.js';
import { CorrelationReads } from './correlation-reads.js';

/** A service as correlations name it: its id, with every uuid that id had. */
export interface Subject {
  id: string;
  uuids: string[];
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
        if (f.together > 0) rows.push(correlationRow(subject.id, other.id, kind, prerequisites.has(other.id), f));
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
    subjects.forEach((b, bIndex) => {
      const around = new FailuresAround(failing, b.id, w, ask.until);
      if (around.from === null) return;
      for (const t of this.reads.times(b.uuids, 'failed', around.from, around.to)) around.add(t);
      for (const [a, f] of around.found()) found[a]!.set(bIndex, f);
    });
    return pairsResult(
      failing,
      subjects.map((s) => s.id),
      found,
      ask,
    );
  }
}

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
  return strongestOf(correlations.around(subject, correlations.subjects(), whyAsk(failedAt, windowMs), prerequisites));
}
