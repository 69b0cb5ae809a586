// What upk's time options read (clients/upk/time.ts): a duration ago, a time of day (the last one), ISO 8601;
// and --since with --until resolved together (a time of day in --until: the first at or after the since).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { parseTime, readTime, timeRange, TIME_WORDS } from '../../clients/upk/time.js';
import { ErrorCode, UpkError } from '../../libclient/index.js';

/** Local time, as the clock on the wall shows it. */
const local = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => new Date(y, mo, d, h, mi, s).getTime();
const NOW = local(2026, 10, 21, 9, 30);

test('a duration ago, a time of day (today, or yesterday while it is yet to come), ISO 8601; anything else refused', () => {
  assert.equal(parseTime('15m', NOW), new Date(NOW - 15 * 60_000).toISOString());
  assert.equal(parseTime('02:13', NOW), new Date(local(2026, 10, 21, 2, 13)).toISOString());
  assert.equal(parseTime('09:30', NOW), new Date(NOW).toISOString(), 'now itself is today');
  assert.equal(parseTime('14:05:30', NOW), new Date(local(2026, 10, 20, 14, 5, 30)).toISOString(), 'yet to come today: yesterday');
  assert.equal(parseTime('2026-11-21T06:33:43Z', NOW), '2026-11-21T06:33:43.000Z');
  assert.equal(parseTime('2026-11-21T06:33:43+01:00', NOW), '2026-11-21T05:33:43.000Z');
  assert.equal(parseTime('2026-11-21 02:13', NOW), new Date(local(2026, 10, 21, 2, 13)).toISOString(), 'no offset: local time');
  assert.equal(parseTime('2026-11-20', NOW), new Date(local(2026, 10, 20, 0, 0)).toISOString(), 'a date alone: local midnight');
  // V8's other forms of Date.parse are not times anyone meant
  for (const bad of ['24:00', '7:60', '12:00:61', 'yesterday', '', '5', 'May 1', '2026-02-30', '2026-11-21T02:13+0100']) {
    assert.throws(() => parseTime(bad, NOW), /expected a duration ago .*a time of day/, bad);
  }
});

test('--until resolved with --since: a time of day is the first at or after the since; without --since, the last one', () => {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const range = (since: string | undefined, until: string | undefined, now: number) =>
    timeRange({ since: since === undefined ? undefined : readTime(since), until: until === undefined ? undefined : readTime(until) }, now);
  const at0220 = local(2026, 10, 21, 2, 20);
  // The review's case: at 02:20, 02:00 to 02:30 is today's half hour, not a range ending yesterday.
  assert.deepEqual(range('02:00', '02:30', at0220), { since: iso(local(2026, 10, 21, 2, 0)), until: iso(local(2026, 10, 21, 2, 30)) });
  // Without --since, a time of day in --until is the last one, as everywhere else.
  assert.deepEqual(range(undefined, '02:30', at0220), { until: iso(local(2026, 10, 20, 2, 30)) });
  assert.deepEqual(range('02:00', undefined, at0220), { since: iso(local(2026, 10, 21, 2, 0)) });
  assert.deepEqual(range(undefined, undefined, at0220), {});
  // Across midnight: since yesterday 23:00, until today 01:00.
  const at0030 = local(2026, 10, 21, 0, 30);
  assert.deepEqual(range('23:00', '01:00', at0030), { since: iso(local(2026, 10, 20, 23, 0)), until: iso(local(2026, 10, 21, 1, 0)) });
  // After a duration or an ISO since: the first time the clock showed it from then on; the since's own time is "at".
  assert.deepEqual(range('2d', '02:30', at0220), { since: iso(at0220 - 2 * 86_400_000), until: iso(local(2026, 10, 19, 2, 30)) });
  assert.deepEqual(range('2026-11-10 14:05:30', '14:05:30', at0220), {
    since: iso(local(2026, 10, 10, 14, 5, 30)),
    until: iso(local(2026, 10, 10, 14, 5, 30)),
  });
  assert.deepEqual(range('2026-11-10 14:05:31', '14:05:30', at0220).until, iso(local(2026, 10, 11, 14, 5, 30)));
  // Durations and ISO times in --until do not depend on --since.
  assert.deepEqual(range('02:00', '5m', at0220), { since: iso(local(2026, 10, 21, 2, 0)), until: iso(at0220 - 300_000) });
  assert.deepEqual(range('02:00', '2026-11-21T06:33:43Z', at0220).until, '2026-11-21T06:33:43.000Z');
  // What a time option takes, in the one text of the help and the errors.
  assert.throws(
    () => readTime('25:00'),
    (err: Error) => err.message === `expected ${TIME_WORDS}, got "25:00"`,
  );
  assert.match(TIME_WORDS, /02:13/);
});

