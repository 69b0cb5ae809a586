// Configuration reload: all or nothing; added, changed and removed services; every change audited.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive } from '../helpers/sandbox.js';

describe('configuration reload', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const base = () => ({
    alpha: { ExecStart: `sh -c 'echo one; exec sleep 1000'`, InitialState: 'running', MinUptime: 0.1 },
    keeper: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
  });
  before(async () => {
    box = new Sandbox('reload');
    box.writeServices(base(), 'main.conf');
    box.writeServices(
      { leaver: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, UnconfigureOnFileRemoval: true } },
      'pkg.conf',
    );
    await box.startController();
    for (const s of ['alpha', 'keeper', 'leaver']) await box.waitForState(s, 'running');
  });
  after(() => box.cleanup());

  it('a bad file: nothing changes, every problem is reported, services are untouched', async () => {
    const c = await box.client();
    const before = await c.status();
    writeFileSync(join(box.servicesDir, 'main.conf'), '{ "alpha": { "ExecStart": 5 },\n  "beta": { "KilTimeout": 1 } }');
    const res = await box.upk(['reload-config']);
    assert.equal(res.code, 7);
    assert.match(res.stdout, /main\.conf:1:.*alpha\.ExecStart/);
    assert.match(res.stdout, /main\.conf:2:.*beta\.KilTimeout.*KillTimeout/);
    assert.match(res.stdout, /nothing changed/);
    const after = await c.status();
    assert.deepEqual(
      after.map((s) => [s.name, s.pid, s.state]),
      before.map((s) => [s.name, s.pid, s.state]),
    );
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.match(log, /reload: .*main\.conf:1:/);
  });

  it('a good file: added, changed (scripts at the next start) and removed services', async () => {
    const c = await box.client();
    const [alphaBefore] = await c.status('alpha');
    const [keeperBefore] = await c.status('keeper');
    const [leaverBefore] = await c.status('leaver');
    writeFileSync(
      join(box.servicesDir, 'main.conf'),
      JSON.stringify({
        alpha: { ExecStart: `sh -c 'echo two; exec sleep 1000'`, InitialState: 'running', MinUptime: 0.1, UserRateLimit: 2 },
        newbie: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      }),
    );
    rmSync(join(box.servicesDir, 'pkg.conf'));
    const r = await c.reloadConfig();
    assert.equal(r.ok, true, JSON.stringify(r.issues));
    const byService = Object.fromEntries(r.changes.map((x) => [x.service, x]));
    assert.equal(byService.newbie?.change, 'added');
    assert.equal(byService.alpha?.change, 'changed');
    assert.match(byService.alpha.message, /^UserRateLimit, ExecStart; /);
    assert.match(
      byService.alpha.message,
      /ExecStart takes effect at its next start: upk restart alpha, or upk reload-config --restart; the other settings apply now$/,
    );
    assert.equal(byService.alpha.restart, true);
    assert.equal(byService.leaver?.change, 'removed');
    assert.equal(byService.keeper?.change, 'kept');
    assert.match(byService.keeper.message, /until upk remove/);

    await box.waitForState('newbie', 'running');
    const [alpha] = await c.status('alpha');
    assert.equal(alpha!.pid, alphaBefore!.pid, 'a changed service is not restarted');
    assert.ok(!alive(leaverBefore!.pid!), 'a removed service with UnconfigureOnFileRemoval is stopped');
    assert.ok(!(await c.list()).some((s) => s.name === 'leaver'));
    const [keeper] = await c.status('keeper');
    assert.equal(keeper!.pid, keeperBefore!.pid, 'a removed service without it is kept');

    await c.restart('alpha');
    await box.waitFor('the new script', () => readFileSync(join(box.runDir('alpha'), 'log', 'stdout'), 'utf8').includes('two'));
  });

  it('a changed Environment is named as waiting for the next start; reload-config --restart restarts what waits', async () => {
    const c = await box.client();
    const [before] = await c.status('alpha');
    writeFileSync(
      join(box.servicesDir, 'main.conf'),
      JSON.stringify({
        alpha: {
          ExecStart: `sh -c 'echo "colour=$COLOUR"; exec sleep 1000'`,
          InitialState: 'running',
          MinUptime: 0.1,
          UserRateLimit: 2,
          Environment: { COLOUR: 'blue' },
        },
        newbie: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      }),
    );
    const res = await box.upk(['reload-config', '--restart']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /alpha: changed: ExecStart, Environment; ExecStart, Environment take effect at its next start/);
    assert.doesNotMatch(res.stdout, /apply now/);
    assert.match(res.stdout, /^alpha: restarted: ok: running/m);
    assert.match(res.stdout, /configuration reloaded: 1 change$/m);
    const [after] = await c.status('alpha');
    assert.notEqual(after!.pid, before!.pid);
    await box.waitFor('the new environment', () =>
      readFileSync(join(box.runDir('alpha'), 'log', 'stdout'), 'utf8').includes('colour=blue'),
    );
  });

  it('upk remove: only for services the files no longer define', async () => {
    const c = await box.client();
    const still = await box.upk(['remove', 'alpha']);
    assert.equal(still.code, 2);
    assert.match(still.stderr, /still defined in the configuration: alpha/);
    const [keeper] = await c.status('keeper');
    const subscription = await c.subscribe({});
    const removedNotice = (async () => {
      for await (const n of subscription) if (n.kind === 'removed') return n;
      return null;
    })();
    const removed = await c.remove('keeper');
    assert.equal(removed[0]?.change, 'removed');
    assert.ok(!alive(keeper!.pid!));
    assert.ok(!(await c.list()).some((s) => s.name === 'keeper'));
    assert.deepEqual(await removedNotice, { kind: 'removed', service: 'keeper', uuid: keeper!.uuid }, 'subscribers hear of it');
    subscription.close();
  });

  it('SIGHUP reloads too; every applied change is in the audit database', async () => {
    const c = await box.client();
    writeFileSync(join(box.servicesDir, 'extra.conf'), JSON.stringify({ late: { ExecStart: 'sleep 1000', MinUptime: 0.1 } }));
    process.kill(c.controller.pid, 'SIGHUP');
    await box.waitFor('late configured', async () => (await c.list()).some((s) => s.name === 'late'));
    const db = box.db();
    try {
      const rows = db.prepare('SELECT service, change, trigger FROM config_changes ORDER BY id').all() as {
        service: string;
        change: string;
        trigger: string;
      }[];
      const seen = rows.map((r) => `${r.trigger}:${r.service}:${r.change}`);
      for (const want of [
        'start:alpha:added',
        'reload:newbie:added',
        'reload:alpha:changed',
        'reload:leaver:removed',
        'reload:keeper:kept',
        'remove:keeper:removed',
        'SIGHUP:late:added',
      ]) {
        assert.ok(seen.includes(want), `${want} in ${seen.join(', ')}`);
      }
    } finally {
      db.close();
    }
  });

  it("the controller's own settings: a change of OnEvent or BuddyPollingInterval alone is told and recorded, not 'no change'", async () => {
    const original = readFileSync(box.configFile, 'utf8');
    const config = JSON.parse(original) as Record<string, unknown>;
    const hook = { Name: 'note', Events: ['failed'], Command: ['true'] };
    writeFileSync(box.configFile, JSON.stringify({ ...config, BuddyPollingInterval: 0.2, OnEvent: [hook] }));
    try {
      const res = await box.upk(['reload-config']);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /^\(controller\): changed: BuddyPollingInterval, OnEvent; in force now$/m);
      assert.match(res.stdout, /configuration reloaded: 1 change$/m);
      const again = await box.upk(['reload-config']);
      assert.match(again.stdout, /configuration reloaded: no change$/m, 'the same settings again: nothing changed');
      const db = box.db();
      try {
        const rows = db.prepare("SELECT service_uuid, change, detail FROM config_changes WHERE service = '(controller)'").all();
        assert.deepEqual(rows, [{ service_uuid: null, change: 'changed', detail: 'BuddyPollingInterval, OnEvent; in force now' }]);
      } finally {
        db.close();
      }
    } finally {
      writeFileSync(box.configFile, original);
      await box.upk(['reload-config']);
    }
  });

  it('the same controller settings written otherwise are no change: key order, Events or Services order, comments, the line of a hook', async () => {
    const original = readFileSync(box.configFile, 'utf8');
    const base = JSON.parse(original) as Record<string, unknown>;
    const hook = { Name: 'note', Events: ['failed', 'exited'], Services: ['alpha', 'keeper'], Command: ['true'] };
    const defaults = { KillTimeout: 2, MinUptime: 0.1 };
    const logged = (): number => (readFileSync(join(box.stateDir, 'controller.log'), 'utf8').match(/OnEvent: note/g) ?? []).length;
    try {
      writeFileSync(box.configFile, JSON.stringify({ ...base, ServiceDefaults: defaults, OnEvent: [hook] }));
      const first = await box.upk(['reload-config']);
      assert.match(first.stdout, /^\(controller\): changed: OnEvent, ServiceDefaults; in force now$/m);
      const told = logged();
      const same = {
        ...base,
        ServiceDefaults: { MinUptime: 0.1, KillTimeout: 2 },
        OnEvent: [{ ...hook, Events: ['exited', 'failed'], Services: ['keeper', 'alpha'] }],
      };
      writeFileSync(box.configFile, `// the same, written otherwise\n\n${JSON.stringify(same, null, 4)}\n`);
      const res = await box.upk(['reload-config']);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /^configuration reloaded: no change$/m);
      assert.equal(logged(), told, 'the log does not tell the hooks again');
    } finally {
      writeFileSync(box.configFile, original);
      await box.upk(['reload-config']);
    }
  });
});
