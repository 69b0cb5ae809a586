// RestartMode overlap against hostile programs and bad timing, with real processes: an old run deaf
// to SIGTERM (KillTimeout > 0 and < 0), one that leaves children in its group or outside it, runs
// killed at each moment of an overlap, restart storms, a buddy or the controller killed in the middle,
// a shutdown in the middle, and bad input. Tests marked `skip: 'BUG: …'` show a problem left open.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort, getPid } from '../helpers/net.js';
import { Sandbox, alive, groupMembers, processesUnder, sleep } from '../helpers/sandbox.js';

/**
 * On fd 3 (Listen). Ready by a newline on fd 4 (ReadyFd), or by the line "ready" on stdout with
 * READY=line, 200 ms after its start (2 s with the word slow). What it does is read at its start from
 * the file MODE (words): fail (exits 1), deaf (ignores SIGTERM), child (a child in its group that
 * ignores SIGTERM; its pid in MODE.child), escape (a child outside its group, in MODE.escaped; with
 * escapedeaf, one that ignores SIGTERM), chatty
 * (prints "ready" every 100 ms). On SIGTERM (unless deaf) it stops accepting and exits.
 */
const SERVER = `
const http = require('http');
const fs = require('fs');
const cp = require('child_process');
let mode = '';
try { mode = fs.readFileSync(process.env.MODE, 'utf8'); } catch {}
const has = (w) => mode.split(/\\s+/).includes(w);
if (has('fail')) { console.error('refusing to start'); process.exit(1); }
if (has('child')) {
  const c = cp.spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
  fs.writeFileSync(process.env.MODE + '.child', String(c.pid));
}
if (has('escape') || has('escapedeaf')) {
  const deaf = has('escapedeaf') ? "process.on('SIGTERM', () => {}); " : '';
  const c = cp.spawn(process.execPath, ['-e', deaf + 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
  c.unref();
  fs.writeFileSync(process.env.MODE + '.escaped', String(c.pid));
}
if (has('chatty')) setInterval(() => console.log('ready'), 100);
const server = http.createServer((req, res) => setTimeout(() => res.end(process.pid + '\\n'), 2));
setTimeout(() => server.listen({ fd: 3 }, () => {
  if (process.env.READY === 'line') console.log('ready'); else fs.writeSync(4, '\\n');
}), has('slow') ? 2000 : 200);
process.on('SIGTERM', () => { if (!has('deaf')) server.close(() => process.exit(0)); });
`;

const detail = (e: { detail: string | null }): Record<string, unknown> =>
  e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : {};

type Event = ReturnType<Sandbox['events']>[number];

/** When an event was stored (ms since the epoch). */
function timeOf(box: Sandbox, e: Event): number {
  const db = box.db();
  try {
    return (db.prepare('SELECT time FROM events WHERE buddy_id = ? AND seq = ?').get(e.buddy_id, e.seq) as { time: number }).time;
  } finally {
    db.close();
  }
}

/** The services, each on a port of its own; `mode` words are written to its MODE file now. */
async function services(
  box: Sandbox,
  specs: Record<string, { mode?: string; extra?: Record<string, unknown> }>,
  file = 'services.conf',
  ports: Record<string, number> = {},
) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, spec] of Object.entries(specs)) {
    ports[name] ??= await freePort();
    if (spec.mode !== undefined) writeFileSync(box.file(`${name}.mode`), spec.mode);
    out[name] = {
      ExecStart: [process.execPath, box.file('server.js')],
      Listen: [`tcp:127.0.0.1:${ports[name]}`],
      ReadyFd: 4,
      StartTimeout: 5,
      KillTimeout: 5,
      RestartMode: 'overlap',
      InitialState: 'running',
      Environment: { MODE: box.file(`${name}.mode`) },
      ...spec.extra,
    };
  }
  writeFileSync(box.file('server.js'), SERVER);
  box.writeServices(out, file);
  return ports;
}

/** Living processes started for service NAME (its MODE path is in their environment). */
const processesOf = (box: Sandbox, name: string): number[] => processesUnder(box.file(`${name}.mode`));

