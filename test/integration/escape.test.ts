// Services that daemonize (a double fork, setsid): what left the process group is found by the marker
// in its environment, UPKEEPER_MARKER=<uuid>, and nothing is left after a stop, a cleanup before a
// restart, a buddy's loss or a shutdown. A process that clears its environment escapes (a known limit).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive, processesUnder, sleep } from '../helpers/sandbox.js';

/** Living processes (not zombies) whose environment holds UPKEEPER_MARKER=<uuid>. */
function marked(uuid: string): number[] {
  const entry = `UPKEEPER_MARKER=${uuid}\0`;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1');
      if ((env.startsWith(entry) || env.includes(`\0${entry}`)) && alive(Number(name))) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The session of a process, or null when it is gone. */
function sessionOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  } catch {
    return null;
  }
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

describe('a service that daemonizes does not escape', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const cleared: number[] = [];
  before(async () => {
    box = new Sandbox('escape');
    box.writeServices({
      // (setsid …&) in a subshell that exits: a grandchild in a session of its own, a child of init
      doublefork: { ExecStart: `sh -c '(setsid sleep 1001 &); exec sleep 1002'`, MinUptime: 0.1, KillTimeout: 5 },
      // the classic daemon: the main process exits right after starting it; restarted again and again
      daemon: {
        ExecStart: `sh -c 'setsid sleep 1003 & echo $! >> ${box.file('daemon.pids')}; sleep 0.1'`,
        MinUptime: 0.05,
        UserRateLimit: 0.2,
        KillTimeout: 5,
      },
      // a process that clears its environment: nothing marks it any more
      cleared: { ExecStart: `sh -c 'setsid env -i sleep 1004 & echo $! > ${box.file('cleared.pid')}; exec sleep 1005'`, MinUptime: 0.1 },
      adopted: { ExecStart: `sh -c '(setsid sleep 1006 &); exec sleep 1007'`, MinUptime: 0.1, KillTimeout: 5 },
      // who carries the marker: the service only, not its stop script, custom action or pipe program
      carriers: {
        ExecStart: `sh -c 'env > ${box.file('start.env')}; exec sleep 1008'`,
        StopScript: `#!/bin/sh\nenv > ${box.file('stop.env')}\nkill $1\nsleep 0.5\necho survived > ${box.file('stop.done')}\n`,
        CustomActions: { show: `#!/bin/sh\nenv > ${box.file('action.env')}\n` },
        PipeStdoutScript: `env > ${box.file('pipe.env')}; exec cat`,
        MinUptime: 0.1,
      },
    });
    await box.startController();
  });
  after(async () => {
    kill(cleared);
    await box.cleanup();
  });

  /** Start a service and wait until a process of it (by its environment) runs outside its session. */
  async function startEscaped(service: string): Promise<{ uuid: string; pid: number; escaped: number }> {
    const c = await box.client();
    const [r] = await c.start(service);
    assert.equal(r!.ok, true, r!.message);
    const { uuid, pid } = r!.status!;
    const escaped = await box.waitFor(`a process of ${service} outside its session`, () =>
      processesUnder(`UPKEEPER_RUN_DIR=${box.runDir(service)}\0`).find((p) => sessionOf(p) !== pid && sessionOf(p) !== null),
    );
    return { uuid, pid: pid!, escaped };
  }

  it('upk stop: nothing carrying the marker is left, the double-forked grandchild included', async () => {
    const { uuid, escaped } = await startEscaped('doublefork');
    const stop = await box.upk(['stop', 'doublefork']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!alive(escaped), `the escaped grandchild ${escaped} is gone`);
    assert.deepEqual(marked(uuid), [], 'no process carries the marker');
    const signals = box
      .events('doublefork')
      .filter((e) => e.type === 'signal_sent')
      .map((e) => JSON.parse(e.detail!));
    assert.ok(
      signals.some((d) => (d.escaped as number[] | undefined)?.includes(escaped)),
      `signal_sent names ${escaped}: ${JSON.stringify(signals)}`,
    );
  });

  it('a daemon left by each run is gone before the next start: orphans never pile up', async () => {
    const c = await box.client();
    const [r] = await c.start('daemon');
    const uuid = r!.status!.uuid;
    await box.waitFor('six runs', () => readPids(box.file('daemon.pids')).length >= 6, 20_000);
    const daemons = readPids(box.file('daemon.pids'));
    const living = daemons.filter(alive);
    assert.ok(living.length <= 1, `at most the latest run's daemon lives, not ${living.length} of ${daemons.length}`);
    const now = marked(uuid);
    assert.ok(now.length <= 3, `at most the latest run's shell, sleep and daemon carry the marker: ${now.join(' ')}`);
    const cleanups = box.events('daemon').filter((e) => e.type === 'signal_sent' && JSON.parse(e.detail!).reason === 'cleanup');
    assert.ok(cleanups.length >= 4, `a cleanup after each run (${cleanups.length})`);
    await c.stop('daemon');
    assert.deepEqual(readPids(box.file('daemon.pids')).filter(alive), [], 'no daemon of any run is left');
    assert.deepEqual(marked(uuid), []);
  });

  it('a process that clears its environment escapes (a known limit)', async () => {
    const c = await box.client();
    const [r] = await c.start('cleared');
    assert.equal(r!.ok, true, r!.message);
    const pid = await box.waitFor('the env -i process', () => readPids(box.file('cleared.pid'))[0]);
    cleared.push(pid);
    await box.waitFor('sleep with an empty environment', () => readFileSync(`/proc/${pid}/environ`).length === 0);
    await c.stop('cleared');
    assert.ok(alive(pid), 'it runs on after the stop: nothing marks it');
    kill([pid]);
  });

  it('a buddy lost and replaced: the adopted service is stopped with what it left', async () => {
    const { uuid, escaped } = await startEscaped('adopted');
    const c = await box.client();
    const [before] = await c.status('adopted');
    process.kill(before!.buddyPid!, 'SIGKILL');
    await box.waitFor('a new buddy that adopted it', async () => {
      const [s] = await c.status('adopted');
      return s?.buddyPid !== before!.buddyPid && s?.state === 'running' && s.pid === before!.pid;
    });
    const [stopped] = await c.stop('adopted');
    assert.equal(stopped!.ok, true, stopped!.message);
    assert.ok(!alive(escaped), `the escaped grandchild ${escaped} is gone`);
    assert.deepEqual(marked(uuid), []);
  });

  it('only the service carries the marker: not its stop script, actions or pipe program', async () => {
    const c = await box.client();
    const [r] = await c.start('carriers');
    const uuid = r!.status!.uuid;
    const envOf = (name: string): Promise<string> => box.waitFor(name, () => readFileSync(box.file(name), 'utf8') || undefined);
    assert.match(await envOf('start.env'), new RegExp(`^UPKEEPER_MARKER=${uuid}$`, 'm'));
    await c.action('carriers', 'show');
    await c.stop('carriers');
    for (const name of ['stop.env', 'action.env', 'pipe.env']) {
      const text = await envOf(name);
      assert.match(text, new RegExp(`^UPKEEPER_SERVICE_UUID=${uuid}$`, 'm'), `${name}: the service's environment`);
      assert.doesNotMatch(text, /^UPKEEPER_MARKER=/m, `${name}: no marker`);
    }
    // The stop script outlives the service it stopped: the stop sequence does not end it.
    await box.waitFor('the stop script to finish', () => readFileSync(box.file('stop.done'), 'utf8').includes('survived'));
  });
});

