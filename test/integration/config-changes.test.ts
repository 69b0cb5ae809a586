// What a controller start does with configuration that changed while it was away.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive } from '../helpers/sandbox.js';

const ticker = (out: string) => ({
  ExecStart: `sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'`,
  InitialState: 'running',
  MinUptime: 0.1,
  RedirectStdout: out,
});

describe('configuration changes between controller runs', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('cfgchg');
    box.writeServices({ kept: ticker('./kept-a.out') }, 'kept.conf');
    box.writeServices({ broken: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } }, 'broken.conf');
    box.writeServices(
      { leaving: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, UnconfigureOnFileRemoval: true } },
      'leaving.conf',
    );
    await box.startController();
    for (const s of ['kept', 'broken', 'leaving']) await box.waitForState(s, 'running');
  });
  after(() => box.cleanup());

  it('a changed output destination is switched over without restarting the service or losing a line', async () => {
    const c = await box.client();
    const [before] = await c.status('kept');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    box.writeServices({ kept: ticker('./kept-b.out') }, 'kept.conf');
    await box.startController();
    await new Promise((r) => setTimeout(r, 400));
    const [after] = await (await box.client()).status('kept');
    assert.equal(after!.pid, before!.pid, 'not restarted');
    const a = readFileSync(join(box.servicesDir, 'kept-a.out'), 'utf8').trim().split('\n').map(Number);
    const b = readFileSync(join(box.servicesDir, 'kept-b.out'), 'utf8').trim().split('\n').map(Number);
    assert.ok(b.length > 2, 'new lines go to the new file');
    assert.deepEqual(
      [...a, ...b],
      [...a, ...b].map((_, i) => i + 1),
      'every line once, in order, across the two files',
    );
    assert.ok(box.events('kept').some((e) => e.type === 'reconfigured'));
  });

  it('a service whose file has errors keeps running with its last good configuration', async () => {
    writeFileSync(join(box.servicesDir, 'broken.conf'), '{ "broken": { "ExecStart": 42 } }');
    const c = await box.client();
    const [before] = await c.status('broken');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    await box.startController();
    const [after] = await (await box.client()).status('broken');
    assert.equal(after!.pid, before!.pid);
    assert.equal(after!.state, 'running');
    const status = await (await box.client()).controllerStatus();
    assert.ok(status.configIssues.some((i) => i.file.endsWith('broken.conf')));
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.match(log, /broken: .*broken\.conf has errors; it keeps its last good configuration/);
  });

  it('UnconfigureOnFileRemoval: once its file is gone, the service and its buddy are stopped and it is removed', async () => {
    const c = await box.client();
    const [leaving] = await c.status('leaving');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    rmSync(join(box.servicesDir, 'leaving.conf'));
    await box.startController();
    const names = (await (await box.client()).list()).map((s) => s.name);
    assert.ok(!names.includes('leaving'));
    assert.ok(!alive(leaving!.pid!), 'the service is stopped');
    assert.ok(!alive(leaving!.buddyPid!), 'its buddy is gone');
    const db = box.db();
    const row = db.prepare("SELECT removed FROM services WHERE name = 'leaving'").get() as { removed: number | null };
    const change = db.prepare("SELECT change, trigger FROM config_changes WHERE service = 'leaving' ORDER BY id DESC").get() as
      { change: string; trigger: string } | undefined;
    db.close();
    assert.ok(row.removed !== null, 'recorded as removed');
    assert.deepEqual(
      change && { ...change },
      { change: 'removed', trigger: 'start' },
      'the removal is a configuration change of the start-up',
    );
    const events = await box.upk(['events', 'leaving', '--json']);
    assert.ok(
      (JSON.parse(events.stdout) as { type: string }[]).some((e) => e.type === 'stopped'),
      'its history stays',
    );
  });
});
