// Durations as people write and read them: "90s", "15m", "2h", "7d", "1w" in, "2 min 5 s" out.

/** Milliseconds per unit of a written duration. */
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A written duration, as a regular expression's source (also the configuration's JSON Schema pattern). */
export const DURATION_PATTERN = `^\\s*(\\d+(?:\\.\\d+)?)\\s*(${Object.keys(DURATION_UNITS).join('|')})\\s*$`;
const DURATION_RE = new RegExp(DURATION_PATTERN);

/** What parseDuration accepts, in words (for error messages). */
export const DURATION_WORDS = 'a duration like 500ms, 90s, 15m, 2h, 7d or 1w';

/** "15m" → 900000 (milliseconds); null when `text` is not a duration with a unit. */
export function parseDuration(text: string): number | null {
  const m = DURATION_RE.exec(text);
  return m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : null;
}

const STEPS: [number, string][] = [
  [604_800_000, 'w'],
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1000, 's'],
];

/** 125000 → "2 min 5 s", 90061000 → "1 d 1 h" (the two largest units), 850 → "850 ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 10_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000) * 1000;
  for (const [size, unit] of STEPS) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) {
      if (n > 0) parts.push(`${n} ${unit}`);
      else break;
      rest -= n * size;
    }
  }
  return parts.join(' ');
}

/** A bucket length in words: 3600000 → "1h", 300000 → "5m", 86400000 → "1d". */
export function formatBucket(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit]!;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
