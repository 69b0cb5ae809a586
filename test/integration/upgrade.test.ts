// Replacing the controller by a newer build (upk controller restart from the new build) stops or
// restarts no buddy and no service; the new controller adopts the old buddies as they are.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Sandbox, alive, run } from '../helpers/sandbox.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

describe('upgrade', { timeout: 90_000 }, () => {
  let box: Sandbox;
  let newer = '';
  before(async () => {
    box = new Sandbox('upgrade');
    box.writeServices({ steady: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } });
    await box.startController();
    await box.waitForState('steady', 'running');
    // A newer build: the same code under another version number, installed elsewhere.
    newer = box.file('newer-build');
    mkdirSync(newer);
    cpSync(join(REPO, 'dist'), join(newer, 'dist'), { recursive: true });
    cpSync(join(REPO, 'schema', 'migrations'), join(newer, 'schema', 'migrations'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(newer, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(join(newer, 'package.json'), JSON.stringify({ ...pkg, version: '99.0.0' }));
  });
  after(() => box.cleanup());

  it('the new build replaces the controller; every buddy and service runs on untouched', async () => {
    const c = await box.client();
    const [before] = await c.status('steady');
    const oldController = c.controller.pid;
    c.close();
    const res = await run(
      process.execPath,
      [join(newer, 'dist', 'clients', 'upk', 'main.js'), 'controller', 'restart', '--json'],
      box.env,
      30_000,
    );
    assert.equal(res.code, 0, res.stderr);
    const restarted = JSON.parse(res.stdout) as { previous: { pid: number }; controller: { pid: number; version: string } };
    assert.equal(restarted.previous.pid, oldController);
    assert.equal(restarted.controller.version, '99.0.0');
    assert.ok(!alive(oldController));
    const [after] = await (await box.client()).status('steady');
    assert.equal(after!.state, 'running');
    assert.equal(after!.pid, before!.pid, 'the service was not restarted');
    assert.equal(after!.buddyPid, before!.buddyPid, 'the buddy was not restarted');
    const restartedEvents = box.events('steady').filter((e) => e.type === 'spawned' || e.type === 'buddy_started');
    assert.equal(restartedEvents.length, 2, 'one buddy start and one service start, ever');
  });
});