describe('RestartMode overlap, hostile', { timeout: 240_000 }, () => {
  let box: Sandbox;
  let ports: Record<string, number> = {};
  const status = async (name: string) => (await (await box.client()).status(name))[0]!;
  const mode = (name: string, words: string): void => writeFileSync(box.file(`${name}.mode`), words);
  /** Wait until an overlap restart of NAME has its two runs; the new run's status. */
  const twoRuns = (name: string, old: number) =>
    box.waitFor('two runs', async () => {
      const s = await status(name);
      return s.previous && s.pid !== null && s.pid !== old ? s : undefined;
    });
  const settled = (name: string) =>
    box.waitFor(
      `${name} running alone`,
      async () => {
        const s = await status(name);
        return s.state === 'running' && s.previous === undefined ? s : undefined;
      },
      15_000,
    );

  before(async () => {
    box = new Sandbox('ovhostile');
    ports = await services(box, {
      deaf: { mode: 'deaf', extra: { KillTimeout: 1 } },
      deafneg: { mode: 'deaf', extra: { KillTimeout: -1 } },
      grp: { mode: 'child', extra: { KillTimeout: 1 } },
      esc: { mode: 'escape' },
      escdeaf: { mode: '', extra: { KillTimeout: 1 } },
      storm: { extra: { KillTimeout: 2 } },
      kept: { extra: { SampleInterval: 0.2 } },
      newdies: { mode: 'deaf', extra: { KillTimeout: 3 } },
      olddies: {},
      bk: { mode: 'deaf', extra: { KillTimeout: 2 } },
      linger: { mode: 'child', extra: { KillTimeout: 4 } },
      chatty: {
        mode: 'chatty',
        extra: { ReadyFd: null, ReadyLine: '^ready$', Environment: { MODE: box.file('chatty.mode'), READY: 'line' } },
      },
      job: { extra: { Type: 'oneshot', RestartMode: 'stop-start', Listen: [], ReadyFd: null, InitialState: 'stopped' } },
    });
    Object.assign(ports, await services(box, { reconf: {} }, 'reconf.conf'));
    await box.startController();
  });
  after(async () => {
    await box.cleanup();
  });

  it('the configuration reloaded mid-overlap (RestartMode stop-start, another KillTimeout): the overlap ends as it began', async () => {
    const before = await box.waitForState('reconf', 'running');
    mode('reconf', 'slow');
    const c = await box.client();
    const restarting = c.restart('reconf');
    const during = await twoRuns('reconf', before.pid!);
    await services(box, { reconf: { extra: { RestartMode: 'stop-start', KillTimeout: 1 } } }, 'reconf.conf', { reconf: ports.reconf! });
    const reloaded = await box.upk(['reload-config']);
    assert.equal(reloaded.code, 0, reloaded.stdout + reloaded.stderr);
    const [r] = await restarting;
    mode('reconf', '');
    assert.equal(r?.ok, true, r?.message);
    assert.equal(r.status?.pid, during.pid);
    await box.waitFor('the old run gone', () => !alive(before.pid!));
    const s = await settled('reconf');
    assert.deepEqual(processesOf(box, 'reconf'), [s.pid]);
    // The next restart is a plain one now.
    const [again] = await c.restart('reconf');
    assert.equal(again?.ok, true, again?.message);
    const last = box
      .events('reconf')
      .filter((e) => e.type === 'spawned')
      .at(-1)!;
    assert.equal(detail(last).replaces, undefined);
    assert.ok(!alive(s.pid!));
  });

  it('an old run deaf to SIGTERM is SIGKILLed KillTimeout after its drain signal', async () => {
    const before = await box.waitForState('deaf', 'running');
    mode('deaf', '');
    const [r] = await (await box.client()).restart('deaf');
    assert.equal(r?.ok, true, r?.message);
    await box.waitFor('the old run killed', () => !alive(before.pid!), 8000);
    await box.waitFor('its exit stored', () => box.events('deaf').some((e) => e.type === 'exited' && e.pid === before.pid));
    const old = box.events('deaf').filter((e) => e.pid === before.pid);
    const drain = old.find((e) => e.type === 'signal_sent' && detail(e).reason === 'drain')!;
    const kill = old.find((e) => e.type === 'signal_sent' && e.signal === 'SIGKILL')!;
    assert.equal(drain.signal, 'SIGTERM');
    assert.equal(detail(kill).reason, 'escalation');
    const waited = timeOf(box, kill) - timeOf(box, drain);
    assert.ok(waited >= 900, `SIGKILL ${waited} ms after the drain signal`);
    const exited = old.find((e) => e.type === 'exited')!;
    assert.equal(exited.signal, 'SIGKILL');
    assert.deepEqual([detail(exited).replaced, detail(exited).requested], [true, true]);
    await settled('deaf');
  });

  it('with a negative KillTimeout an old run deaf to SIGTERM is never SIGKILLed; it goes when it goes', async () => {
    const before = await box.waitForState('deafneg', 'running');
    mode('deafneg', '');
    const [r] = await (await box.client()).restart('deafneg');
    assert.equal(r?.ok, true, r?.message);
    await sleep(2500); // (what is checked is that nothing happens)
    assert.ok(alive(before.pid!), 'the deaf old run still lives');
    const s = await status('deafneg');
    assert.equal(s.previous?.pid, before.pid);
    assert.equal(s.previous?.draining, true);
    assert.ok(!box.events('deafneg').some((e) => e.type === 'signal_sent' && e.signal === 'SIGKILL'));
    process.kill(before.pid!, 'SIGKILL');
    await settled('deafneg');
    const exited = box.events('deafneg').find((e) => e.type === 'exited' && e.pid === before.pid)!;
    assert.deepEqual([exited.signal, detail(exited).replaced], ['SIGKILL', true]);
  });

  it('an old run that leaves a child deaf to SIGTERM in its group: the child goes too, KillTimeout later', async () => {
    const before = await box.waitForState('grp', 'running');
    const child = Number(readFileSync(box.file('grp.mode.child'), 'utf8'));
    assert.ok(groupMembers(before.pid!).includes(child));
    mode('grp', '');
    const [r] = await (await box.client()).restart('grp');
    assert.equal(r?.ok, true, r?.message);
    await box.waitFor('the old run and its child gone', () => !alive(before.pid!) && !alive(child), 8000);
    const s = await settled('grp');
    assert.deepEqual(processesOf(box, 'grp'), [s.pid]);
  });

  it('a process the old run left outside its group survives the drain and goes with the next stop', async () => {
    const before = await box.waitForState('esc', 'running');
    const escaped = Number(readFileSync(box.file('esc.mode.escaped'), 'utf8'));
    mode('esc', '');
    const [r] = await (await box.client()).restart('esc');
    assert.equal(r?.ok, true, r?.message);
    await box.waitFor('the old run gone', () => !alive(before.pid!));
    await settled('esc');
    assert.ok(alive(escaped), 'not signalled by the drain (documented)');
    const [stopped] = await (await box.client()).stop('esc');
    assert.equal(stopped?.ok, true, stopped?.message);
    await box.waitFor('the escaped process gone', () => !alive(escaped), 5000);
    assert.deepEqual(processesOf(box, 'esc'), []);
  });

  it('a process deaf to SIGTERM the old run left outside its group: the next stop waits for it and SIGKILLs it', async () => {
    await box.waitForState('escdeaf', 'running');
    // A stop that left nothing, then a start: the buddy then looks for marked processes only among newer pids.
    const c = await box.client();
    assert.equal((await c.stop('escdeaf'))[0]?.ok, true);
    mode('escdeaf', 'escapedeaf');
    const [started] = await c.start('escdeaf');
    assert.equal(started?.ok, true, started?.message);
    const before = started.status!;
    const escaped = Number(readFileSync(box.file('escdeaf.mode.escaped'), 'utf8'));
    mode('escdeaf', '');
    const [r] = await (await box.client()).restart('escdeaf');
    assert.equal(r?.ok, true, r?.message);
    await box.waitFor('the old run gone', () => !alive(before.pid!));
    await settled('escdeaf');
    const [stopped] = await (await box.client()).stop('escdeaf');
    assert.equal(stopped?.ok, true, stopped?.message);
    assert.ok(!alive(escaped), 'the stop answered once nothing of the service was left');
    assert.deepEqual(processesOf(box, 'escdeaf'), []);
  });

  it('five restarts at once: all answered, one run left, every earlier run gone', async () => {
    const before = await box.waitForState('storm', 'running');
    const c = await box.client();
    const answers = await Promise.all(Array.from({ length: 5 }, () => c.restart('storm')));
    for (const [a] of answers) assert.ok(a, 'answered');
    const s = await settled('storm');
    assert.notEqual(s.pid, before.pid);
    const spawned = box.events('storm').filter((e) => e.type === 'spawned');
    await box.waitFor('one process left', () => {
      const left = processesOf(box, 'storm');
      return left.length === 1 && left[0] === s.pid;
    });
    for (const e of spawned) if (e.pid !== s.pid) assert.ok(!alive(e.pid!), `run ${e.pid} gone`);
    const load = await Promise.all(Array.from({ length: 10 }, () => getPid(ports.storm!)));
    assert.deepEqual(new Set(load.map((x) => ('pid' in x ? x.pid : x.error))), new Set([s.pid]));
  });

  it('restart, stop and start in quick succession leave one run and nothing else', async () => {
    const before = await box.waitForState('storm', 'running');
    const c = await box.client();
    const restarting = c.restart('storm');
    const stopping = c.stop('storm');
    const starting = c.start('storm');
    await Promise.all([restarting, stopping, starting]);
    const s = await settled('storm');
    assert.ok(!alive(before.pid!));
    await box.waitFor('one process left', () => {
      const left = processesOf(box, 'storm');
      return left.length === 1 && left[0] === s.pid;
    });
  });

  it('a new run killed before it is ready: the old one is the service again, and is still measured (usage)', async () => {
    const before = await box.waitForState('kept', 'running');
    await box.waitFor('a usage measurement', async () => (await status('kept')).usage ?? undefined);
    mode('kept', 'slow');
    const c = await box.client();
    const restarting = c.restart('kept');
    const during = await twoRuns('kept', before.pid!);
    process.kill(during.pid!, 'SIGKILL');
    const [r] = await restarting;
    assert.equal(r?.ok, false);
    mode('kept', '');
    const s = await status('kept');
    assert.deepEqual([s.state, s.pid, s.previous], ['running', before.pid, undefined]);
    await box.waitFor('overlap_abandoned', () => box.events('kept').some((e) => e.type === 'overlap_abandoned' && e.pid === before.pid));
    // Its CPU and memory are measured again (MaxMemory, MaxCPU and the usage records depend on it).
    const measured = await box.waitFor(
      'a usage measurement of the kept run',
      async () => {
        const u = (await status('kept')).usage;
        return u && Date.parse(u.at) > Date.now() - 1000 ? u : undefined;
      },
      5000,
    );
    assert.ok(measured.rss > 0);
  });

  it('a new run killed right after it is ready, while the deaf old one drains: a plain restart, the old one killed', async () => {
    const before = await box.waitForState('newdies', 'running');
    mode('newdies', '');
    const [r] = await (await box.client()).restart('newdies');
    assert.equal(r?.ok, true, r?.message);
    const fresh = r.status!.pid!;
    process.kill(fresh, 'SIGKILL');
    await box.waitFor('the old run killed after KillTimeout', () => !alive(before.pid!), 10_000);
    const s = await settled('newdies');
    assert.ok(s.pid !== fresh && s.pid !== before.pid);
    await box.waitFor('one process left', () => {
      const left = processesOf(box, 'newdies');
      return left.length === 1 && left[0] === s.pid;
    });
    await box.waitFor('the exits stored', () => box.events('newdies').some((e) => e.type === 'exited' && e.pid === before.pid));
    const third = box.events('newdies').find((e) => e.type === 'spawned' && e.pid === s.pid)!;
    assert.equal(detail(third).replaces, undefined, 'the old run drains: it is replaced by nobody');
    assertRunsClosed(box, 'newdies', s.pid!);
  });

  it('the old run killed while the new one starts: recorded as replaced, not asked for; the new one runs', async () => {
    const before = await box.waitForState('olddies', 'running');
    mode('olddies', 'slow');
    const c = await box.client();
    const restarting = c.restart('olddies');
    const during = await twoRuns('olddies', before.pid!);
    process.kill(before.pid!, 'SIGKILL');
    const [r] = await restarting;
    mode('olddies', '');
    assert.equal(r?.ok, true, r?.message);
    const s = await settled('olddies');
    assert.equal(s.pid, during.pid);
    const events = box.events('olddies');
    const from = events.findIndex((e) => e.type === 'spawned' && e.pid === during.pid);
    const old = events.slice(from).filter((e) => e.pid === before.pid);
    assert.deepEqual(
      old.map((e) => e.type),
      ['exited'],
    );
    assert.deepEqual([old[0]!.signal, detail(old[0]!).replaced, detail(old[0]!).requested], ['SIGKILL', true, false]);
  });

  it('the buddy killed while a deaf old run drains: its successor kills that run KillTimeout later', async () => {
    const before = await box.waitForState('bk', 'running');
    mode('bk', '');
    const [r] = await (await box.client()).restart('bk');
    assert.equal(r?.ok, true, r?.message);
    const during = await status('bk');
    assert.equal(during.previous?.draining, true);
    process.kill(during.buddyPid!, 'SIGKILL');
    await box.waitFor('the old run killed', () => !alive(before.pid!), 15_000);
    const s = await settled('bk');
    assert.equal(s.pid, during.pid);
    assert.notEqual(s.buddyPid, during.buddyPid);
    await box.waitFor('one process left', () => {
      const left = processesOf(box, 'bk');
      return left.length === 1 && left[0] === s.pid;
    });
  });

  it(
    'the buddy killed once the old run has exited but its group lingers: the lingering child still goes',
    { skip: 'BUG: a successor buddy forgets a previous run whose pid has exited (status previous.pid null): its group is left running' },
    async () => {
      const before = await box.waitForState('linger', 'running');
      const child = Number(readFileSync(box.file('linger.mode.child'), 'utf8'));
      mode('linger', '');
      const [r] = await (await box.client()).restart('linger');
      assert.equal(r?.ok, true, r?.message);
      const lingering = await box.waitFor('the old run exited, its child lingering', async () => {
        const s = await status('linger');
        return s.previous && s.previous.pid === null ? s : undefined;
      });
      assert.ok(alive(child));
      process.kill(lingering.buddyPid!, 'SIGKILL');
      await box.waitFor('a new buddy', async () => {
        const s = await status('linger');
        return s.buddyPid !== lingering.buddyPid && s.state === 'running' ? s : undefined;
      });
      await box.waitFor('the lingering child gone', () => !alive(child), 10_000);
      assert.ok(!alive(before.pid!));
    },
  );

  it(
    "ReadyLine: the old run's output does not make the new run ready",
    {
      skip: "BUG (documented in configuration.md, RestartMode, not fixed): both runs write to one output channel (also one NOTIFY_SOCKET, one ReadyFd pipe): the old run's line matching ReadyLine readies the new run at once",
    },
    async () => {
      const before = await box.waitForState('chatty', 'running');
      mode('chatty', 'slow'); // the new run says ready after 2 s, and says nothing before
      const [r] = await (await box.client()).restart('chatty');
      mode('chatty', '');
      assert.equal(r?.ok, true, r?.message);
      const events = box.events('chatty');
      const spawned = events.find((e) => e.type === 'spawned' && e.pid === r.status!.pid)!;
      const ready = events.find((e) => e.type === 'ready' && e.pid === r.status!.pid)!;
      const took = timeOf(box, ready) - timeOf(box, spawned);
      assert.ok(took >= 1500, `ready ${took} ms after its start`);
      assert.ok(before.pid);
    },
  );

  it('bad input: overlap of the wrong type is refused clearly, a job refuses --overlap, and the controller lives on', async () => {
    const c = await box.client();
    const call = (c as unknown as { call(method: string, params: unknown): Promise<unknown> }).call.bind(c);
    await assert.rejects(call('restart', { services: ['olddies'], overlap: 'yes' }), (err: Error) => {
      assert.match(err.message, /overlap/);
      return true;
    });
    const job = await box.upk(['restart', '--overlap', 'job']);
    assert.equal(job.code, 5, job.stdout + job.stderr);
    assert.match(job.stdout + job.stderr, /a oneshot job does not overlap its runs/);
    assert.equal((await status('olddies')).state, 'running');
  });
});

