// planRestart on given times.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRestart, pruneStarts, type RestartPolicy } from '../../buddy/restart-policy.js';

const p = (x: Partial<RestartPolicy> = {}): RestartPolicy => ({
  rateLimitMs: 1000,
  randomize: false,
  maxRestarts: 3,
  windowMs: 10_000,
  ...x,
});

describe('restart policy', { timeout: 5000 }, () => {
  it('restarts at once when the last start is older than the rate limit', () => {
    assert.deepEqual(planRestart(p(), [0], 1000, Math.random), { kind: 'now' });
  });
  it('delays to last start + rate limit', () => {
    assert.deepEqual(planRestart(p(), [500], 1000, Math.random), { kind: 'delay', until: 1500, reason: 'ratelimit' });
  });
  it('jitter is between 0 and 50 % of the rate limit', () => {
    assert.deepEqual(
      planRestart(p({ randomize: true }), [0], 10, () => 0),
      { kind: 'delay', until: 1000, reason: 'ratelimit' },
    );
    assert.deepEqual(
      planRestart(p({ randomize: true }), [0], 10, () => 0.999),
      { kind: 'delay', until: 1500, reason: 'ratelimit' },
    );
  });
  it('allows the first start plus maxRestarts in a window, then holds', () => {
    const pol = p({ rateLimitMs: 0 });
    assert.deepEqual(planRestart(pol, [0, 1, 2], 3, Math.random), { kind: 'now' });
    assert.deepEqual(planRestart(pol, [0, 1, 2, 3], 4, Math.random), { kind: 'delay', until: 10_000, reason: 'runaway' });
    assert.deepEqual(planRestart(pol, [0, 1, 2, 3], 10_000, Math.random), { kind: 'now' });
  });
  it('a window that delays a start by a few ms past the rate limit is no runaway hold', () => {
    // Starts at the rate limit: the window lets the next one go 3 ms after the rate limit does.
    const pol = p({ rateLimitMs: 1000, maxRestarts: 2, windowMs: 3003 });
    assert.deepEqual(planRestart(pol, [0, 1000, 2000], 2500, Math.random), { kind: 'delay', until: 3003, reason: 'ratelimit' });
    // Half a second later than the rate limit: a hold worth telling.
    assert.deepEqual(planRestart(p({ rateLimitMs: 1000, maxRestarts: 2, windowMs: 3500 }), [0, 1000, 2000], 2500, Math.random), {
      kind: 'delay',
      until: 3500,
      reason: 'runaway',
    });
  });
  it('a negative maxRestarts means no runaway limit', () => {
    assert.deepEqual(planRestart(p({ rateLimitMs: 0, maxRestarts: -1 }), [0, 1, 2, 3, 4, 5], 6, Math.random), { kind: 'now' });
  });
  it('pruneStarts keeps what the window and the rate limit need', () => {
    const pol = p({ maxRestarts: 2 });
    assert.deepEqual(pruneStarts([1, 2, 3, 4, 5], pol, 6), [3, 4, 5]);
    assert.deepEqual(pruneStarts([1, 2], pol, 100_000), [2]);
  });
});
