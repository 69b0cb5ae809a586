// The audit database is deleted while services run: the next controller keeps every service's
// identity from its run directory and finds its buddy; nothing is restarted.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

describe('a lost database', { timeout: 60_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('dbloss');
    box.writeServices({ keeper: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } });
    await box.startController();
    await box.waitForState('keeper', 'running');
  });
  after(() => box.cleanup());

  it('a new database: same uuid, same buddy, same process', async () => {
    const [before] = await (await box.client()).status('keeper');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    for (const f of ['upkeeper.db', 'upkeeper.db-wal', 'upkeeper.db-shm']) rmSync(join(box.stateDir, f), { force: true });
    await box.startController();
    const [after] = await (await box.client()).status('keeper');
    assert.equal(after!.uuid, before!.uuid, 'the identity comes back from the run directory');
    assert.equal(after!.pid, before!.pid);
    assert.equal(after!.buddyPid, before!.buddyPid);
    assert.equal(after!.state, 'running');
  });
});
