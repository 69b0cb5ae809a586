// ISO 8601 dates and times read by their components, one rule for every part: a date that exists in the
// calendar (no February 31st, no month 13), a time of day that exists (no hour 24 or 25, no minute 60), a
// year from 0000 to 9999 as written (never moved to the 1900s), and none of the other forms V8's
// `Date.parse` takes (`5`, `May 1`) nor what it does with impossible dates (2026-02-31 → March 3rd).

/** A date, with its time and offset when given, as written (month 1–12). */
export interface IsoParts {
  year: number;
  month: number;
  day: number;
  /** Whether a time of day was given: without one, hours to milliseconds are 0. */
  time: boolean;
  /** What stood between the date and the time: `T` (or `t`), a space, or nothing (a date alone). */
  separator: 'T' | ' ' | null;
  hour: number;
  minute: number;
  second: number;
  /** Milliseconds: digits past the third are dropped, as `Date.parse` drops them. */
  ms: number;
  /** `Z` or `±hh:mm`, in ms east of UTC; null when none is given (a local time, or a date alone). */
  offsetMs: number | null;
}

/** `YYYY-MM-DD`, then `T` or a space and `hh:mm`, `:ss`, `.fraction`, `Z` or `±hh:mm`. */
const ISO_FORM = /^(\d{4})-(\d{2})-(\d{2})(?:([T ])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/i;

/** The days of a month (1–12) of a year of the proleptic Gregorian calendar (0000 is a leap year). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** The parts of an ISO 8601 date or date and time; null when it is not of this form, or names a date or time that does not exist. */
export function isoParts(text: string): IsoParts | null {
  const m = ISO_FORM.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[5] ?? 0), Number(m[6] ?? 0), Number(m[7] ?? 0)];
  const ms = Number((m[8] ?? '').padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMs: number | null = null;
  const zone = m[9];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const [oh, om] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
    if (oh > 23 || om > 59) return null;
    offsetMs = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
  } else if (zone !== undefined) offsetMs = 0;
  const separator = m[4] === undefined ? null : m[4] === ' ' ? ' ' : 'T';
  return { year, month, day, time: m[4] !== undefined, separator, hour, minute, second, ms, offsetMs };
}

/**
 * The date and time of `p` read as if in UTC (its offset ignored), in ms since the epoch: every year
 * as written (`Date.UTC` alone moves 0000–0099 to 1900–1999).
 */
export function wallClockMs(p: Pick<IsoParts, 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'ms'>): number {
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, p.ms);
  return d.getTime();
}

/**
 * An instant as the wire carries it, in ms since the epoch: a date and time with `T` and its offset
 * (`Z` or `±hh:mm`), as `toISOString()` writes it (seconds and fraction optional); NaN for anything
 * else. Without the offset a time would be read in the zone of whatever process reads it.
 */
export function isoInstant(text: string): number {
  const p = isoParts(text);
  if (p === null || p.separator !== 'T' || p.offsetMs === null) return NaN;
  const ms = wallClockMs(p) - p.offsetMs;
  // Within the years 0000–9999 in UTC too, so that the time given back (ISO 8601 UTC) reads again.
  return ms >= INSTANT_MIN_MS && ms <= INSTANT_MAX_MS ? ms : NaN;
}

/** The first and last instants isoInstant takes: 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
export const INSTANT_MIN_MS = -62_167_219_200_000;
export const INSTANT_MAX_MS = 253_402_300_799_999;

/** What isoInstant takes, in words (for the errors of every part that reads one). */
export const ISO_INSTANT_WORDS = 'a date and time that exist, with Z or an offset, as 2026-11-21T02:13:00Z';
