// `upk shutdown` with no controller running (stopped, or Ctrl-C on `npm start`): it still stops
// every buddy and service, on their own sockets; their last events reach the next controller.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive, processesUnder } from '../helpers/sandbox.js';

describe('upk shutdown with no controller', { timeout: 90_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('alone');
    box.writeServices({
      web: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      worker: { ExecStart: `sh -c 'trap "" TERM; while :; do sleep 0.1; done'`, InitialState: 'running', MinUptime: 0.1, KillTimeout: 0.5 },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    await box.waitForState('worker', 'running');
  });
  after(() => box.cleanup());

  it('stops every buddy and service itself, and the next controller gets their last events', async () => {
    const statuses = await (await box.client()).status();
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    const began = Date.now();
    const res = await box.upk(['shutdown'], 60_000);
    const took = Date.now() - began;
    assert.equal(res.code, 0, res.stdout + res.stderr);
    // No controller socket: the buddies keep their last events in their journals at once, without
    // 11 tries 0.5 s apart (said in their logs; the time is only shown: a loaded machine varies).
    for (const s of ['web', 'worker']) {
      const log = readFileSync(join(box.runDir(s), 'log', 'buddy'), 'utf8');
      assert.match(log, /exiting: no controller runs \(no socket at /, `${s}: ${log}`);
      assert.doesNotMatch(log, /tries; events wait/);
    }
    console.log(`upk shutdown with no controller took ${took} ms`);
    assert.match(res.stdout, /^no controller runs: stopped 2 buddies directly/m);
    assert.match(res.stdout, /^web: ok: stopped; its buddy exited$/m);
    assert.match(res.stdout, /^worker: ok: stopped; its buddy exited$/m);
    for (const s of statuses) {
      assert.ok(!alive(s.pid!), `${s.name}'s process is gone`);
      assert.ok(!alive(s.buddyPid!), `${s.name}'s buddy is gone`);
    }
    assert.deepEqual(processesUnder(box.runDir('web')), []);
    const again = await box.upk(['shutdown']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing of upkeeper runs/);
    // A controller later takes in what they left: each buddy's events up to buddy_exiting.
    await box.startController();
    await box.waitFor('the journals taken in', () => {
      const events = box.events('web');
      return events.some((e) => e.type === 'buddy_exiting') ? events : undefined;
    });
  });

  it('a buddy that does not answer is named as not stopped, and the exit is 5', async () => {
    // The controller of the test before started them again (their desired state is still running).
    await box.waitForState('web', 'running');
    await box.waitForState('worker', 'running');
    const [web] = await (await box.client()).status('web');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    process.kill(web!.buddyPid!, 'SIGSTOP');
    try {
      const res = await box.upk(['shutdown'], 60_000);
      assert.equal(res.code, 5, res.stdout + res.stderr);
      assert.match(res.stdout, /^web: FAILED: the buddy on .*buddy\.sock does not answer .*: it and its service may still run/m);
      assert.match(res.stdout, /^worker: ok: stopped; its buddy exited$/m);
    } finally {
      process.kill(web!.buddyPid!, 'SIGCONT');
    }
    const again = await box.upk(['shutdown'], 60_000);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /^web: ok: stopped; its buddy exited$/m);
  });
});
