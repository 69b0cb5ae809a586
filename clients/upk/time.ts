// Parses what users type: times (`90s`, `15m`, `2h`, `7d`, `1w` ago, a time of day, or an ISO 8601 date and time) and whole numbers.
import { InvalidArgumentError } from 'commander';
import { ErrorCode, UpkError, isoParts, parseDuration, wallClockMs } from '../../libclient/index.js';

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
 * A time as typed (`text`), read but not yet resolved: what a time of day means depends on what it is
 * resolved against (`now`, or the `--since` before an `--until`).
 */
export type TimeArg = ({ ago: number } | { clock: [hours: number, minutes: number, seconds: number] } | { ms: number }) & { text: string };

const DAY = 86_400_000;
/** The times the controller takes (ISO 8601 with four digits of year): 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
const FIRST_MS = wallClockMs({ year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, ms: 0 });
const LAST_MS = wallClockMs({ year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59, ms: 999 });
const inRange = (ms: number): boolean => ms >= FIRST_MS && ms <= LAST_MS;
const RANGE_WORDS = 'a time from 0000-01-01 to 9999-12-31 UTC';

/**
 * A commander option parser for a time option: the time read (exit 2 with what was expected
 * otherwise). A duration that reaches back before the year 0000 (`99999999999999999999d`) is refused
 * here, against now, rather than crash when it is resolved. (One parameter: commander passes the
 * option's previous value second.)
 */
export function readTime(text: string): TimeArg {
  return readTimeAt(text, Date.now());
}

/** readTime against a given `now`. */
function readTimeAt(text: string, now: number): TimeArg {
  const ago = parseDuration(text);
  if (ago !== null) {
    if (!inRange(now - ago))
      throw new InvalidArgumentError(`expected a duration ago back to the year 0000 at most, got ${JSON.stringify(text)}`);
    return { ago, text };
  }
  const clock = clockTime(text);
  if (clock !== null) return { clock, text };
  const ms = isoTime(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected ${TIME_WORDS}, got ${JSON.stringify(text)}`);
  if (!inRange(ms)) throw new InvalidArgumentError(`expected ${RANGE_WORDS}, got ${JSON.stringify(text)}`);
  return { ms, text };
}

/**
 * A time read, as ISO 8601 UTC: a duration before `now`; a time of day the last time the local clock
 * showed it (today's, or yesterday's while today's is still to come; in the hour repeated when daylight
 * saving time ends, the later one that is past), or with `notBefore` the first time at or after it
 * that the clock showed it; an ISO 8601 time as it is. A time of day the clock skipped (in the hour lost
 * when daylight saving time begins) is taken shifted by the change: 02:30 is 03:30 that day, as if the
 * clock had not moved yet. Out of the range the controller takes: BAD_REQUEST (exit 2), naming `text`.
 */
export function resolveTime(t: TimeArg, now: number, notBefore?: number): string {
  const ms = 'ago' in t ? now - t.ago : 'ms' in t ? t.ms : clockInstant(t.clock, now, notBefore);
  if (!inRange(ms)) throw new UpkError(ErrorCode.BAD_REQUEST, `${t.text}: expected ${RANGE_WORDS}`);
  return new Date(ms).toISOString();
}

/** A time as users type it (readTime), resolved against `now` (resolveTime); as ISO 8601 UTC. */
export function parseTime(text: string, now = Date.now()): string {
  return resolveTime(readTimeAt(text, now), now);
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
 * A `--since` still to come (after `now`) is a BAD_REQUEST (exit 2): nothing is recorded there yet,
 * and it is almost certainly a mistake (a wrong year, `--since` for `--until`).
 */
export function timeRange(given: { since?: TimeArg | undefined; until?: TimeArg | undefined }, now = Date.now()): TimeRange {
  const range: TimeRange = {};
  if (given.since !== undefined) {
    const since = resolveTime(given.since, now);
    if (Date.parse(since) > now)
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `--since ${given.since.text}: ${since} is still to come (it is ${new Date(now).toISOString()}); expected a time past`,
      );
    range.since = since;
  }
  if (given.until !== undefined)
    range.until = resolveTime(given.until, now, range.since === undefined ? undefined : Date.parse(range.since));
  return range;
}

/** An ISO 8601 time as people write it: ms, or NaN when it is none (isoParts, schema/iso-time.ts: a date that exists). */
function isoTime(text: string): number {
  const p = isoParts(text);
  if (p === null) return NaN;
  const wall = wallClockMs(p);
  return p.offsetMs === null ? localInstant(wall) : wall - p.offsetMs;
}

/** The local zone's offset at the instant `t` (ms east of UTC): what the local clock showed then, less `t`. */
function localOffset(t: number): number {
  const d = new Date(t);
  const [year, month, day] = [d.getFullYear(), d.getMonth() + 1, d.getDate()];
  return wallClockMs({ year, month, day, hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(), ms: d.getMilliseconds() }) - t;
}

/**
 * The instants at which the local clock showed `wall` (a date and time as wallClockMs reads it),
 * earliest first: one; two in the hour repeated when daylight saving time ends; none in the hour
 * skipped when it begins. (A change of the zone's offset is taken to happen at most once a day.)
 */
function localInstants(wall: number): number[] {
  const offsets = new Set([localOffset(wall - DAY), localOffset(wall), localOffset(wall + DAY)]);
  return [...offsets]
    .map((offset) => wall - offset)
    .filter((t) => localOffset(t) === wall - t)
    .sort((a, b) => a - b);
}

/** The instants a local date and time stands for: localInstants, or for one the clock skipped the instant shifted by the change (02:30 → 03:30). */
function localCandidates(wall: number): number[] {
  const found = localInstants(wall);
  return found.length > 0 ? found : [wall - localOffset(wall - DAY)];
}

/** A local date and time without offset: the earlier instant when the clock showed it twice, the shifted one when it skipped it (as JavaScript's Date does). */
function localInstant(wall: number): number {
  return localCandidates(wall)[0]!;
}

/**
 * A time of day resolved: the last instant at or before `now` that the local clock showed it, or with
 * `notBefore` the first one at or after it (localCandidates, day by day from the local date of the reference).
 */
function clockInstant([h, min, sec]: [number, number, number], now: number, notBefore?: number): number {
  const from = notBefore ?? now;
  const midnight = Math.floor((from + localOffset(from)) / DAY) * DAY;
  const timeOfDay = ((h * 60 + min) * 60 + sec) * 1000;
  const step = notBefore === undefined ? -DAY : DAY;
  for (let day = 0; ; day++) {
    const candidates = localCandidates(midnight + day * step + timeOfDay);
    const fit = notBefore === undefined ? candidates.filter((t) => t <= now) : candidates.filter((t) => t >= notBefore);
    if (fit.length > 0 || day === 2) return notBefore === undefined ? Math.max(...fit, -Infinity) : Math.min(...fit, Infinity);
  }
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
