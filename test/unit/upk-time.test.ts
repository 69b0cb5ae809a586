// What upk's time options read (clients/upk/time.ts): a duration ago, a time of day (the last one), ISO 8601.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTime } from '../../clients/upk/time.js';

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