/** `run` with the local zone `zone` (Node reads TZ again when it is set), then the zone as it was. */
function inZone<T>(zone: string, run: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = zone;
  try {
    return run();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

test('dates and times that do not exist are refused, not moved; years 0000–9999 as written', () => {
  for (const bad of [
    '2026-02-31T10:00Z', // V8 took it as March 3rd
    '2026-02-29',
    '2100-02-29T00:00Z',
    '2026-13-01',
    '2026-00-10T10:00Z',
    '2026-04-31 10:00',
    '2026-01-01T24:00Z',
    '2026-01-01T25:00',
    '2026-01-01T10:60Z',
    '2026-01-01T10:00:60Z',
    '2026-01-01T10:00+24:00',
    '2026-01-01T10:00+01:60',
  ]) {
    assert.throws(() => parseTime(bad, NOW), /expected a duration ago .*or ISO 8601, got/, bad);
  }
  assert.equal(parseTime('2024-02-29T12:00Z', NOW), '2024-02-29T12:00:00.000Z');
  assert.equal(parseTime('2000-02-29T12:00Z', NOW), '2000-02-29T12:00:00.000Z');
  assert.equal(parseTime('0000-02-29T00:00Z', NOW), '0000-02-29T00:00:00.000Z', 'year 0 is a leap year (proleptic Gregorian)');
  assert.equal(parseTime('0050-06-01T12:00:00.123456Z', NOW), '0050-06-01T12:00:00.123Z', 'digits past the millisecond dropped');
  // A date alone of a year 0000–0099: local midnight of that year, not of 1900–1999.
  const midnight = new Date(0);
  midnight.setFullYear(99, 11, 31);
  midnight.setHours(0, 0, 0, 0);
  assert.equal(parseTime('0099-12-31', NOW), midnight.toISOString());
  assert.equal(parseTime('9999-12-31T23:59:59.999Z', NOW), '9999-12-31T23:59:59.999Z');
});

test('a time out of the range of dates is an error naming what was expected, never a RangeError', () => {
  for (const big of ['99999999999999999999d', '9007199254740993ms', '2100000w']) {
    assert.throws(
      () => parseTime(big, NOW),
      (err: Error) =>
        err instanceof InvalidArgumentError && err.message === `expected a duration ago back to the year 0000 at most, got "${big}"`,
      big,
    );
  }
  assert.equal(parseTime('2000w', NOW), new Date(NOW - 2000 * 604_800_000).toISOString(), 'about 38 years: fine');
  assert.throws(() => parseTime('0000-01-01T00:00+01:00', NOW), /expected a time from 0000-01-01 to 9999-12-31 UTC/);
  assert.throws(() => readTime('99999999999999999999d'), InvalidArgumentError);
});

test('a --since still to come is a usage error naming it; one of now is not', () => {
  const toCome = (err: unknown): boolean =>
    err instanceof UpkError &&
    err.code === ErrorCode.BAD_REQUEST &&
    /^--since 2099-01-01T00:00Z: 2099-01-01T00:00:00.000Z is still to come/.test(err.message);
  assert.throws(() => timeRange({ since: readTime('2099-01-01T00:00Z') }, NOW), toCome);
  assert.throws(() => timeRange({ since: readTime('2099-01-01T00:00Z'), until: readTime('2099-01-02T00:00Z') }, NOW), toCome);
  assert.deepEqual(timeRange({ since: readTime('0s') }, NOW), { since: new Date(NOW).toISOString() });
  // A time of day is never to come (the last time the clock showed it); an --until to come is allowed.
  assert.deepEqual(timeRange({ since: readTime('09:31'), until: readTime('2099-01-01T00:00Z') }, NOW), {
    since: new Date(local(2026, 10, 20, 9, 31)).toISOString(),
    until: '2099-01-01T00:00:00.000Z',
  });
});

test('a time of day across a change of daylight saving time (America/New_York): the last the clock showed; a skipped one shifted', () => {
  inZone('America/New_York', () => {
    const utc = (iso: string): number => Date.parse(iso);
    // 2026-11-01: at 02:00 EDT the clock goes back to 01:00 EST; 01:15 is shown at 05:15Z and at 06:15Z.
    assert.equal(parseTime('01:15', utc('2026-11-01T06:30:00Z')), '2026-11-01T06:15:00.000Z', 'at 01:30 EST: the last 01:15, EST');
    assert.equal(parseTime('01:15', utc('2026-11-01T06:10:00Z')), '2026-11-01T05:15:00.000Z', 'at 01:10 EST: the 01:15 EDT');
    assert.equal(parseTime('01:15', utc('2026-11-01T05:20:00Z')), '2026-11-01T05:15:00.000Z');
    assert.equal(parseTime('23:00', utc('2026-11-01T06:30:00Z')), '2026-11-01T03:00:00.000Z', 'yesterday 23:00 EDT');
    assert.equal(parseTime('03:00', utc('2026-11-01T12:00:00Z')), '2026-11-01T08:00:00.000Z', 'after the change: EST');
    // 2026-03-08: at 02:00 EST the clock goes to 03:00 EDT; 02:30 is never shown: taken as 03:30 EDT (07:30Z).
    assert.equal(parseTime('02:30', utc('2026-03-08T14:00:00Z')), '2026-03-08T07:30:00.000Z', 'at 10:00 EDT');
    assert.equal(parseTime('02:30', utc('2026-03-08T07:10:00Z')), '2026-03-07T07:30:00.000Z', 'at 03:10 EDT: yesterday 02:30 EST');
    assert.equal(parseTime('01:59', utc('2026-03-08T14:00:00Z')), '2026-03-08T06:59:00.000Z');
    assert.equal(parseTime('03:00', utc('2026-03-08T14:00:00Z')), '2026-03-08T07:00:00.000Z');
    assert.equal(parseTime('12:00', utc('2026-03-08T14:00:00Z')), '2026-03-07T17:00:00.000Z', 'yesterday noon EST');
    // --until after --since: the first at or after the since.
    const range = (since: string, until: string, now: string) => timeRange({ since: readTime(since), until: readTime(until) }, utc(now));
    assert.deepEqual(range('00:30', '01:15', '2026-11-01T12:00:00Z'), {
      since: '2026-11-01T04:30:00.000Z',
      until: '2026-11-01T05:15:00.000Z',
    });
    assert.deepEqual(range('01:30', '02:30', '2026-03-08T14:00:00Z'), {
      since: '2026-03-08T06:30:00.000Z',
      until: '2026-03-08T07:30:00.000Z',
    });
    // ISO 8601 without offset, local: the earlier of a repeated time (as Date does), a skipped one shifted.
    assert.equal(parseTime('2026-11-01T01:15', utc('2026-12-01T00:00:00Z')), '2026-11-01T05:15:00.000Z');
    assert.equal(parseTime('2026-03-08 02:30', utc('2026-12-01T00:00:00Z')), '2026-03-08T07:30:00.000Z');
    assert.equal(parseTime('2026-03-08', utc('2026-12-01T00:00:00Z')), '2026-03-08T05:00:00.000Z');
  });
  // A zone whose change is at midnight (America/Santiago, 2026-09-06: 00:00 → 01:00): the date alone is 01:00.
  inZone('America/Santiago', () => {
    assert.equal(parseTime('2026-09-06', Date.parse('2026-12-01T00:00:00Z')), '2026-09-06T04:00:00.000Z');
  });
});
