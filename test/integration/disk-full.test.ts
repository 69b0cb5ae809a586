// A full disk under StateDir: the controller keeps answering (reads within a second), does not spin,
// says what is wrong once (log, `upk controller status`, `upk list`), retries its writes with backoff,
// and once there is room again every event the buddies kept is stored. Needs root (a small tmpfs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, assertStartsRecorded, killEverythingUnder, sleep } from '../helpers/sandbox.js';

/** Whether this process may mount a tmpfs (root, and a kernel and container that allow it): false, or why not. */
function cannotMount(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (run the suite as root to include it)';
  const probe = mkdtempSync(join(tmpdir(), 'upk-mount-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return false;
  } catch (err) {
    return `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}): skipped`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const why = cannotMount();

/** CPU time (utime + stime, in clock ticks) of a process so far. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Write zeros into `file` until the disk is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = Date.now();
  const value = await run();
  return { ms: Date.now() - t0, value };
}

describe('disk full under StateDir', { timeout: 120_000, skip: why }, () => {
  let box: Sandbox;
  let disk = '';
  let mounted = false;
  before(async () => {
    box = new Sandbox('diskfull', { StateDir: './disk/state' });
    disk = box.file('disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', disk]);
    mounted = true;
    box.writeServices({
      // Its starts are written outside the full disk: every one must have its spawned event in the end.
      loop: {
        ExecStart: `sh -c 'echo $$ >> ${box.file('loop.starts')}; sleep 0.1; exit 1'`,
        InitialState: 'running',
        MinUptime: 0,
        UserRateLimit: 0.05,
        UserMaxRestarts: -1,
      },
      steady: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('steady', 'running');
  });
  after(async () => {
    rmSync(join(disk, 'filler'), { force: true });
    await box.upk(['shutdown'], 60_000).catch(() => undefined);
    killEverythingUnder(box.dir);
    await sleep(200);
    if (mounted) execFileSync('umount', ['-l', disk]);
    await box.cleanup();
  });

  it('a stop made while the disk is full holds across a controller restart made before there is room', async () => {
    const c = await box.client();
    fill(join(disk, 'filler'));
    assert.equal((await c.stop('steady'))[0]!.ok, true, 'a stop works while the disk is full');
    await box.waitFor(
      'the database problem reported',
      async () => (await c.controllerStatus()).problems.find((p) => p.kind === 'database'),
      30_000,
    );
    // A configuration reload is refused whole, with the reason, not half applied.
    box.writeServices({ extra: { ExecStart: 'sleep 1000' } }, 'extra.conf');
    const reload = await box.upk(['reload-config']);
    assert.equal(reload.code, 7, reload.stdout + reload.stderr);
    assert.match(reload.stdout + reload.stderr, /cannot apply a configuration while the audit database cannot be written/);
    rmSync(join(box.servicesDir, 'extra.conf'));
    c.close();
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    assert.match(readFileSync(join(box.stateDir, 'controller.log'), 'utf8'), /bookkeeping write\(s\) are lost/);
    rmSync(join(disk, 'filler'));
    await box.startController();
    const again = await box.client();
    await sleep(1000);
    const [steady] = await again.status('steady');
    assert.equal(steady!.desired, 'stopped', 'the stop was not undone');
    assert.equal(steady!.state, 'stopped');
    assert.match(readFileSync(join(box.stateDir, 'controller.log'), 'utf8'), /steady: desired stopped, as its buddy recorded it/);
    await again.start('steady');
    // (Its log is on the same disk: lines that could not be written are counted, never retried in a loop.)
  });

  it('a controller starts on a full disk with the last good configuration; a reload applies the files once there is room', async () => {
    fill(join(disk, 'filler'));
    box.writeServices({ added: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } }, 'added.conf');
    const restart = await box.upk(['controller', 'restart'], 30_000);
    assert.equal(restart.code, 0, restart.stderr);
    const c = await box.client();
    assert.deepEqual((await c.list()).map((s) => s.name).sort(), ['loop', 'steady'], 'the last good configuration');
    const status = await c.controllerStatus();
    assert.ok(status.configIssues.some((i) => /could not be applied at start/.test(i.message)));
    const refused = await c.reloadConfig();
    assert.equal(refused.ok, false);
    rmSync(join(disk, 'filler'));
    const reload = await c.reloadConfig();
    assert.equal(reload.ok, true, JSON.stringify(reload.issues));
    await box.waitForState('added', 'running');
    rmSync(join(box.servicesDir, 'added.conf'));
    assert.equal((await c.reloadConfig()).ok, true);
  });

  it('answers within a second, does not spin, says so once, and stores every event once there is room', async (t) => {
    const c = await box.client();
    const controller = c.controller.pid;
    fill(join(disk, 'filler'));
    const problem = await box.waitFor(
      'the database problem reported',
      async () => {
        const s = await c.controllerStatus();
        return s.problems.find((p) => p.kind === 'database');
      },
      30_000,
    );
    assert.match(problem.message, /cannot write the audit database: .*(full|space)/i);

    // Every read answers within a second while the database cannot be written. The bounds leave a
    // loaded machine room, and still fail a read that waits behind the writes (SQLite's busy timeout
    // is 5 s).
    const figures: string[] = [];
    for (let i = 0; i < 3; i++) {
      const list = await timed(() => box.upk(['list']));
      assert.equal(list.value.code, 0, list.value.stderr);
      assert.ok(list.ms < 4000, `upk list took ${list.ms} ms`); // a whole process: Node's start included
      assert.match(list.value.stdout, /^! cannot write the audit database/m, 'upk list heads its table with it');
      const inner = await timed(() => c.list());
      assert.ok(inner.ms < 3000, `list() took ${inner.ms} ms`);
      const events = await timed(() => c.events({ limit: 20 }));
      assert.ok(events.ms < 3000, `events() took ${events.ms} ms`);
      const status = await timed(() => box.upk(['controller', 'status']));
      assert.match(status.value.stdout, /cannot write the audit database/);
      figures.push(`upk list ${list.ms} ms, list() ${inner.ms} ms, events() ${events.ms} ms`);
    }

    // No busy loop: the controller uses little CPU while the loop's events keep failing to be written.
    const t0 = cpuTicks(controller);
    await sleep(3000);
    const used = (cpuTicks(controller) - t0) / 3; // ticks per second: % of one core
    assert.ok(used < 30, `the controller used ${used.toFixed(0)} % of a core`);
    t.diagnostic(`while the disk is full: ${figures.join('; ')}; controller CPU ${used.toFixed(1)} % of a core over 3 s`);
    // Told once (and again only if its error changes), not for every try.
    const told = (): number =>
      readFileSync(join(box.stateDir, 'controller.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(`controller[${controller}]`) && l.includes('cannot write the audit database')).length;
    assert.ok(told() <= 2, `${told()} lines`);

    rmSync(join(disk, 'filler'));
    await box.waitFor('the problem gone', async () => !(await c.controllerStatus()).problems.some((p) => p.kind === 'database'), 30_000);
    await c.stop('loop');
    const events = box.events('loop');
    assertStartsRecorded(events, box.file('loop.starts'));
    const seqs = new Map<number, number[]>();
    for (const e of events) seqs.set(e.buddy_id, [...(seqs.get(e.buddy_id) ?? []), e.seq]);
    for (const [, list] of seqs)
      assert.deepEqual(
        list,
        list.map((_, i) => i + 1),
        'no gap, no repeat',
      );
    assert.equal(events.filter((e) => e.type === 'events_dropped').length, 0);
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.match(log, /the audit database can be written again/);
  });
});
