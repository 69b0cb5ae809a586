// RestartMode overlap with real programs: an HTTP server on Listen's socket restarted under a steady
// load drops no request; the old run drains only once the new one is ready, both runs are recorded
// (events, the runs table, the status while both live), a new run that fails leaves the old one
// serving, and a buddy killed in the middle of an overlap leaves nothing behind.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort, getPid } from '../helpers/net.js';
import { Sandbox, alive } from '../helpers/sandbox.js';

/**
 * On fd 3 (Listen), ready by a newline on fd 4 (ReadyFd) once it accepts. DELAY ms before it listens;
 * exits 1 at its start while the file FAIL exists; on SIGTERM it stops accepting, answers the requests
 * under way and exits (a graceful drain).
 */
const SERVER = `
const http = require('http');
const fs = require('fs');
if (process.env.FAIL && fs.existsSync(process.env.FAIL)) { console.error('refusing to start'); process.exit(1); }
const server = http.createServer((req, res) => setTimeout(() => res.end(process.pid + '\\n'), 2));
setTimeout(() => server.listen({ fd: 3 }, () => fs.writeSync(4, '\\n')), Number(process.env.DELAY || 0));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** A steady load: `inFlight` requests at all times until stopped (30 s at most); every answer kept. */
function load(port: number, inFlight = 4) {
  const answers: ({ pid: number } | { error: string })[] = [];
  let running = true;
  setTimeout(() => (running = false), 30_000).unref();
  const workers = Array.from({ length: inFlight }, async () => {
    while (running) answers.push(await getPid(port));
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(workers);
      return answers;
    },
  };
}

describe('RestartMode overlap', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let port = 0;
  let slowPort = 0;
  let plainPort = 0;
  const status = async (name: string) => (await (await box.client()).status(name))[0]!;
  const detail = (e: { detail: string | null }): Record<string, unknown> =>
    e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : {};

  /** The status once a new run of the service runs beside the old one (`oldPid`). */
  const twoRuns = (name: string, oldPid: number) =>
    box.waitFor('two runs', async () => {
      const s = await status(name);
      return s.previous && s.pid !== null && s.pid !== oldPid ? s : undefined;
    });

  before(async () => {
    box = new Sandbox('overlap');
    writeFileSync(box.file('server.js'), SERVER);
    port = await freePort();
    slowPort = await freePort();
    plainPort = await freePort();
    const server = [process.execPath, box.file('server.js')];
    const common = { ExecStart: server, ReadyFd: 4, StartTimeout: 5, KillTimeout: 5, InitialState: 'running' };
    box.writeServices({
      web: { ...common, Listen: [`tcp:127.0.0.1:${port}`], RestartMode: 'overlap', Environment: { DELAY: '300', FAIL: box.file('fail') } },
      slow: { ...common, Listen: [`tcp:127.0.0.1:${slowPort}`], RestartMode: 'overlap', Environment: { DELAY: '2500' } },
      plain: { ...common, Listen: [`tcp:127.0.0.1:${plainPort}`] },
      found: { ExecStart: server, PidFile: box.file('found.pid'), Listen: [`tcp:127.0.0.1:${await freePort()}`], ReadyFd: 4 },
    });
    await box.startController();
  });
  after(async () => {
    await box.cleanup();
  });

  it('three restarts under a steady load: not one request fails, and the new runs answer', async () => {
    const first = await box.waitForState('web', 'running');
    const c = await box.client();
    const traffic = load(port);
    const pids = [first.pid!];
    for (let i = 0; i < 3; i++) {
      const [r] = await c.restart('web');
      assert.equal(r?.ok, true, r?.message);
      pids.push(r.status!.pid!);
      await box.waitFor('the old run gone', () => !alive(pids.at(-2)!));
    }
    const answers = await traffic.stop();
    const failed = answers.filter((a) => 'error' in a);
    assert.deepEqual(failed, [], `${failed.length} of ${answers.length} requests failed`);
    assert.ok(answers.length > 50, `a real load: ${answers.length} requests`);
    const by = new Set(answers.map((a) => ('pid' in a ? a.pid : 0)));
    for (const pid of pids) assert.ok(by.has(pid), `run ${pid} answered`);
  });

  it('records both runs: spawned replaces the old pid, the old one drains after the new is ready, its exit says replaced', async () => {
    const before = await box.waitForState('web', 'running');
    const [r] = await (await box.client()).restart('web');
    const now = r!.status!.pid!;
    await box.waitFor('the old run gone', () => !alive(before.pid!));
    await box.waitFor('its exit stored', () => box.events('web').some((e) => e.type === 'exited' && e.pid === before.pid));
    const events = box.events('web');
    const from = events.findIndex((e) => e.type === 'spawned' && e.pid === now);
    const story = events.slice(from).filter((e) => e.pid === now || e.pid === before.pid);
    assert.deepEqual(detail(story[0]!).replaces, before.pid);
    const order = story.map((e) => `${e.type}${e.pid === before.pid ? ':old' : ''}`);
    assert.deepEqual(order.slice(0, 4), ['spawned', 'ready', 'signal_sent:old', 'exited:old'], order.join(' '));
    const drain = story.find((e) => e.type === 'signal_sent')!;
    assert.equal(drain.signal, 'SIGTERM');
    assert.equal(detail(drain).reason, 'drain');
    const exited = story.find((e) => e.type === 'exited')!;
    assert.equal(exited.code, 0);
    assert.equal(detail(exited).replaced, true);
    assert.equal(detail(exited).requested, true);
    // The runs table: the old run ended stopped (not lost) after the new one began.
    const db = box.db();
    try {
      const runs = db
        .prepare(
          `SELECT r.pid, r.started, r.ended, r.outcome FROM runs r JOIN services s ON s.uuid = r.service_uuid WHERE s.name = 'web' AND r.pid IN (?, ?)`,
        )
        .all(before.pid, now) as { pid: number; started: number; ended: number | null; outcome: string | null }[];
      const old = runs.find((x) => x.pid === before.pid)!;
      const cur = runs.find((x) => x.pid === now)!;
      assert.equal(old.outcome, 'stopped');
      assert.equal(cur.ended, null, 'the new run is open');
      assert.ok(old.ended! > cur.started, 'for a moment, two runs');
    } finally {
      db.close();
    }
  });

  it('while both runs live, the status shows the old one beside the new one (upk status, JSON)', async () => {
    const before = await box.waitForState('slow', 'running');
    const c = await box.client();
    const restarting = c.restart('slow');
    const during = await twoRuns('slow', before.pid!);
    assert.equal(during.state, 'starting');
    assert.equal(during.previous?.pid, before.pid);
    assert.equal(during.previous?.draining, false);
    const shown = await box.upk(['status', 'slow']);
    assert.match(
      shown.stdout,
      new RegExp(`^slow: overlap restart: the old run \\(pid ${before.pid}\\) serves until the new run is ready$`, 'm'),
    );
    assert.match(shown.stdout, /starting!? \+old/);
    const [r] = await restarting;
    assert.equal(r?.ok, true);
    await box.waitFor('the old run gone', () => !alive(before.pid!));
    await box.waitFor('one run again', async () => ((await status('slow')).previous === undefined ? true : undefined));
  });

  it('a new run that fails before it is ready leaves the old one serving: the restart fails, overlap_abandoned', async () => {
    const before = await box.waitForState('web', 'running');
    writeFileSync(box.file('fail'), '');
    try {
      const traffic = load(port, 2);
      const [r] = await (await box.client()).restart('web');
      const answers = await traffic.stop();
      assert.equal(r?.ok, false);
      assert.match(r.message, /exited with code 1/);
      assert.deepEqual(
        answers.filter((a) => 'error' in a),
        [],
      );
      const s = await status('web');
      assert.equal(s.state, 'running');
      assert.equal(s.pid, before.pid, 'the old run is the service again');
      assert.equal(s.previous, undefined);
      assert.ok(alive(before.pid!));
      await box.waitFor('overlap_abandoned stored', () =>
        box.events('web').some((e) => e.type === 'overlap_abandoned' && e.pid === before.pid),
      );
    } finally {
      rmSync(box.file('fail'), { force: true });
    }
    // It is supervised as before: a crash restarts it.
    process.kill(before.pid!, 'SIGKILL');
    const again = await box.waitFor('a new run', async () => {
      const s = await status('web');
      return s.state === 'running' && s.pid !== before.pid ? s : undefined;
    });
    assert.notEqual(again.pid, before.pid);
  });

  it('upk restart --overlap overlaps a stop-start service once; a service found by PidFile refuses it, saying why', async () => {
    const before = await box.waitForState('plain', 'running');
    const traffic = load(plainPort, 2);
    const res = await box.upk(['restart', '--overlap', 'plain']);
    const answers = await traffic.stop();
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.deepEqual(
      answers.filter((a) => 'error' in a),
      [],
    );
    const spawned = box.events('plain').filter((e) => e.type === 'spawned');
    assert.equal(detail(spawned.at(-1)!).replaces, before.pid);
    const refused = await box.upk(['restart', '--overlap', 'found']);
    assert.equal(refused.code, 5, refused.stdout + refused.stderr);
    assert.match(refused.stdout + refused.stderr, /cannot overlap its runs: the new start would find the running one/);
  });

  it('a buddy killed during an overlap: its successor takes the new run over and drains the old one', async () => {
    const before = await box.waitForState('slow', 'running');
    const c = await box.client();
    const restarting = c.restart('slow').catch(() => undefined);
    const during = await twoRuns('slow', before.pid!);
    process.kill(during.buddyPid!, 'SIGKILL');
    await restarting;
    await box.waitFor('the old run drained by the new buddy', () => !alive(before.pid!), 15_000);
    const s = await box.waitFor('a new buddy, running', async () => {
      const x = await status('slow');
      return x.buddyPid !== during.buddyPid && x.state === 'running' && x.previous === undefined ? x : undefined;
    });
    assert.equal(s.pid, during.pid, 'the new run, taken over');
    const answer = await getPid(slowPort);
    assert.deepEqual(answer, { pid: during.pid });
    await box.waitFor('the old run recorded', () =>
      box.events('slow').some((e) => e.type === 'exited' && e.pid === before.pid && detail(e).replaced === true),
    );
  });

  it('a stop during an overlap stops both runs before it answers', async () => {
    const before = await box.waitForState('slow', 'running');
    const c = await box.client();
    const restarting = c.restart('slow');
    const during = await twoRuns('slow', before.pid!);
    const [stopped] = await c.stop('slow');
    assert.equal(stopped?.ok, true);
    assert.ok(!alive(before.pid!), 'the old run is gone');
    assert.ok(!alive(during.pid!), 'the new run is gone');
    const [r] = await restarting;
    assert.equal(r?.ok, false);
  });
});
