// What fails together, in plain words: the line `upk why` adds, and what any client may show of a
// correlation (docs/correlation.md).
import type { Correlation, CorrelationKind } from '../schema/correlation-protocol.js';
import { formatDuration } from '../schema/durations.js';

/** What the other service did, by kind: `db restarted`, `db was stopped`, `db's configuration changed`. */
const DID: Record<CorrelationKind, (other: string) => string> = {
  failed: (o) => `${o} failed`,
  restarted: (o) => `${o} restarted`,
  stopped: (o) => `${o} was stopped`,
  unhealthy: (o) => `${o} was unhealthy`,
  config: (o) => `${o}'s configuration changed`,
};

/** A score (P) for people: two significant digits, `< 0.0001` below that. */
export function formatScore(p: number): string {
  if (p >= 1) return '1';
  if (p < 0.0001) return '< 0.0001';
  return String(Number(p.toPrecision(2)));
}

/**
 * When, against the failures: `2 s before` or `400 ms after` (the median offset) when every one came
 * on that side, `at the time of` when every one came at the same millisecond, else `near`.
 */
function when(c: Correlation): string {
  const side = oneSide(c);
  return side === null ? 'near' : side === 'at the same time' ? 'at the time of' : side;
}

/**
 * The median offset in words when every one came on one side of the failures: `2 s before`, `400 ms
 * after`, `at the same time`; null when they came on both sides (sidesOf tells) or none came.
 */
export function oneSide(c: Pick<Correlation, 'together' | 'before' | 'after' | 'medianOffsetMs'>): string | null {
  const ms = c.medianOffsetMs;
  if (ms === null || sidesOf(c) !== null) return null;
  return ms === 0 ? 'at the same time' : `${formatDuration(Math.abs(ms))} ${ms < 0 ? 'before' : 'after'}`;
}

/** On which side of the failures they came, when not all on one: `1 before, 1 after, 1 at the same time`; else null. */
export function sidesOf(c: Pick<Correlation, 'together' | 'before' | 'after'>): string | null {
  if (c.before === c.together || c.after === c.together || (c.before === 0 && c.after === 0)) return null;
  const same = c.together - c.before - c.after;
  return [
    ...(c.before > 0 ? [`${c.before} before`] : []),
    ...(c.after > 0 ? [`${c.after} after`] : []),
    ...(same > 0 ? [`${same} at the same time`] : []),
  ].join(', ');
}

/**
 * A correlation in words: `db restarted 2 s before 3 of the last 4 failures of web` (the median
 * offset, when all came on one side; else `near … (2 before, 1 after)`); with `chance`, what chance
 * alone would give: `(0.3 expected by chance, P = 0.002)`.
 */
export function describeCorrelation(c: Correlation, options: { chance?: boolean } = {}): string {
  const which = c.failures === 1 ? `the last failure of ${c.service}` : `${c.together} of the last ${c.failures} failures of ${c.service}`;
  const sides = sidesOf(c);
  const text = `${DID[c.kind](c.other)} ${when(c)} ${which}`;
  if (!options.chance) return sides === null ? text : `${text} (${sides})`;
  const why = [
    ...(sides === null ? [] : [sides]),
    ...(c.prerequisite ? [`${c.other} is a prerequisite`] : []),
    `${Number(c.expected.toPrecision(2))} expected by chance, P = ${formatScore(c.score)}`,
  ];
  return `${text} (${why.join('; ')})`;
}
