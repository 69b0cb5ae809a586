// A buddy killed with SIGKILL: a new one adopts the still-running service, output flows on, nothing is lost.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive } from '../helpers/sandbox.js';

describe('buddy loss', { timeout: 90_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('loss');
    box.writeServices({
      counter: {
        // one numbered line every 20 ms: a gap or a repeat in log/stdout would show a lost or doubled line
        ExecStart: `sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done'`,
        InitialState: 'running',
        MinUptime: 0.1,
        UserRateLimit: 0,
      },
      piped: {
        ExecStart: `sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done'`,
        PipeStdoutScript: 'exec sed -u s/^/p:/',
        InitialState: 'running',
        MinUptime: 0.1,
      },
      stubborn: {
        ExecStart: `sh -c 'trap "" TERM; while :; do sleep 0.05; done'`,
        InitialState: 'running',
        MinUptime: 0.1,
        KillTimeout: 0.5,
      },
      // Ready (on ReadyFd, or by a ReadyLine) only once the test creates its file: a buddy is lost before that.
      lateFd: {
        ExecStart: `sh -c 'while [ ! -e "$FLAG" ]; do sleep 0.05; done; echo >&3; exec sleep 1000'`,
        Environment: { FLAG: box.file('lateFd.flag') },
        ReadyFd: 3,
        InitialState: 'running',
      },
      lateLine: {
        ExecStart: `sh -c 'while [ ! -e "$FLAG" ]; do sleep 0.05; done; echo now serving; exec sleep 1000'`,
        Environment: { FLAG: box.file('lateLine.flag') },
        ReadyLine: 'now serving',
        InitialState: 'running',
      },
    });
    await box.startController();
    await box.waitForState('counter', 'running');
  });
  after(() => box.cleanup());

  it('a new buddy adopts the running service without restarting it; output keeps flowing', async () => {
    const c = await box.client();
    const [before] = await c.status('counter');
    process.kill(before!.buddyPid!, 'SIGKILL');
    // Replaced at once, not at the next controller start: the wait's 10 s bound tells the two apart.
    const after = await box.waitFor(
      'a new buddy',
      async () => {
        const [s] = await c.status('counter');
        return s?.buddyPid && s.buddyPid !== before!.buddyPid && s.state === 'running' ? s : undefined;
      },
      10_000,
    );
    assert.equal(after.pid, before!.pid, 'the same process: not restarted');
    assert.ok(alive(before!.pid!));
    const types = box.events('counter').map((e) => e.type);
    assert.ok(types.includes('adopted'));
    assert.equal(types.filter((t) => t === 'spawned').length, 1, 'started once only');
    const db = box.db();
    const lost = db.prepare("SELECT count(*) AS n FROM buddies WHERE end_reason = 'lost'").get() as { n: number };
    db.close();
    assert.equal(lost.n, 1, 'the lost buddy is recorded');

    // Output written while no buddy ran, and after, is all in log/stdout, in order, once.
    await new Promise((r) => setTimeout(r, 500));
    const lines = readFileSync(join(box.runDir('counter'), 'log', 'stdout'), 'utf8')
      .trim()
      .split('\n')
      .map(Number);
    assert.ok(lines.length > 20);
    lines.forEach((n, i) => assert.equal(n, i + 1, `line ${i + 1} is ${n}`));
  });

  it("the adopted service's exit is noticed (a look in /proc every 0.25 s) and restarts follow the policy", async () => {
    const c = await box.client();
    const [adopted] = await c.status('counter');
    const t0 = Date.now();
    process.kill(adopted!.pid!, 'SIGKILL');
    const restarted = await box.waitFor('a restart', async () => {
      const [s] = await c.status('counter');
      return s?.pid && s.pid !== adopted!.pid ? s : undefined;
    });
    // The promise: the end of an adopted process is noticed within 0.25 s, and UserRateLimit 0 restarts
    // it at once. 5 s leaves a loaded machine room and still fails a watch ten times slower.
    assert.ok(Date.now() - t0 < 5000, `restarted ${Date.now() - t0} ms after the kill`);
    assert.equal(restarted.lastExit?.code, null);
    assert.equal(restarted.lastExit?.signal, null, 'an adopted process is not our child: its exit status is unknown');
    const exited = box
      .events('counter')
      .filter((e) => e.type === 'exited')
      .at(-1)!;
    assert.equal(JSON.parse(exited.detail!).unknown, true);
  });

  it('a buddy lost during a stop: the new buddy carries the stop on instead of reversing it', async () => {
    const c = await box.waitForState('stubborn', 'running');
    const client = await box.client();
    const stopping = client.stop('stubborn').catch((err: Error) => err);
    await box.waitFor('stopping', async () => (await (await box.client()).status('stubborn'))[0]?.state === 'stopping');
    process.kill(c.buddyPid!, 'SIGKILL');
    await stopping;
    const done = await box.waitFor('stopped', async () => {
      const [s] = await (await box.client()).status('stubborn');
      return s?.state === 'stopped' && s.buddyPid !== c.buddyPid ? s : undefined;
    });
    assert.equal(done.desired, 'stopped');
    assert.ok(!alive(c.pid!), 'the stubborn process was killed');
    const adopted = box.events('stubborn').find((e) => e.type === 'adopted');
    assert.equal(JSON.parse(adopted!.detail!).desired, 'stopped');
  });

  it('a service adopted before it was ready stays starting until its signal reaches the new buddy (ReadyFd, ReadyLine)', async () => {
    const c = await box.client();
    for (const name of ['lateFd', 'lateLine']) {
      const before = await box.waitForState(name, 'starting');
      process.kill(before.buddyPid!, 'SIGKILL');
      const adopted = await box.waitFor(`${name} adopted`, async () => {
        const [s] = await c.status(name);
        return s?.buddyPid && s.buddyPid !== before.buddyPid ? s : undefined;
      });
      assert.equal(adopted.pid, before.pid, 'the same process');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await c.status(name))[0]?.state, 'starting', `${name}: not ready yet, so not running`);
      writeFileSync(box.file(`${name}.flag`), '');
      await box.waitForState(name, 'running');
      const ready = box.events(name).filter((e) => e.type === 'ready');
      assert.equal(ready.length, 1, `${name}: one ready event, from the new buddy`);
      assert.equal(JSON.parse(ready[0]!.detail!).how, name === 'lateFd' ? 'ReadyFd' : 'ReadyLine');
    }
  });

  it("a lost buddy's pipe program is adopted, not doubled, and no line is lost", async () => {
    const before = await box.waitForState('piped', 'running');
    const status = JSON.parse(readFileSync(join(box.runDir('piped'), 'status'), 'utf8')) as { pipes: { stdout: { pid: number } } };
    const pipePid = status.pipes.stdout.pid;
    process.kill(before.buddyPid!, 'SIGKILL');
    await box.waitFor('a new buddy', async () => {
      const [s] = await (await box.client()).status('piped');
      return s?.buddyPid && s.buddyPid !== before.buddyPid ? s : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const after = JSON.parse(readFileSync(join(box.runDir('piped'), 'status'), 'utf8')) as { pipes: { stdout: { pid: number } } };
    assert.equal(after.pipes.stdout.pid, pipePid, 'the same pipe program');
    const seds = processesNamed('sed', box.dir);
    assert.equal(seds, 1, 'one reader of the FIFO, not two');
    const lines = readFileSync(join(box.runDir('piped'), 'log', 'stdout'), 'utf8')
      .trim()
      .split('\n');
    lines.forEach((l, i) => assert.equal(l, `p:${i + 1}`));
  });
});