describe('upk shutdown leaves nothing of daemonizing services', { timeout: 60_000 }, () => {
  it('no process carries a marker, nothing mentions the sandbox', async () => {
    const box = new Sandbox('escapeshut');
    try {
      box.writeServices({
        doublefork: { ExecStart: `sh -c '(setsid sleep 1011 &); exec sleep 1012'`, InitialState: 'running', MinUptime: 0.1 },
        daemon: { ExecStart: `sh -c 'setsid sleep 1013 & sleep 0.1'`, InitialState: 'running', MinUptime: 0.05, UserRateLimit: 0.2 },
      });
      await box.startController();
      await box.waitForState('doublefork', 'running');
      const c = await box.client();
      const uuids = (await c.status(['doublefork', 'daemon'])).map((s) => s.uuid);
      await sleep(700); // a few runs of the daemon; the double fork done
      const shutdown = await box.upk(['shutdown']);
      assert.equal(shutdown.code, 0, shutdown.stderr);
      await box
        .waitFor('the buddies and the controller to exit', () => processesUnder(box.dir).length === 0 || undefined, 10_000)
        .catch(() => undefined);
      for (const u of uuids) assert.deepEqual(marked(u), [], `nothing carries UPKEEPER_MARKER=${u}`);
      assert.deepEqual(processesUnder(box.dir), [], 'nothing of the sandbox runs');
    } finally {
      await box.cleanup();
    }
  });
});
