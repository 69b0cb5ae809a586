// The pure parts of what fails together that the controller and the fleet share (schema/correlation-rank.ts):
// the walk from the newest failures to the last n episodes (the same as episodeOnsets over all of them,
// and the range), the subject of `upk correlate --fleet` (HOST/NAME or NAME on one host), and what `upk why` asks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { episodeOnsets } from '../../schema/correlation-math.js';
import { LastEpisodes, whyAsk, WHY_CORRELATION_SPAN_MS } from '../../schema/correlation-rank.js';
import { CORRELATION_FAILURES, CORRELATION_LIMIT_MAX } from '../../schema/correlation-protocol.js';
import { ErrorCode } from '../../schema/errors.js';
import { fleetSubject } from '../../libclient/fleet-correlate.js';

/** A small seeded generator (mulberry32): the same times on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What LastEpisodes must give: the last n onsets of every failure, and the range from the oldest counted when some were left out. */
function oracle(
  times: number[],
  n: number,
  w: number,
  from: number,
  to: number,
): { failures: number[]; range: { from: number; to: number } } {
  const onsets = episodeOnsets(times, w);
  const failures = onsets.slice(-n);
  return { failures, range: { from: onsets.length > n ? failures[0]! : from, to } };
}

describe('LastEpisodes: the last n episodes, walked from the newest failure', () => {
  it('equals episodeOnsets over every failure, for random histories (ties, crash loops, n of 1 to more than there are)', () => {
    const next = random(7);
    for (let round = 0; round < 300; round++) {
      const w = 1 + Math.floor(next() * 50);
      const count = Math.floor(next() * 40);
      const times: number[] = [];
      let t = 1000;
      for (let i = 0; i < count; i++) {
        t += next() < 0.2 ? 0 : Math.floor(next() * 120); // some in one millisecond, some within w (one episode)
        times.push(t);
      }
      const n = 1 + Math.floor(next() * 12);
      const walk = new LastEpisodes(n, w, 0, t + 10);
      for (const x of [...times].reverse()) if (!walk.add(x)) break;
      assert.deepEqual(walk.result(), oracle(times, n, w, 0, t + 10), `round ${round}: n ${n}, w ${w}, ${times.join(' ')}`);
    }
  });

  it('stops once it has n + 1 onsets, and counts a crash loop once, at its first failure', () => {
    const walk = new LastEpisodes(2, 10, 0, 1000);
    assert.equal(walk.add(900), true);
    assert.equal(walk.add(895), true); // the same episode as 900
    assert.equal(walk.add(500), true);
    assert.equal(walk.add(100), true);
    assert.equal(walk.add(50), false); // the third onset (100) found: 500 is the oldest counted
    assert.deepEqual(walk.result(), { failures: [500, 895], range: { from: 500, to: 1000 } });
    assert.deepEqual(new LastEpisodes(3, 10, 0, 50).result(), { failures: [], range: { from: 0, to: 50 } });
  });

  it("why's ask: the 7 days up to the failure, the default n, every row", () => {
    assert.deepEqual(whyAsk(10 * 86_400_000, 5000), {
      windowMs: 5000,
      since: 10 * 86_400_000 - WHY_CORRELATION_SPAN_MS,
      until: 10 * 86_400_000,
      failures: CORRELATION_FAILURES,
      limit: CORRELATION_LIMIT_MAX,
    });
  });
});

describe('the subject of upk correlate --fleet', () => {
  it('HOST/NAME, or NAME on the one host given', () => {
    assert.deepEqual(fleetSubject('host-a/web', undefined), { host: 'host-a', name: 'web' });
    assert.deepEqual(fleetSubject('host-a/pkg::web@2', 'host-a'), { host: 'host-a', name: 'pkg::web@2' });
    assert.deepEqual(fleetSubject('web', 'host-b'), { host: 'host-b', name: 'web' });
  });

  it('no host, or two: BAD_REQUEST saying how to name it', () => {
    assert.throws(() => fleetSubject('web', undefined), {
      code: ErrorCode.BAD_REQUEST,
      message: /name it: HOST\/web, or one host with --host HOST/,
    });
    assert.throws(() => fleetSubject('host-a/web', 'host-b'), { code: ErrorCode.BAD_REQUEST, message: /choose one/ });
    assert.throws(() => fleetSubject('/web', undefined), { code: ErrorCode.BAD_REQUEST });
  });
});
