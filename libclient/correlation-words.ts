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

/** When, against the failures: `2 s before`, `400 ms after`, `at the time of`. */
function when(offsetMs: number | null): string {
  if (offsetMs === null) return 'near';
  if (offsetMs === 0) return 'at the time of';
  return `${formatDuration(Math.abs(offsetMs))} ${offsetMs < 0 ? 'before' : 'after'}`;
}

/**
 * A correlation in words: `db restarted 2 s before 3 of the last 4 failures of web` (the median
 * offset); with `chance`, what chance alone would give: `(0.3 expected by chance, P = 0.002)`.
 */
export function describeCorrelation(c: Correlation, options: { chance?: boolean } = {}): string {
  const which = c.failures === 1 ? `the last failure of ${c.service}` : `${c.together} of the last ${c.failures} failures of ${c.service}`;
  const text = `${DID[c.kind](c.other)} ${when(c.medianOffsetMs)} ${which}`;
  if (!options.chance) return text;
  const why = [
    ...(c.prerequisite ? [`${c.other} is a prerequisite`] : []),
    `${Number(c.expected.toPrecision(2))} expected by chance, P = ${formatScore(c.score)}`,
  ];
  return `${text} (${why.join('; ')})`;
}
