// What upk's time options read (clients/upk/time.ts): a duration ago, a time of day (the last one), ISO 8601;
// and --since with --until resolved together (a time of day in --until: the first at or after the since).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTime, readTime, timeRange, TIME_WORDS } from '../../clients/upk/time.js';

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
