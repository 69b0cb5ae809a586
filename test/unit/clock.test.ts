// The real clock: a timer longer than Node's limit (about 24.8 days) fires when due, not at once.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { REAL_CLOCK } from '../../system/clock.js';

describe('real clock', { timeout: 5_000 }, () => {
  it('a timer of 5 weeks fires after 5 weeks (Node alone would fire it after 1 ms), and can be cleared in any part', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const weeks5 = 5 * 7 * 86_400_000;
      const part = 2 ** 31 - 1;
      let fired = 0;
      REAL_CLOCK.setTimeout(() => (fired += 1), weeks5);
      mock.timers.tick(1);
      assert.equal(fired, 0, 'not after 1 ms');
      mock.timers.tick(part - 1);
      assert.equal(fired, 0, 'not at the end of the first part');
      mock.timers.tick(weeks5 - part - 1);
      assert.equal(fired, 0, 'not 1 ms early');
      mock.timers.tick(1);
      assert.equal(fired, 1, 'when due');
      const t = REAL_CLOCK.setTimeout(() => (fired += 1), weeks5);
      mock.timers.tick(part + 1);
      t.clear();
      mock.timers.tick(weeks5);
      assert.equal(fired, 1, 'cleared in its second part');
    } finally {
      mock.timers.reset();
    }
  });
});
