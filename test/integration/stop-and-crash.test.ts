// Real services: crashes and restarts are recorded with their exit code or signal; stops leave nothing.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive, groupMembers, sleep } from '../helpers/sandbox.js';

describe('crash, restart, stop', { timeout: 90_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('crash');
    box.writeServices({
      crasher: {
        ExecStart: `sh -c 'echo started >> ${box.file('crasher.starts')}; sleep 0.2; exit 3'`,
        UserRateLimit: 0.05,
        MinUptime: 0.05,
        InitialState: 'running',
      },
      sleeper: { ExecStart: 'sleep 1000', UserRateLimit: 0, MinUptime: 0.1, InitialState: 'running' },
      family: {
        // a shell with two grandchildren; `kill $1` ends the shell, the buddy must clean up the rest
        ExecStart: `sh -c 'sleep 1001 & sleep 1002 & wait'`,
        MinUptime: 0.1,
        KillTimeout: 5,
      },
      stubborn: {
        ExecStart: `sh -c 'trap "" TERM; while :; do sleep 0.05; done'`,
        MinUptime: 0.1,
        KillTimeout: 0.5,
      },
      litter: {
        // exits at once, leaving a grandchild in its group: it must be gone before the next start
        ExecStart: `sh -c 'sleep 1003 & echo $! >> ${box.file('litter.children')}; sleep 0.2; exit 2'`,
        MinUptime: 0.05,
        UserRateLimit: 0.3,
        KillTimeout: 5,
      },
      patient: {
        ExecStart: `sh -c 'trap "" TERM; while :; do sleep 0.05; done'`,
        MinUptime: 0.1,
        KillTimeout: -0.3,
      },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('records each exit code and restarts the service', async () => {
    await box.waitFor('three starts of crasher', () => readFileSync(box.file('crasher.starts'), 'utf8').split('\n').length > 3);
    await box.waitFor('two exits in the database', () => box.events('crasher').filter((e) => e.type === 'exited').length >= 2);
    const exits = box.events('crasher').filter((e) => e.type === 'exited');
    for (const e of exits) {
      assert.equal(e.code, 3);
      assert.equal(e.signal, null);
    }
    const spawned = box.events('crasher').filter((e) => e.type === 'spawned');
    assert.ok(spawned.length >= 2);
    assert.notEqual(spawned[0]!.pid, spawned[1]!.pid);
  });

  it('records a kill by signal and starts a new process', async () => {
    const [before] = await (await box.client()).status('sleeper');
    assert.equal(before!.state, 'running');
    const stat = readFileSync(`/proc/${before!.pid}/stat`, 'latin1');
    const [pgrp, session] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(2, 4)
      .map(Number);
    assert.deepEqual([pgrp, session], [before!.pid, before!.pid], 'pid = process group = session');
    assert.equal(readlinkSync(`/proc/${before!.pid}/fd/0`), '/dev/null', 'stdin is /dev/null');
    process.kill(before!.pid!, 'SIGKILL');
    const after = await box.waitFor('a new sleeper pid', async () => {
      const [s] = await (await box.client()).status('sleeper');
      return s?.state === 'running' && s.pid !== before!.pid ? s : undefined;
    });
    assert.equal(after.lastExit?.signal, 'SIGKILL');
    assert.equal(after.lastExit?.code, null);
    assert.equal(after.restarts, 1);
    const exited = box.events('sleeper').find((e) => e.type === 'exited' && e.pid === before!.pid);
    assert.equal(exited?.signal, 'SIGKILL');
  });

  it('a stop leaves nothing of the process group, grandchildren included', async () => {
    const c = await box.client();
    const [started] = await c.start('family');
    assert.equal(started!.ok, true, started!.message);
    const pgid = started!.status!.pid!;
    await box.waitFor('the grandchildren', () => groupMembers(pgid).length === 3);
    const [stopped] = await c.stop('family');
    assert.equal(stopped!.ok, true);
    assert.equal(stopped!.status!.state, 'stopped');
    assert.deepEqual(groupMembers(pgid), [], 'no member of the group is left');
    const types = box.events('family').map((e) => e.type);
    assert.ok(types.includes('stopped'));
    const signals = box.events('family').filter((e) => e.type === 'signal_sent');
    // The default stop (ExecStop kill) is a SIGTERM the buddy sends the shell itself: no stop script runs.
    assert.deepEqual(JSON.parse(signals[0]!.detail!), { group: false, reason: 'stop' });
    assert.equal(signals[0]!.pid, pgid);
    assert.ok(!types.includes('action_started'), 'no stop script');
    const cleanup = signals.find((e) => (JSON.parse(e.detail!) as { group: boolean }).group);
    assert.equal(cleanup?.signal, 'SIGTERM', 'the leftover sleeps got SIGTERM');
  });

  it('a service that ignores SIGTERM is killed after twice KillTimeout', async () => {
    const c = await box.client();
    const [started] = await c.start('stubborn');
    assert.equal(started!.ok, true, started!.message);
    const pgid = started!.status!.pid!;
    const t0 = Date.now();
    const [stopped] = await c.stop('stubborn');
    const took = Date.now() - t0;
    assert.equal(stopped!.ok, true);
    // The promise: a stop takes 2 × KillTimeout (SIGTERM at 0.5 s, SIGKILL at 1 s), no less; the upper
    // bound is generous for a loaded machine (test/unit/supervisor.test.ts checks the timing exactly).
    assert.ok(took >= 900 && took < 10_000, `stop took ${took} ms (KillTimeout 0.5 s: SIGTERM at 0.5 s, SIGKILL at 1 s)`);
    assert.deepEqual(groupMembers(pgid), []);
    const signals = box
      .events('stubborn')
      .filter((e) => e.type === 'signal_sent')
      .map((e) => [e.signal, (JSON.parse(e.detail!) as { reason: string }).reason]);
    assert.deepEqual(signals, [
      ['SIGTERM', 'stop'],
      ['SIGTERM', 'escalation'],
      ['SIGKILL', 'escalation'],
    ]);
    const exit = box.events('stubborn').find((e) => e.type === 'exited');
    assert.equal(exit?.signal, 'SIGKILL');
  });

  it('what a service that exited by itself left in its group is cleaned up before the next start', async () => {
    const c = await box.client();
    await c.start('litter');
    await box.waitFor('a second start', () => box.events('litter').filter((e) => e.type === 'spawned').length >= 2);
    await c.stop('litter');
    const children = readFileSync(box.file('litter.children'), 'utf8').trim().split('\n').map(Number);
    assert.ok(children.length >= 2);
    for (const pid of children) assert.ok(!alive(pid), `the grandchild ${pid} is gone`);
    const events = box.events('litter');
    const cleanup = events.filter((e) => e.type === 'signal_sent' && JSON.parse(e.detail!).reason === 'cleanup');
    assert.ok(cleanup.length >= 1, 'the leftovers got SIGTERM');
    const firstCleanup = events.indexOf(cleanup[0]!);
    const secondSpawn = events.findIndex((e, i) => e.type === 'spawned' && i > events.findIndex((x) => x.type === 'spawned'));
    assert.ok(firstCleanup < secondSpawn, 'cleanup comes before the next start');
  });

  it('a negative KillTimeout never sends SIGKILL', async () => {
    const c = await box.client();
    const [started] = await c.start('patient');
    const pid = started!.status!.pid!;
    const stopping = c.stop('patient');
    // The stop's own SIGTERM to the process comes first; the escalation's to the group is the one timed.
    const signals = (): (string | null)[] =>
      box
        .events('patient')
        .filter((e) => e.type === 'signal_sent' && (JSON.parse(e.detail!) as { reason: string }).reason !== 'stop')
        .map((e) => e.signal);
    // SIGTERM at 0.3 s; a SIGKILL would follow 0.3 s later: give it three times that.
    await box.waitFor('SIGTERM', () => signals().length > 0);
    await sleep(1000);
    assert.ok(alive(pid), 'still alive after SIGTERM was ignored');
    const [s] = await (await box.client()).status('patient');
    assert.equal(s!.state, 'stopping');
    assert.deepEqual(signals(), ['SIGTERM']);
    await (await box.client()).signal('patient', 'KILL', { group: true });
    const [done] = await stopping;
    assert.equal(done!.status!.state, 'stopped');
  });
});

describe('environments', { timeout: 60_000 }, () => {
  it('the buddy runs with a clean environment; the service gets the full one', async () => {
    const box = new Sandbox('env');
    try {
      box.writeServices({
        envy: {
          ExecStart: `sh -c 'env > ${box.file('service.env')}; exec sleep 1000'`,
          InitialState: 'running',
          MinUptime: 0.1,
          Environment: { EXTRA: 'yes', HOME: null },
        },
      });
      const env = { ...box.env, NODE_OPTIONS: '--max-old-space-size=64', NODE_EXTRA_CA_CERTS: '/dev/null' };
      const { startController } = await import('../../libclient/index.js');
      await startController({ config: box.configFile, env });
      const s = await box.waitForState('envy', 'running');
      const buddyEnv = readFileSync(`/proc/${s.buddyPid}/environ`, 'latin1').split('\0').filter(Boolean);
      assert.deepEqual(
        buddyEnv.map((l) => l.split('=')[0]),
        ['PATH'],
        'PATH only',
      );
      const serviceEnv = await box.waitFor('the service env', () => {
        const text = readFileSync(box.file('service.env'), 'utf8');
        return text.includes('UPKEEPER_SERVICE=') ? text : undefined;
      });
      assert.match(serviceEnv, /^NODE_OPTIONS=--max-old-space-size=64$/m);
      assert.match(serviceEnv, /^NODE_EXTRA_CA_CERTS=\/dev\/null$/m);
      assert.match(serviceEnv, /^EXTRA=yes$/m);
      assert.match(serviceEnv, /^UPKEEPER_SERVICE=envy$/m);
      assert.doesNotMatch(serviceEnv, /^HOME=/m, 'Environment null removes a variable');
    } finally {
      await box.cleanup();
    }
  });
});
