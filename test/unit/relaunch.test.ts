// Relaunching a lost buddy (controller/relaunch.ts) on virtual time: tries 0.1 s apart doubling up to
// 5 s, the service unsupervised meanwhile with why, each cause logged once, an end when a buddy runs
// or the service is no longer to be supervised. integration/relaunch runs it on real buddies.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { BuddyLink } from '../../controller/buddy-link.js';
import { createLogger } from '../../controller/log.js';
import { RELAUNCH_BACKOFF_FIRST_MS, RELAUNCH_BACKOFF_MAX_MS, Relauncher } from '../../controller/relaunch.js';
import { ServiceEntry } from '../../controller/service-entry.js';
import { loadServiceText } from '../helpers/load-services.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

function world(t: TestContext, failures: (attempt: number) => string | null) {
  const cfg = loadServiceText(t, JSON.stringify({ web: { ExecStart: 'x' } })).services[0]!;
  const entry = new ServiceEntry(cfg, 'uuid-web', '/nonexistent/web', 'running');
  const clock = new VirtualClock(0);
  const tries: number[] = [];
  const logged: string[] = [];
  const started: string[] = [];
  let supervisable = true;
  let changes = 0;
  const link = { open: true, pid: 42 } as unknown as BuddyLink;
  const relaunch: Relauncher = new Relauncher({
    log: createLogger({ write: (line) => void logged.push(line) }),
    clock,
    supervisable: () => supervisable,
    attach: (e) => {
      tries.push(clock.now());
      const why = failures(tries.length);
      if (why) return Promise.reject(new Error(why));
      relaunch.supervised(e, link); // as Buddies.bind does
      return Promise.resolve(link);
    },
    start: (e) => Promise.resolve(void started.push(e.config.id)),
    publishStatus: () => undefined,
    unsupervisedChanged: () => void changes++,
  });
  return { relaunch, entry, clock, tries, logged, started, changes: () => changes, stopSupervising: () => (supervisable = false) };
}

describe('relaunch', { timeout: 10_000 }, () => {
  it('tries again 0.1 s apart, doubling up to 5 s; unsupervised meanwhile; each cause logged once; supervised again at last', async (t) => {
    const w = world(t, (n) => (n <= 9 ? `launch ${n} failed at 2026-12-06T01:00:0${n}.000Z` : null));
    w.entry.markStartDue();
    w.relaunch.reattach(w.entry, new Error('launch 0 failed at 2026-12-06T01:00:00.000Z'));
    assert.equal(w.entry.unsupervised?.attempts, 1);
    assert.deepEqual(w.relaunch.unsupervised, [w.entry]);
    await w.clock.pass(60_000);
    const gaps = w.tries.map((x, i) => x - (w.tries[i - 1] ?? 0));
    assert.deepEqual(gaps, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
    assert.equal(RELAUNCH_BACKOFF_FIRST_MS, gaps[0]);
    assert.equal(RELAUNCH_BACKOFF_MAX_MS, gaps.at(-1));
    assert.equal(w.logged.filter((l) => l.includes('unsupervised:')).length, 1, 'one cause: told once, whatever its numbers');
    assert.equal(w.entry.unsupervised, null);
    assert.deepEqual(w.relaunch.unsupervised, []);
    assert.match(w.logged.at(-1)!, /supervised again by buddy 42, after 10 failed launch\(es\) over 26 s/);
    assert.deepEqual(w.started, ['web'], 'its start was due: it starts once its buddy runs');
    assert.equal(w.clock.untilNext, null, 'no retry left');
  });

  it('a new cause is told; a service no longer to be supervised ends its retries', async (t) => {
    const w = world(t, (n) => (n === 1 ? 'no such file' : 'permission denied'));
    w.relaunch.reattach(w.entry, new Error('no such file'));
    await w.clock.pass(RELAUNCH_BACKOFF_FIRST_MS + 200);
    assert.deepEqual(
      w.logged.filter((l) => l.includes('unsupervised:')).map((l) => l.replace(/.*unsupervised: /, '').replace(/ \(.*/s, '')),
      ['no such file', 'permission denied'],
    );
    const before = w.tries.length;
    w.stopSupervising();
    await w.clock.pass(60_000);
    assert.ok(w.tries.length <= before + 1, 'at most the try already due');
    assert.equal(w.clock.untilNext, null);
    assert.deepEqual(w.relaunch.unsupervised, []);
  });

  it('stop() cancels every retry', async (t) => {
    const w = world(t, () => 'refused');
    w.relaunch.reattach(w.entry, new Error('refused'));
    w.relaunch.stop();
    await w.clock.pass(60_000);
    assert.deepEqual(w.tries, []);
  });
});
