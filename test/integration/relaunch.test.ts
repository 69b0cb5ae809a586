// Supervision never stops silently: a buddy that cannot be started again is retried with backoff
// while the service says why it is unsupervised, a dead pid is never shown as running, and once a
// buddy runs the service is adopted or started again. A new buddy's first events are stored at once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Sandbox, alive, processesUnder, sleep } from '../helpers/sandbox.js';

const BUDDY = fileURLToPath(new URL('../../buddy/main.js', import.meta.url));

describe('buddy relaunch', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let flag = '';
  let slow = '';
  before(async () => {
    box = new Sandbox('relaunch', { BuddyPollingInterval: 0.5, UpkBuddyPath: './wrapper.mjs' });
    flag = box.file('refuse');
    slow = box.file('slow');
    // The buddy program, behind a wrapper that refuses to start while the flag file exists, and
    // takes 3 s to start while the other one does.
    writeFileSync(
      box.file('wrapper.mjs'),
      `import { existsSync } from 'node:fs';
if (existsSync(${JSON.stringify(flag)})) { console.error('wrapper refuses: the flag is set'); process.exit(1); }
if (existsSync(${JSON.stringify(slow)})) await new Promise((r) => setTimeout(r, 3000));
await import(${JSON.stringify(BUDDY)});
`,
    );
    box.writeServices({
      kept: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      dies: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      quick: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
    });
    await box.startController();
    for (const s of ['kept', 'dies', 'quick']) await box.waitForState(s, 'running');
  });
  after(async () => {
    rmSync(flag, { force: true });
    rmSync(slow, { force: true });
    await box.cleanup();
  });

  const controllerLog = (): string => readFileSync(join(box.stateDir, 'controller.log'), 'utf8');

  it('retries a buddy that cannot start, says why, shows no dead pid, and restarts the service once it can', async () => {
    const c = await box.client();
    const [before] = await c.status('dies');
    // An old line in buddy.log must not be taken for the cause.
    writeFileSync(join(box.runDir('dies'), 'log', 'buddy.log'), 'AN OLD LINE OF A PREVIOUS BUDDY\n', { flag: 'a' });
    writeFileSync(flag, '');
    process.kill(before!.buddyPid!, 'SIGKILL');
    const s = await box.waitFor(
      'dies unsupervised',
      async () => {
        const [x] = await c.status('dies');
        return x?.unsupervised && x.unsupervised.attempts >= 3 ? x : undefined;
      },
      15_000,
    );
    assert.match(s.unsupervised!.reason, /wrapper refuses: the flag is set/);
    assert.match(s.unsupervised!.reason, /exited with code 1/);
    assert.doesNotMatch(s.unsupervised!.reason, /OLD LINE/);
    assert.equal(s.pid, before!.pid, 'the service still runs, unsupervised: its pid is shown');
    const list = await box.upk(['list']);
    assert.match(list.stdout, /dies\s+unsupervised!/);
    assert.match(list.stdout, /^! 1 service\(s\) without a buddy .*: dies \(since /m, 'upk list heads its table with the problem');
    const status = await box.upk(['controller', 'status']);
    assert.match(status.stdout, /without a buddy.*dies/);

    // The service dies while nobody supervises it: its pid is no longer shown.
    process.kill(before!.pid!, 'SIGKILL');
    await box.waitFor('the dead pid gone from the status', async () => (await c.status('dies'))[0]?.pid === null);
    const [gone] = await c.status('dies');
    assert.equal(gone!.started, null, 'no uptime for a process that is gone');

    // Each cause is logged once, however often it is retried.
    const failures = controllerLog()
      .split('\n')
      .filter((l) => l.includes('dies: unsupervised:'));
    assert.equal(failures.length, 1, failures.join('\n'));

    rmSync(flag);
    const back = await box.waitFor(
      'dies running again',
      async () => {
        const [x] = await c.status('dies');
        return x?.state === 'running' && x.pid !== null && x.buddyPid !== null ? x : undefined;
      },
      10_000,
    );
    assert.notEqual(back.pid, before!.pid, 'started again by policy: it wants to run');
    assert.equal(back.unsupervised, null);
    assert.match(controllerLog(), /dies: supervised again by buddy \d+, after \d+ failed launch/);
    assert.doesNotMatch((await box.upk(['list'])).stdout, /^!/m, 'no problem left');
  });

  it('a controller out of file descriptors keeps trying, with the real cause, and supervises again once it can', async () => {
    const c = await box.client();
    const [before] = await c.status('kept');
    const controller = c.controller.pid;
    c.close();
    const open = readdirSync(`/proc/${controller}/fd`).length;
    // No new descriptor for the controller from now on (the soft limit only: it can be raised again).
    execFileSync('prlimit', ['--pid', String(controller), `--nofile=${open - 4}:`]);
    try {
      process.kill(before!.buddyPid!, 'SIGKILL');
      await box.waitFor('the failure logged', () => /kept: unsupervised: .*(EMFILE|too many open files)/i.test(controllerLog()), 10_000);
      await sleep(1500); // several more tries meanwhile, none logged again: same cause
      assert.equal(
        controllerLog()
          .split('\n')
          .filter((l) => l.includes('kept: unsupervised:')).length,
        1,
      );
    } finally {
      execFileSync('prlimit', ['--pid', String(controller), '--nofile=20000:']);
    }
    const back = await box.waitFor(
      'kept supervised again',
      async () => {
        const [x] = await (await box.client()).status('kept');
        return x?.buddyPid && x.buddyPid !== before!.buddyPid && x.state === 'running' ? x : undefined;
      },
      10_000,
    );
    assert.equal(back.pid, before!.pid, 'adopted');
    assert.equal(back.unsupervised, null);
  });

  it('adopts the service that ran on meanwhile', async () => {
    const c = await box.client();
    const [before] = await c.status('kept');
    writeFileSync(flag, '');
    process.kill(before!.buddyPid!, 'SIGKILL');
    await box.waitFor('kept unsupervised', async () => (await c.status('kept'))[0]?.unsupervised ?? undefined, 10_000);
    rmSync(flag);
    const back = await box.waitFor(
      'kept supervised',
      async () => {
        const [x] = await c.status('kept');
        return x?.buddyPid && x.buddyPid !== before!.buddyPid && x.state === 'running' ? x : undefined;
      },
      10_000,
    );
    assert.equal(back.pid, before!.pid, 'adopted, not restarted');
    assert.ok(alive(before!.pid!));
  });

  it("collects a new buddy's first events at once, however quickly buddies are lost", async () => {
    const c = await box.client();
    const db = box.db();
    // Watched in the database only: a client's request would make the controller poll.
    const newest = (): { id: number; pid: number } | undefined =>
      db
        .prepare(
          `SELECT b.id, b.pid FROM buddies b JOIN services s ON s.uuid = b.service_uuid WHERE s.name = 'quick' ORDER BY b.id DESC LIMIT 1`,
        )
        .get() as never;
    const adopted = (buddyId: number): boolean =>
      db.prepare(`SELECT 1 FROM events WHERE buddy_id = ? AND type = 'adopted'`).get(buddyId) !== undefined;
    try {
      const [s] = await c.status('quick');
      let buddy = { id: newest()!.id, pid: s!.buddyPid! };
      for (let i = 0; i < 5; i++) {
        const old = buddy;
        process.kill(old.pid, 'SIGKILL');
        buddy = await box.waitFor(
          'a new buddy',
          () => {
            const b = newest();
            return b && b.id !== old.id ? b : undefined;
          },
          10_000,
        );
        // BuddyPollingInterval is 0.5 s: a buddy polled at the quiet pace would wait up to 10 s (6 s: room
        // for a loaded machine, still short of that).
        await box.waitFor(`the adoption by buddy ${buddy.pid} stored`, () => adopted(buddy.id), 6000);
      }
    } finally {
      db.close();
    }
    const events = box.events('quick');
    assert.equal(events.filter((e) => e.type === 'adopted').length, 5, 'every adoption recorded');
    assert.equal(events.filter((e) => e.type === 'spawned').length, 1, 'never restarted');
    assert.ok(!existsSync(flag));
  });

  it('the same cause is told once, whatever times and pids it holds; a removed service is no longer a problem', async () => {
    box.writeServices({ gone: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } }, 'gone.conf');
    assert.equal((await box.upk(['reload-config'])).code, 0);
    const c = await box.client();
    const [s] = await box.waitFor('gone running', async () => {
      const x = await c.status('gone');
      return x[0]?.state === 'running' ? x : undefined;
    });
    // A buddy.json the buddy cannot read: it says so with its time and pid, every try.
    writeFileSync(join(box.runDir('gone'), 'buddy.json'), '{broken');
    process.kill(s!.buddyPid!, 'SIGKILL');
    await box.waitFor('three failed launches', async () => ((await c.status('gone'))[0]?.unsupervised?.attempts ?? 0) >= 3, 15_000);
    assert.equal(
      controllerLog()
        .split('\n')
        .filter((l) => l.includes('gone: unsupervised:')).length,
      1,
      'told once',
    );
    assert.match((await c.controllerStatus()).problems.map((p) => p.message).join(), /without a buddy .*gone/);
    rmSync(join(box.servicesDir, 'gone.conf'));
    assert.equal((await box.upk(['reload-config'])).code, 0);
    assert.equal((await box.upk(['remove', 'gone'])).code, 0);
    assert.ok(!(await c.controllerStatus()).problems.some((p) => p.kind === 'unsupervised'), 'no problem left');
    await box.waitFor('its process gone', () => !alive(s!.pid!), 5000);
  });

  it('upk shutdown while a buddy is being started again waits for it: nothing is left running', async () => {
    const c = await box.client();
    const [before] = await c.status('kept');
    writeFileSync(slow, '');
    process.kill(before!.buddyPid!, 'SIGKILL');
    await sleep(700); // the new buddy is on its way (3 s)
    const shutdown = await box.upk(['shutdown'], 60_000);
    assert.equal(shutdown.code, 0, shutdown.stdout + shutdown.stderr);
    rmSync(slow);
    await sleep(500);
    assert.ok(!alive(before!.pid!), 'the service is stopped');
    assert.deepEqual(processesUnder(box.runDir('kept')), [], 'no buddy or service of it runs');
    await box.startController(); // for the next test
    await box.waitForState('quick', 'running');
  });

  it('upk shutdown stops a service no buddy can be started for: the controller stops it itself', async () => {
    const c = await box.client();
    const [before] = await c.status('quick');
    writeFileSync(flag, '');
    process.kill(before!.buddyPid!, 'SIGKILL');
    await box.waitFor('quick unsupervised', async () => (await c.status('quick'))[0]?.unsupervised ?? undefined, 10_000);
    assert.ok(alive(before!.pid!));
    const shutdown = await box.upk(['shutdown', '--json'], 60_000);
    const items = JSON.parse(shutdown.stdout) as { service: string; ok: boolean; message: string }[];
    const quick = items.find((i) => i.service === 'quick')!;
    assert.equal(quick.ok, true, quick.message);
    assert.match(quick.message, /stopped by the controller: no buddy could be started/);
    await box.waitFor('its process gone', () => !alive(before!.pid!), 5000);
    rmSync(flag);
  });
});