/** How many processes with this command name have `dir` in their environment. */
function processesNamed(name: string, dir: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name && readFileSync(`/proc/${pid}/environ`, 'latin1').includes(dir)) n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

// The signals of the services below are sent while the controller is stopped and their buddies are
// lost: a ReadyFd newline waits in its FIFO, a ReadyLine in the output FIFO, a probe is run again; a
// READY=1 is refused (no relay listens) and lost for good, so Type notify alone cannot wait for it.
describe('buddy loss before readiness, signalled while no buddy runs', { timeout: 60_000 }, () => {
  let box: Sandbox;
  const names = ['gapFd', 'gapLine', 'gapProbe', 'gapNotify'];
  before(async () => {
    box = new Sandbox('gap');
    const wait = `while [ ! -e "$FLAG" ]; do sleep 0.05; done`;
    const flag = (name: string) => ({ Environment: { FLAG: box.file(`${name}.flag`) }, InitialState: 'running', StartTimeout: 8 });
    box.writeServices({
      gapFd: { ...flag('gapFd'), ExecStart: `sh -c '${wait}; echo >&3; exec sleep 1000'`, ReadyFd: 3 },
      gapLine: { ...flag('gapLine'), ExecStart: `sh -c '${wait}; echo now serving; exec sleep 1000'`, ReadyLine: 'now serving' },
      gapProbe: { ...flag('gapProbe'), ExecStart: 'sleep 1000', ReadyCheck: 'test -e "$FLAG"', ReadyCheckInterval: 0.2 },
      gapNotify: { ...flag('gapNotify'), ExecStart: `sh -c '${wait}; systemd-notify --ready; exec sleep 1000'`, Type: 'notify' },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('each comes to the new buddy (Type notify alone is taken as ready): running, the same process, no start_timeout', async () => {
    const before = new Map<string, { pid: number; buddyPid: number }>();
    for (const name of names) {
      const s = await box.waitForState(name, 'starting');
      before.set(name, { pid: s.pid!, buddyPid: s.buddyPid! });
    }
    const stop = await box.upk(['controller', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    for (const { buddyPid } of before.values()) process.kill(buddyPid, 'SIGKILL');
    for (const name of names) writeFileSync(box.file(`${name}.flag`), '');
    await new Promise((r) => setTimeout(r, 500)); // (the services signal meanwhile)
    await box.startController();
    const c = await box.client();
    for (const name of names) {
      const pid = before.get(name)!.pid;
      const s = await box.waitFor(`${name} running`, async () => {
        const [x] = await c.status(name);
        return x?.state === 'running' || x?.pid !== pid ? x : undefined;
      });
      const events = box.events(name).map((e) => `${e.type} ${e.detail ?? ''}`);
      assert.deepEqual([s.state, s.pid], ['running', pid], `${name}: the same process, running: ${events.join('\n')}`);
      assert.ok(!events.some((e) => e.startsWith('start_timeout')), name);
    }
  });
});
