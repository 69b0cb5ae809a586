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

describe('a fixed UUID: one service, whatever its id (docs/controller.md, the uuid-for-life rule)', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const U1 = '6b1e7f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
  const U2 = '7c2f8a3b-4d5e-4f6a-9b0c-1d2e3f4a5b6c';
  const svc = (uuid: string) => ({ ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, UUID: uuid });
  /** Each service's id, state and uuid, and whether the database has its row removed. */
  const rows = (): { uuid: string; id: string; removed: number | null }[] => {
    const db = box.db();
    try {
      return db.prepare(`SELECT uuid, coalesce(package || '::', '') || name AS id, removed FROM services ORDER BY uuid`).all() as {
        uuid: string;
        id: string;
        removed: number | null;
      }[];
    } finally {
      db.close();
    }
  };
  before(async () => {
    box = new Sandbox('fixeduuid');
    box.writeServices({ a: svc(U1), b: svc(U2) });
    await box.startController();
    for (const s of ['a', 'b']) await box.waitForState(s, 'running');
  });
  after(() => box.cleanup());

  it('two services given one UUID: the reload is refused, naming each file, key and value; nothing changes', async () => {
    const c = await box.client();
    const before = await c.list();
    writeFileSync(join(box.servicesDir, 'services.conf'), `{ "a": ${JSON.stringify(svc(U1))},\n  "b": ${JSON.stringify(svc(U2))} }`);
    writeFileSync(join(box.servicesDir, 'twin.conf'), `{\n  "twin": ${JSON.stringify(svc(U1))} }`);
    const res = await box.upk(['reload-config']);
    rmSync(join(box.servicesDir, 'twin.conf'));
    assert.equal(res.code, 7, res.stdout);
    const file = join(box.servicesDir, 'services.conf');
    assert.match(
      res.stdout,
      new RegExp(`^${file}:1: a\\.UUID: UUID ${U1} is also the UUID of service "twin" \\(twin\\.conf, line 2\\)`, 'm'),
    );
    assert.match(
      res.stdout,
      new RegExp(`twin\\.conf:2: twin\\.UUID: UUID ${U1} is also the UUID of service "a" \\(services\\.conf, line 1\\)`),
    );
    assert.match(res.stdout, /nothing changed/);
    assert.deepEqual(
      (await c.list()).map((s) => [s.name, s.uuid, s.pid]),
      before.map((s) => [s.name, s.uuid, s.pid]),
    );
  });

  it('two services swap their ids in one reload: each UUID keeps its history, one buddy each, nothing removed', async () => {
    const c = await box.client();
    const [a] = await c.status('a');
    const [b] = await c.status('b');
    box.writeServices({ a: svc(U2), b: svc(U1) });
    const res = await box.upk(['reload-config']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /^a: changed: renamed from b\b/m, res.stdout);
    assert.match(res.stdout, /^b: changed: renamed from a\b/m, res.stdout);
    assert.doesNotMatch(res.stdout, /kept|removed/, res.stdout);
    const nowA = await box.waitForState('a', 'running');
    const nowB = await box.waitForState('b', 'running');
    assert.deepEqual([nowA.uuid, nowB.uuid], [U2, U1]);
    for (const pid of [a!.pid!, a!.buddyPid!, b!.pid!, b!.buddyPid!]) assert.ok(!alive(pid), `${pid} of the old ids stopped`);
    assert.deepEqual(
      rows().map((r) => [r.uuid, r.id, r.removed]),
      [
        [U1, 'b', null],
        [U2, 'a', null],
      ],
    );
    const spawned = await c.events({ service: 'b', types: ['spawned'] });
    assert.deepEqual(
      spawned.map((e) => e.pid),
      [a!.pid, nowB.pid],
      "b's history is U1's: a's run before the swap, then its own",
    );
  });

  it('renamed while no controller runs: the buddy under the old id goes before the new one starts; nothing removed', async () => {
    const c = await box.client();
    const [b] = await c.status('b');
    const stop = await box.upk(['controller', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    box.writeServices({ a: svc(U2), 'pkg::moved': svc(U1) });
    await box.startController();
    const moved = await box.waitForState('pkg::moved', 'running');
    assert.equal(moved.uuid, U1);
    assert.ok(!alive(b!.pid!) && !alive(b!.buddyPid!), 'the buddy and process under b stopped');
    const c2 = await box.client();
    assert.deepEqual(
      (await c2.list()).map((s) => [s.name, s.uuid]),
      [
        ['a', U2],
        ['pkg::moved', U1],
      ],
    );
    assert.deepEqual(
      rows().map((r) => [r.uuid, r.id, r.removed]),
      [
        [U1, 'pkg::moved', null],
        [U2, 'a', null],
      ],
      'the stray buddy under b did not mark U1 removed',
    );
    const history = await c2.configHistory('moved');
    assert.match(history.at(-1)?.detail ?? '', /^renamed from b\b/, JSON.stringify(history.at(-1)));
    assert.equal(history.at(-1)?.trigger, 'start');
    // Only the buddies of a and pkg::moved are open in the database.
    const db = box.db();
    try {
      const open = db.prepare('SELECT pid FROM buddies WHERE ended IS NULL ORDER BY pid').all() as { pid: number }[];
      const listed = (await c2.list()).map((s) => s.buddyPid!);
      assert.deepEqual(open.map((r) => r.pid).sort(), listed.sort());
    } finally {
      db.close();
    }
  });
});
