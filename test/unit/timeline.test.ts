// The timeline's pure part: three sorted lists merged in time order (ties: the earlier list first),
// cut at a limit, and grouped into bursts by the gap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { burstsOf, mergeByTime, type Timed } from '../../controller/timeline.js';
import type { TimelineEntry } from '../../schema/timeline-protocol.js';

const T0 = Date.parse('2026-12-06T02:00:00.000Z');

/** A stand-in entry of a kind, at T0 + `s` seconds, of a service. */
function at(s: number, kind: TimelineEntry['kind'], service: string | null, id: number): Timed {
  const ms = T0 + s * 1000;
  const time = new Date(ms).toISOString();
  const entry = { time, kind, service, id } as unknown as TimelineEntry;
  return { ms, entry };
}
const ids = (ts: Timed[]): number[] => ts.map((t) => (t.entry as unknown as { id: number }).id);

describe('timeline merge', () => {
  const events = [at(0, 'event', 'web', 1), at(2, 'event', 'db', 2), at(30, 'event', 'web', 3), at(31, 'event', 'web', 4)];
  const changes = [at(1, 'config', 'web', 10), at(30, 'config', 'db', 11)];
  const requests = [at(0.5, 'request', null, 20), at(29.9, 'request', 'web', 21), at(30, 'request', 'web', 22)];

  it('interleaves the three lists in time order; at one time, events, then changes, then requests', () => {
    const { merged, truncated } = mergeByTime([events, changes, requests], 100);
    assert.equal(truncated, false);
    assert.deepEqual(ids(merged), [1, 20, 10, 2, 21, 3, 11, 22, 4]);
  });

  it('stops at the limit and tells it was cut; not when exactly the limit matched', () => {
    const cut = mergeByTime([events, changes, requests], 4);
    assert.deepEqual(ids(cut.merged), [1, 20, 10, 2]);
    assert.equal(cut.truncated, true);
    const exact = mergeByTime([events, changes, requests], 9);
    assert.equal(exact.merged.length, 9);
    assert.equal(exact.truncated, false);
    assert.deepEqual(mergeByTime([[], [], []], 10), { merged: [], truncated: false });
  });

  it('groups entries less than the gap apart into bursts; a pause of the gap or more begins a new one', () => {
    const { merged } = mergeByTime([events, changes, requests], 100);
    const bursts = burstsOf(merged, 10_000);
    assert.deepEqual(bursts, [
      { from: '2026-12-06T02:00:00.000Z', to: '2026-12-06T02:00:02.000Z', first: 0, count: 4, services: ['db', 'web'] },
      { from: '2026-12-06T02:00:29.900Z', to: '2026-12-06T02:00:31.000Z', first: 4, count: 5, services: ['db', 'web'] },
    ]);
    // Exactly the gap apart: two bursts; just under: one.
    assert.equal(burstsOf([at(0, 'event', 'a', 1), at(10, 'event', 'a', 2)], 10_000).length, 2);
    assert.equal(burstsOf([at(0, 'event', 'a', 1), at(9.999, 'event', 'a', 2)], 10_000).length, 1);
    // A lone request about no service: a burst naming none.
    assert.deepEqual(burstsOf([at(0, 'request', null, 1)], 10_000)[0]!.services, []);
    assert.deepEqual(burstsOf([], 10_000), []);
  });
});
