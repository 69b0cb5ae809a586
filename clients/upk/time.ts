// Parses what users type: times (`90s`, `15m`, `2h`, `7d`, `1w` ago, a time of day, or an ISO 8601 date and time) and whole numbers.
import { InvalidArgumentError } from 'commander';
import { ErrorCode, UpkError, parseDuration } from '../../libclient/index.js';

/** What parseTime reads, in words (for the options' help and its errors). */
export const TIME_WORDS = 'a duration ago (90s, 15m, 2h, 7d, 1w), a time of day (02:13, 14:05:30: the last one), or ISO 8601';

/**
 * A time as users type it: a duration ago, a time of day in local time (`02:13`: today's, or yesterday's
 * while today's is still to come), or an ISO 8601 date and time; as ISO 8601 UTC.
 */
export function parseTime(text: string, now = Date.now()): string {
  const ago = parseDuration(text);
  if (ago !== null) return new Date(now - ago).toISOString();
  const ms = clockTime(text, now) ?? isoTime(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected ${TIME_WORDS}, got ${JSON.stringify(text)}`);
  return new Date(ms).toISOString();
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

/** `HH:MM` or `HH:MM:SS`, local time: the last time the clock showed it (ms), or null when it is no time of day. */
function clockTime(text: string, now: number): number | null {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return null;
  const [h, min, sec] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || min > 59 || sec > 59) return NaN;
  const d = new Date(now);
  d.setHours(h, min, sec, 0);
  if (d.getTime() > now) d.setDate(d.getDate() - 1);
  return d.getTime();
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
