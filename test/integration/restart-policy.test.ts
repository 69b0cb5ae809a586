// The restart policy on real crash loops: rate limit, runaway hold, giving up.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

interface Row {
  seq: number;
  type: string;
  detail: string | null;
}

describe('restart policy', { timeout: 90_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('policy');
    box.writeServices({
      limited: { ExecStart: 'false', UserRateLimit: 0.4, UserMaxRestarts: -1, MinUptime: 0.05 },
      runaway: { ExecStart: 'false', UserRateLimit: 0, UserMaxRestarts: 3, UserRestartWindow: 2, MinUptime: 0.05 },
      quitter: { ExecStart: 'sh -c "exit 7"', UserRateLimit: 0, MaxConsecutiveFailures: 3, MinUptime: 0.5 },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('UserRateLimit spaces starts out', async () => {
    const c = await box.client();
    await c.start('limited');
    await box.waitFor('4 starts', () => box.eventTimes('limited', 'spawned').length >= 4, 10_000);
    await c.stop('limited');
    const t = box.eventTimes('limited', 'spawned');
    for (let i = 1; i < t.length; i++) assert.ok(t[i]! - t[i - 1]! >= 395, `starts ${i - 1} and ${i} are ${t[i]! - t[i - 1]!} ms apart`);
    const backoff = box.events('limited').find((e) => e.type === 'backoff');
    assert.equal(JSON.parse(backoff!.detail!).reason, 'ratelimit');
  });

  it('more than UserMaxRestarts starts in UserRestartWindow holds further starts', async () => {
    const c = await box.client();
    const t0 = Date.now();
    await c.start('runaway');
    const held = await box.waitFor('the runaway hold', async () => {
      const [s] = await c.status('runaway');
      return s?.hold?.reason === 'runaway' ? s : undefined;
    });
    assert.equal(held.state, 'backoff');
    const starts = box.eventTimes('runaway', 'spawned');
    assert.equal(starts.length, 4, 'the first start and 3 restarts');
    const runaway = box.events('runaway').filter((e) => e.type === 'runaway');
    assert.equal(runaway.length, 1);
    const until = Date.parse(JSON.parse(runaway[0]!.detail!).until);
    assert.ok(Math.abs(until - (starts[0]! + 2000)) <= 5, 'held until the first start leaves the window');
    await box.waitFor('a start after the hold', () => box.eventTimes('runaway', 'spawned').length >= 5, 6000);
    const fifth = box.eventTimes('runaway', 'spawned')[4]!;
    assert.ok(fifth >= until - 5, `the 5th start (${fifth - t0} ms) waits for the hold (${until - t0} ms)`);
    await c.stop('runaway');
  });

  it('MaxConsecutiveFailures failures in a row give up until a user starts it', async () => {
    const c = await box.client();
    const [outcome] = await c.start('quitter');
    assert.equal(outcome!.ok, false);
    assert.match(outcome!.message, /exited with code 7/);
    const failed = await box.waitForState('quitter', 'failed');
    assert.equal(failed.desired, 'running');
    assert.equal(failed.failures, 3);
    assert.equal(box.eventTimes('quitter', 'spawned').length, 3);
    const gaveUp = box.events('quitter').filter((e: Row) => e.type === 'failed');
    assert.equal(JSON.parse(gaveUp[0]!.detail!).failures, 3);
    const status = await box.upk(['status', 'quitter']);
    assert.equal(status.code, 6, 'not in its desired state');
    assert.match(status.stdout, /failed!/);
    await c.start('quitter');
    await box.waitFor('three more starts', () => box.eventTimes('quitter', 'spawned').length === 6);
    await box.waitForState('quitter', 'failed');
  });
});