/** Every run of NAME is closed but the current one (pid), and none is 'lost'. */
function assertRunsClosed(box: Sandbox, name: string, current: number): void {
  const db = box.db();
  try {
    const runs = db
      .prepare(`SELECT r.pid, r.ended, r.outcome FROM runs r JOIN services s ON s.uuid = r.service_uuid WHERE s.name = ?`)
      .all(name) as { pid: number; ended: number | null; outcome: string | null }[];
    const open = runs.filter((r) => r.ended === null).map((r) => r.pid);
    assert.deepEqual(open, [current], JSON.stringify(runs));
    assert.deepEqual(
      runs.filter((r) => r.outcome === 'lost'),
      [],
      JSON.stringify(runs),
    );
  } finally {
    db.close();
  }
}

describe('RestartMode overlap: controller and shutdown in the middle', { timeout: 120_000 }, () => {
  let box: Sandbox;
  const status = async (name: string) => (await (await box.client()).status(name))[0]!;

  before(async () => {
    box = new Sandbox('ovhostile2');
    await services(box, { web: { extra: { KillTimeout: 1 } }, other: { mode: 'deaf', extra: { KillTimeout: 1 } } });
    await box.startController();
  });
  after(async () => {
    await box.cleanup();
  });

  it('the controller killed mid-overlap: once it is back, both runs are recorded and no run is left open or lost', async () => {
    const before = await box.waitForState('web', 'running');
    writeFileSync(box.file('web.mode'), 'slow');
    const c = await box.client();
    const controllerPid = (await c.controllerStatus()).pid;
    const restarting = c.restart('web').catch(() => undefined);
    const during = await box.waitFor('two runs', async () => {
      const s = await status('web');
      return s.previous && s.pid !== null && s.pid !== before.pid ? s : undefined;
    });
    process.kill(controllerPid, 'SIGKILL');
    await restarting;
    writeFileSync(box.file('web.mode'), '');
    // The buddy carries on alone: the new run gets ready, the old one drains.
    await box.waitFor('the old run gone', () => !alive(before.pid!), 10_000);
    await box.startController();
    await box.waitFor('the exit of the old run stored', () =>
      box.events('web').some((e) => e.type === 'exited' && e.pid === before.pid && detail(e).replaced === true),
    );
    const s = await box.waitForState('web', 'running');
    assert.equal(s.pid, during.pid);
    const types = box.events('web').filter((e: Event) => e.pid === during.pid || e.pid === before.pid);
    assert.ok(types.some((e) => e.type === 'ready' && e.pid === during.pid));
    assertRunsClosed(box, 'web', during.pid!);
  });

  it('a shutdown in the middle of an overlap leaves no process behind', async () => {
    const before = await box.waitForState('other', 'running');
    writeFileSync(box.file('other.mode'), 'slow deaf');
    const c = await box.client();
    const restarting = c.restart('other').catch(() => undefined);
    await box.waitFor('two runs', async () => {
      const s = await status('other');
      return s.previous && s.pid !== null && s.pid !== before.pid ? s : undefined;
    });
    const res = await box.upk(['shutdown'], 30_000);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    await restarting;
    assert.deepEqual(processesUnder(box.dir), [], 'nothing of the sandbox runs');
  });
});
