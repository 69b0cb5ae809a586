// Parses what users type: times (`90s`, `15m`, `2h`, `7d`, `1w` ago, a time of day, or an ISO 8601 date and time) and whole numbers.
import { InvalidArgumentError } from 'commander';
import { ErrorCode, UpkError, parseDuration } from '../../libclient/index.js';

/** The forms every time option (`--since`, `--until`, `--at`) takes, in words: the one text of their help and of parseTime's errors. */
export const TIME_WORDS = 'a duration ago (90s, 15m, 2h, 7d, 1w), a time of day (02:13, 14:05:30), or ISO 8601';

/** The help of a `--since`: what it takes, and its default in words. */
export const sinceHelp = (fallback?: string): string =>
  `since a time: ${TIME_WORDS}${fallback === undefined ? '' : ` (default: ${fallback})`}`;

/** The help of every `--until`: what it takes (with `--since`, a time of day is the first at or after it), and its default. */
export const UNTIL_HELP = `until a time: ${TIME_WORDS} (with --since, a time of day is the first at or after it; default: now)`;

/** The help of an `--at`: what it takes. */
export const atHelp = (what: string): string => `${what}: ${TIME_WORDS}`;

/**
 * A time as typed, read but not yet resolved: what a time of day means depends on what it is resolved
 * against (`now`, or the `--since` before an `--until`).
 */
export type TimeArg = { ago: number } | { clock: [hours: number, minutes: number, seconds: number] } | { ms: number };

/** A commander option parser for a time option: the time read (exit 2 with what was expected otherwise). */
export function readTime(text: string): TimeArg {
  const ago = parseDuration(text);
  if (ago !== null) return { ago };
  const clock = clockTime(text);
  if (clock !== null) return { clock };
  const ms = isoTime(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected ${TIME_WORDS}, got ${JSON.stringify(text)}`);
  return { ms };
}

/**
 * A time read, as ISO 8601 UTC: a duration before `now`; a time of day the last time the clock showed it
 * (today's, or yesterday's while today's is still to come), or with `notBefore` the first time at or
 * after it that the clock showed it; an ISO 8601 time as it is.
 */
export function resolveTime(t: TimeArg, now: number, notBefore?: number): string {
  if ('ago' in t) return new Date(now - t.ago).toISOString();
  if ('ms' in t) return new Date(t.ms).toISOString();
  const [h, min, sec] = t.clock;
  const d = new Date(notBefore ?? now);
  d.setHours(h, min, sec, 0);
  if (notBefore === undefined ? d.getTime() > now : d.getTime() < notBefore) {
    d.setDate(d.getDate() + (notBefore === undefined ? -1 : 1));
    d.setHours(h, min, sec, 0); // the same time of day across a change of daylight saving time
  }
  return d.toISOString();
}

/** A time as users type it (readTime), resolved against `now` (resolveTime); as ISO 8601 UTC. */
export function parseTime(text: string, now = Date.now()): string {
  return resolveTime(readTime(text), now);
}

/** `--since` and `--until` resolved together, as ISO 8601 UTC (each absent when not given). */
export interface TimeRange {
  since?: string;
  until?: string;
}

/**
 * The `--since` and `--until` of a command, resolved at one `now`: `--since` as resolveTime does; a time
 * of day in `--until`, when `--since` is given, the first time at or after the since that the clock
 * showed it (`--since 02:00 --until 02:30` at 02:20: today's 02:30, not yesterday's), else the last one.
 * A default of `--since` is the command's, applied to what this returns: it moves no `--until`.
 */
export function timeRange(given: { since?: TimeArg | undefined; until?: TimeArg | undefined }, now = Date.now()): TimeRange {
  const range: TimeRange = {};
  if (given.since !== undefined) range.since = resolveTime(given.since, now);
  if (given.until !== undefined)
    range.until = resolveTime(given.until, now, range.since === undefined ? undefined : Date.parse(range.since));
  return range;
}

/**
 * ISO 8601 as people write it: a date (local midnight), or a date and time (`T` or a space between)
 * with `Z` or an offset, or without one (local time). Not V8's other forms of Date.parse (`5`, `May 1`).
 */
const ISO_LIKE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/i;

function isoTime(text: string): number {
  const m = ISO_LIKE.exec(text);
  if (!m) return NaN;
  if (m[4] === undefined) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const day = new Date(y, mo - 1, d);
    return day.getFullYear() === y && day.getMonth() === mo - 1 && day.getDate() === d ? day.getTime() : NaN;
  }
  return Date.parse(text.replace(' ', 'T'));
}

/** `HH:MM` or `HH:MM:SS`: null when it is no time of day (one out of range, as `24:00`, is refused). */
function clockTime(text: string): [number, number, number] | null {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return null;
  const [h, min, sec] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || min > 59 || sec > 59) throw new InvalidArgumentError(`expected ${TIME_WORDS}, got ${JSON.stringify(text)}`);
  return [h, min, sec];
}

/**
 * A whole number as people type it: decimal digits only (no sign, no `0x10`, no `1e3`, no blanks),
 * from `min` to `max`; else what was expected, in words.
 */
function readWholeNumber(text: string, min: number, max: number): number | { expected: string } {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isNaN(n) && n >= min && n <= max) return n;
  return {
    expected: `expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max.toLocaleString('en-US')}`}`,
  };
}

/** A commander option parser: `wholeNumber(min, max)` reads an option's value (exit 2 with the problem otherwise). */
export const wholeNumber =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (text: string): number => {
    const n = readWholeNumber(text, min, max);
    if (typeof n !== 'number') throw new InvalidArgumentError(`${n.expected}, got ${JSON.stringify(text)}`);
    return n;
  };

/** The same for an argument read in a command's action: `what text: expected …` (BAD_REQUEST, exit 2). */
export function wholeNumberArgument(what: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = readWholeNumber(text, min, max);
  if (typeof n !== 'number') throw new UpkError(ErrorCode.BAD_REQUEST, `${what}${what === '' ? '' : ' '}${text}: ${n.expected}`);
  return n;
}
