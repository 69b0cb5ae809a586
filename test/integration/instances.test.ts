// Instances: NAME@1 … NAME@N, each its own service (buddy, UUID, history); %(INSTANCE) and
// UPK_INSTANCE; NAME meaning every instance; upk scale up and down, the file edited in place.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';

/** A hand-written file, with comments upk scale must keep. */
const FILE = (outDir: string): string => `// the web tier
{
  /* three to begin with */
  "web": {
    "Instances": 3, // how many
    "ExecStart": ["sh", "-c", "echo started $UPK_INSTANCE; echo \\"$UPK_INSTANCE $1\\" > ${outDir}/i$UPK_INSTANCE; exec sleep 1000", "sh", "%(INSTANCE)"],
    "InitialState": "running",
    "MinUptime": 0.1,
  },
  "front": { "ExecStart": "sleep 1000", "Prerequisites": ["web"], "MinUptime": 0.1 },
}
`;

describe('Instances', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let file: string;
  before(async () => {
    box = new Sandbox('instances');
    file = join(box.servicesDir, 'web.conf');
    writeFileSync(file, FILE(box.dir));
    await box.startController();
    for (const n of [1, 2, 3]) await box.waitForState(`web@${n}`, 'running');
  });
  after(() => box.cleanup());

  it('Instances 3: three services with distinct UUIDs, run directories, UPK_INSTANCE and %(INSTANCE)', async () => {
    const c = await box.client();
    const all = await c.list();
    const web = all.filter((s) => s.name.startsWith('web@'));
    assert.deepEqual(web.map((s) => s.name).sort(), ['web@1', 'web@2', 'web@3']);
    assert.equal(new Set(web.map((s) => s.uuid)).size, 3);
    assert.equal(new Set(web.map((s) => s.buddyPid)).size, 3);
    assert.ok(!all.some((s) => s.name === 'web'));
    for (const n of [1, 2, 3]) {
      assert.ok(existsSync(join(box.runDir(`web@${n}`), 'buddy.json')));
      await box.waitFor(`instance ${n}'s line`, () => existsSync(join(box.dir, `i${n}`)));
      assert.equal(readFileSync(join(box.dir, `i${n}`), 'utf8'), `${n} ${n}\n`);
    }
    // NAME means every instance; NAME@N one of them.
    assert.deepEqual(
      (await c.status('web')).map((s) => s.name),
      ['web@1', 'web@2', 'web@3'],
    );
    assert.deepEqual(
      (await c.status('web@2')).map((s) => s.name),
      ['web@2'],
    );
    // upk logs NAME shows every instance's lines, each named; NAME@N its own files.
    const logs = await box.upk(['logs', 'web', '--stdout']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.deepEqual(logs.stdout.trim().split('\n').sort(), [
      'web@1 stdout | started 1',
      'web@2 stdout | started 2',
      'web@3 stdout | started 3',
    ]);
    const oneLog = await box.upk(['logs', 'web@2', '--stdout']);
    assert.equal(oneLog.stdout, 'started 2\n');
    const one = await box.upk(['signal', 'web', 'USR1']);
    assert.equal(one.code, 4);
    assert.match(one.stderr, /web has 3 instances \(web@1, web@2, web@3\): name one of them/);
    // A prerequisite on the service is met by any of its instances.
    const front = await box.upk(['start', 'front']);
    assert.equal(front.code, 0, front.stderr);
  });

  it('upk stop web stops every instance; upk start web starts them again', async () => {
    const c = await box.client();
    const pids = (await c.status('web')).map((s) => s.pid!);
    const stop = await box.upk(['stop', 'web']);
    assert.equal(stop.code, 0, stop.stderr);
    // (front, which needs web, runs on: each line says so.)
    assert.deepEqual(
      stop.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(';')[0])
        .sort(),
      ['web@1: ok: stopped', 'web@2: ok: stopped', 'web@3: ok: stopped'],
    );
    for (const pid of pids) assert.ok(!alive(pid));
    assert.deepEqual(
      (await c.status('web')).map((s) => [s.state, s.desired]),
      Array(3).fill(['stopped', 'stopped']),
    );
    const start = await box.upk(['start', 'web']);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(start.stdout.match(/: ok: running/g)?.length, 3);
  });

  it('upk scale web 5 starts two more; upk scale web 2 stops and removes 3 to 5; the comments stay', async () => {
    const c = await box.client();
    const up = await box.upk(['scale', 'web', '5']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^web: from Instances 3 to Instances 5 \(.*web\.conf\)$/m);
    assert.match(up.stdout, /^web@4: added: /m);
    assert.match(up.stdout, /^web@5: ok: running \(pid \d+\)$/m);
    assert.equal(readFileSync(file, 'utf8'), FILE(box.dir).replace('"Instances": 3,', '"Instances": 5,'));
    const five = await c.status('web');
    assert.deepEqual(
      five.map((s) => [s.name, s.state]),
      [1, 2, 3, 4, 5].map((n) => [`web@${n}`, 'running']),
    );

    const down = await box.upk(['scale', 'web', '2']);
    assert.equal(down.code, 0, down.stderr);
    for (const n of [3, 4, 5]) {
      assert.match(
        down.stdout,
        new RegExp(`^web@${n}: removed: no longer in the configuration files: stopped and removed \\(web has Instances 2 now\\)$`, 'm'),
      );
    }
    assert.equal(readFileSync(file, 'utf8'), FILE(box.dir).replace('"Instances": 3,', '"Instances": 2,'));
    for (const s of five.slice(2)) assert.ok(!alive(s.pid!), `${s.name} ended`);
    const two = await c.status('web');
    assert.deepEqual(
      two.map((s) => [s.name, s.state, s.pid]),
      five.slice(0, 2).map((s) => [s.name, 'running', s.pid]),
    );
    assert.ok(!(await c.list()).some((s) => /^web@[345]$/.test(s.name)));
    // Their history stays.
    const events = await box.upk(['events', 'web@5', '--json']);
    assert.equal(events.code, 0, events.stderr);
    assert.ok((JSON.parse(events.stdout) as unknown[]).length > 0);
  });

  it('upk scale: a service without Instances becomes instances; a refused reload leaves the file as it was', async () => {
    const c = await box.client();
    const scaled = await box.upk(['scale', 'front', '2']);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.match(scaled.stdout, /^front: from one service \(no Instances\) to Instances 2/m);
    assert.match(scaled.stdout, /^front: removed: .*\(front has Instances 2 now\)$/m);
    assert.match(readFileSync(file, 'utf8'), /"front": \{ "Instances": 2, "ExecStart": "sleep 1000"/);
    // front was running: its instances start.
    assert.deepEqual(
      (await c.status('front')).map((s) => [s.name, s.state]),
      [
        ['front@1', 'running'],
        ['front@2', 'running'],
      ],
    );

    const before = readFileSync(file, 'utf8');
    const refused = await box.upk(['scale', 'web', '1001']);
    assert.equal(refused.code, 7);
    assert.match(refused.stdout, /web\.Instances: expected an integer from 1 to 1000, got 1001/);
    assert.equal(readFileSync(file, 'utf8'), before);
    const missing = await box.upk(['scale', 'nosuch', '2']);
    assert.equal(missing.code, 4);
    const instance = await box.upk(['scale', 'web@1', '2']);
    assert.equal(instance.code, 2);
    assert.match(instance.stderr, /web@1 is an instance of web: scale web/);
  });
  it('concurrent scale, add and remove edit the files one at a time: each says what it changed, and the file and the services agree', async () => {
    const c = await box.client();
    // Each run reads what the one before it wrote: the "from" of one is the "to" of another.
    const runs = await Promise.all([
      box.upk(['scale', 'web', '4']),
      box.upk(['scale', 'web', '6']),
      box.upk(['scale', 'web', '3']),
      box.upk(['add', 'extra1', '--stopped', '--', 'sleep', '1000']),
      box.upk(['add', 'extra2', '--stopped', '--', 'sleep', '1000']),
    ]);
    // A start that a later scale stops before it is running says so (exit 5): true, and nothing else fails.
    const interrupted = (r: { code: number | null; stdout: string; stderr: string }): boolean => {
      const failed = (r.stdout + r.stderr).split('\n').filter((l) => /FAILED/.test(l));
      return r.code === 5 && failed.length > 0 && failed.every((l) => /FAILED: stopped by a later command$/.test(l));
    };
    for (const r of runs) assert.ok(r.code === 0 || interrupted(r), `exit ${r.code}: ${r.stdout}${r.stderr}`);
    const moves = runs
      .slice(0, 3)
      .map((r) => /^web: from Instances (\d+) to Instances (\d+) /m.exec(r.stdout)!.slice(1).map(Number) as [number, number]);
    const text = readFileSync(file, 'utf8');
    const final = Number(/"Instances": (\d+),/.exec(text)![1]);
    // A chain from 2 (the last test's) to the final number, through every run once.
    let at = 2;
    const left = [...moves];
    while (left.length > 0) {
      const i = left.findIndex(([from]) => from === at);
      assert.ok(i >= 0, `a run from Instances ${at}: ${JSON.stringify(moves)}`);
      at = left.splice(i, 1)[0]![1];
    }
    assert.equal(at, final);
    assert.equal((await c.status('web')).length, final);
    for (const name of ['extra1', 'extra2']) assert.ok(existsSync(join(box.servicesDir, `${name}.conf`)));
    const removed = await Promise.all([
      box.upk(['remove', 'extra1', '--delete-file']),
      box.upk(['remove', 'extra2', '--delete-file']),
      box.upk(['scale', 'web', '2']),
    ]);
    for (const r of removed) assert.ok(r.code === 0 || interrupted(r), `exit ${r.code}: ${r.stdout}${r.stderr}`);
    assert.ok(!(await c.list()).some((s) => s.name.startsWith('extra')));
    assert.deepEqual(readdirSync(box.servicesDir), ['web.conf'], 'no file of another command left behind');
  });

  it("the edit lock: a live holder is waited for; a dead one's lock is taken over", async () => {
    const lock = join(box.stateDir, 'upk-edit.lock');
    writeFileSync(lock, `${process.pid}\n`);
    const started = Date.now();
    const waiting = box.upk(['scale', 'web', '3']);
    let done = false;
    void waiting.then(() => (done = true));
    await sleep(1000);
    assert.ok(existsSync(lock), 'still ours');
    assert.equal(done, false, 'it waits while a live command holds the lock');
    rmSync(lock);
    const r = await waiting;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(Date.now() - started >= 1000);
    assert.ok(!existsSync(lock), 'released');

    // A pid that ended: taken over at once.
    const dead = spawnSync('true').pid;
    writeFileSync(lock, `${dead}\n`);
    const over = await box.upk(['scale', 'web', '2']);
    assert.equal(over.code, 0, over.stdout + over.stderr);
    assert.ok(!existsSync(lock));

    // A lock holding no pid (something else wrote it), older than the wait: taken over at once.
    writeFileSync(lock, 'garbage\n');
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(lock, old, old);
    const garbage = await box.upk(['scale', 'web', '2']);
    assert.equal(garbage.code, 0, garbage.stdout + garbage.stderr);
    assert.ok(!existsSync(lock));
  });
});
