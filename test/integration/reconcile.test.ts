// A controller that finds buddies whose state differs from what the database wants: the four cases of
// PreferBuddyStateForStopped and PreferBuddyStateForRunning. Also: SIGTERM stops the controller alone.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuddyLink } from '../../controller/buddy-link.js';
import { Sandbox, alive } from '../helpers/sandbox.js';

const svc = (initial: string, extra: Record<string, unknown>) => ({
  ExecStart: 'sleep 1000',
  InitialState: initial,
  MinUptime: 0.1,
  ...extra,
});

describe('reconciliation', { timeout: 90_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('reconcile');
    box.writeServices({
      // wanted running in the database; we stop them behind the controller's back
      'trust-db-stopped': svc('running', { PreferBuddyStateForStopped: false }),
      'trust-buddy-stopped': svc('running', { PreferBuddyStateForStopped: true }),
      // wanted stopped in the database; we start them behind the controller's back
      'trust-buddy-running': svc('stopped', { PreferBuddyStateForRunning: true }),
      'trust-db-running': svc('stopped', { PreferBuddyStateForRunning: false }),
    });
    await box.startController();
    await box.waitForState('trust-db-stopped', 'running');
    await box.waitForState('trust-buddy-stopped', 'running');
    const c = await box.client();
    const pid = c.controller.pid;
    const running = (await c.status()).filter((x) => x.pid !== null);
    // SIGTERM stops the controller alone
    process.kill(pid, 'SIGTERM');
    await box.waitFor('the controller gone', () => !alive(pid));
    for (const r of running) {
      assert.ok(alive(r.pid!), `${r.name} survived the controller's SIGTERM`);
      assert.ok(alive(r.buddyPid!), `${r.name}'s buddy survived it`);
    }
    assert.equal(running.length, 2);
    const direct = async (name: string, command: 'start' | 'stop'): Promise<void> => {
      const link = await BuddyLink.connect(join(box.runDir(name), 'buddy.sock'));
      await link.call(command, {});
      link.close();
    };
    await direct('trust-db-stopped', 'stop');
    await direct('trust-buddy-stopped', 'stop');
    await direct('trust-buddy-running', 'start');
    await direct('trust-db-running', 'start');
    await box.startController();
  });
  after(() => box.cleanup());

  it('database wants running, buddy has it stopped: started (PreferBuddyStateForStopped false)', async () => {
    const s = await box.waitForState('trust-db-stopped', 'running');
    assert.equal(s.desired, 'running');
  });

  it('database wants running, buddy has it stopped: recorded stopped (PreferBuddyStateForStopped true)', async () => {
    const [s] = await (await box.client()).status('trust-buddy-stopped');
    assert.equal(s!.state, 'stopped');
    assert.equal(s!.desired, 'stopped');
  });

  it('database wants stopped, buddy has it running: recorded running (PreferBuddyStateForRunning true)', async () => {
    const [s] = await (await box.client()).status('trust-buddy-running');
    assert.equal(s!.state, 'running');
    assert.equal(s!.desired, 'running');
  });

  it('database wants stopped, buddy has it running: stopped (PreferBuddyStateForRunning false)', async () => {
    const s = await box.waitForState('trust-db-running', 'stopped');
    assert.equal(s.desired, 'stopped');
  });

  it('the database records the decisions', () => {
    const db = box.db();
    try {
      const desired = Object.fromEntries(
        (db.prepare('SELECT name, desired FROM services').all() as { name: string; desired: string }[]).map((r) => [r.name, r.desired]),
      );
      assert.deepEqual(desired, {
        'trust-db-stopped': 'running',
        'trust-buddy-stopped': 'stopped',
        'trust-buddy-running': 'running',
        'trust-db-running': 'stopped',
      });
    } finally {
      db.close();
    }
  });
});
