// Service control's policy (controller/service-control.ts) on fakes and virtual time: prerequisites
// first, conflicts, cycles, StartPriority waves, restarts, stops that leave dependents running, and
// reloads that kill their service. The integration tests (dependencies, reload) run it for real.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { BuddyLink } from '../../controller/buddy-link.js';
import { createLogger } from '../../controller/log.js';
import { ServiceControl, startWaves, type ControlParts } from '../../controller/service-control.js';
import { ServiceEntry, serviceStatus } from '../../controller/service-entry.js';
import { ServiceTable } from '../../controller/service-table.js';
import type { ActionResult, BuddyStatus } from '../../schema/records.js';
import { buddyStatus } from '../helpers/buddy-status.js';
import { loadServiceText } from '../helpers/load-services.js';
import { VirtualClock, settle } from '../helpers/virtual-clock.js';

/** What a fake buddy takes to carry out a command, in virtual time. */
const COMMAND_MS = 100;

/** Its buddy's status: `state`, its process `pid` (1000 when running). */
function statusOf(e: ServiceEntry, state: BuddyStatus['state'], pid: number | null = state === 'running' ? 1000 : null): BuddyStatus {
  return buddyStatus(e.config.id, state, { uuid: e.uuid, desired: e.desired, pid });
}

/** Services from a configuration text, each with a fake buddy that answers commands after COMMAND_MS. */
function world(t: TestContext, services: Record<string, Record<string, unknown>>, running: string[] = []) {
  const loaded = loadServiceText(
    t,
    JSON.stringify(Object.fromEntries(Object.entries(services).map(([k, v]) => [k, { ExecStart: 'x', ...v }]))),
  );
  assert.deepEqual(loaded.issues, []);
  const table = new ServiceTable();
  const clock = new VirtualClock(0);
  const sent: string[] = [];
  const shown: string[] = [];
  const byName = new Map<string, ServiceEntry>();
  for (const cfg of loaded.services) {
    const e = new ServiceEntry(cfg, `uuid-${cfg.id}`, `/nonexistent/${cfg.id}`, running.includes(cfg.id) ? 'running' : 'stopped');
    const link = { open: true, pid: 1, hello: { status: statusOf(e, running.includes(cfg.id) ? 'running' : 'stopped') } };
    e.bind(link as unknown as BuddyLink);
    table.set(e);
    byName.set(cfg.id, e);
  }
  let reloadKills = false;
  /** What the fakes do besides answering: a buddy attached anew, a command that never gets its answer. */
  const hooks = { attach: (_e: ServiceEntry): void => undefined, lost: new Set<string>() };
  const parts: ControlParts = {
    services: table,
    attach: (e) => Promise.resolve(hooks.attach(e)),
    command: async (e, command) => {
      sent.push(`${command} ${e.config.id}`);
      await clock.sleep(COMMAND_MS);
      if (hooks.lost.has(command)) throw new Error('the connection closed: its buddy is gone');
      return { ok: true, message: `${command} done`, status: statusOf(e, command === 'stop' ? 'stopped' : 'running') };
    },
    reload: async (e) => {
      sent.push(`reload ${e.config.id}`);
      await clock.sleep(COMMAND_MS);
      // A service that does not handle the reload signal: its buddy starts it again, with a new pid.
      if (reloadKills)
        e.observe({
          ...statusOf(e, 'running', 2000),
          lastExit: { code: null, signal: 'SIGHUP', at: new Date(clock.now()).toISOString() },
        });
      const result: ActionResult = { action: 'reload', pid: 5, code: 0, signal: null, durationMs: COMMAND_MS, output: '' };
      return result;
    },
    setDesired: (e, desired) => void e.setDesired(desired),
    publishStatus: (e) => void shown.push(`${e.config.id} ${serviceStatus(e).state}`),
    collect: () => Promise.resolve(),
    clock,
    log: createLogger({ write: () => undefined }),
  };
  return {
    control: new ServiceControl(parts),
    table,
    clock,
    sent,
    shown,
    e: (id: string): ServiceEntry => byName.get(id)!,
    killOnReload: () => (reloadKills = true),
    hooks,
  };
}

describe('service control', { timeout: 10_000 }, () => {
  it('starts prerequisites first; the service shows waiting for them meanwhile', async (t) => {
    const w = world(t, { web: { Prerequisites: ['db'] }, db: {} });
    const done = w.control.start(w.e('web'));
    await settle();
    assert.deepEqual(w.sent, ['start db']);
    assert.equal(serviceStatus(w.e('web')).state, 'waiting');
    assert.deepEqual(w.e('web').waitingFor, ['db']);
    assert.equal(w.e('web').desired, 'running', 'wanted running while it waits');
    await w.clock.pass(COMMAND_MS);
    assert.deepEqual(w.sent, ['start db', 'start web']);
    assert.equal(w.e('web').waitingFor, null);
    await w.clock.pass(COMMAND_MS);
    assert.equal((await done).ok, true);
    assert.equal(serviceStatus(w.e('web')).state, 'running');
  });

  it('a stop asked while a start is on its way wins: the start is not sent after it (the last request counts)', async (t) => {
    const w = world(t, { web: {} });
    const start = w.control.start(w.e('web'));
    const stop = w.control.stop(w.e('web'));
    await w.clock.pass(COMMAND_MS);
    const [started, stopped] = await Promise.all([start, stop]);
    assert.deepEqual(w.sent, ['stop web'], 'no start sent after the stop');
    assert.equal(started.ok, false);
    assert.match(started.message, /not started: a stop came after this start/);
    assert.equal(stopped.ok, true);
    assert.equal(w.e('web').desired, 'stopped');
  });

  it('start, stop, start asked together: the last start counts, the service ends running', async (t) => {
    const w = world(t, { web: {} });
    const first = w.control.start(w.e('web'));
    const stop = w.control.stop(w.e('web'));
    const second = w.control.start(w.e('web'));
    await w.clock.pass(COMMAND_MS * 2);
    await Promise.all([first, stop, second]);
    assert.deepEqual(w.sent, ['stop web', 'start web']);
    assert.equal(w.e('web').desired, 'running');
  });

  it('a prerequisite already running is not started again', async (t) => {
    const w = world(t, { web: { Prerequisites: ['db'] }, db: {} }, ['db']);
    const done = w.control.start(w.e('web'));
    await w.clock.pass(COMMAND_MS);
    assert.equal((await done).ok, true);
    assert.deepEqual(w.sent, ['start web']);
  });

  it('refuses to start beside a running service it conflicts with (either side may say so), and leaves desired alone', async (t) => {
    const w = world(t, { a: { Conflicts: ['b'] }, b: {}, c: {} }, ['b']);
    const a = await w.control.start(w.e('a'));
    assert.equal(a.ok, false);
    assert.match(a.message, /conflicts with b, which runs: stop it first/);
    assert.equal(w.e('a').desired, 'stopped');
    const w2 = world(t, { a: {}, b: { Conflicts: ['a'] } }, ['b']);
    assert.match((await w2.control.start(w2.e('a'))).message, /conflicts with b/);
    assert.deepEqual([...w.sent, ...w2.sent], []);
  });

  it('a dependency cycle ends in a refusal that names it, not a hang', async (t) => {
    // The configuration check refuses cycles; one can still arise between a missing service's last
    // good configuration (kept) and the files.
    const w = world(t, { a: { Prerequisites: ['b'] }, b: {} });
    w.e('b').reconfigure({ ...w.e('b').config, prerequisites: ['a'] });
    const a = await w.control.start(w.e('a'));
    assert.equal(a.ok, false);
    assert.match(a.message, /prerequisite b \(b\) did not start: dependency cycle through a/);
    assert.deepEqual(w.sent, []);
    assert.equal(w.e('a').waitingFor, null, 'no longer shown waiting');
  });

  it('a prerequisite no configured service provides (any more) is refused by name', async (t) => {
    const w = world(t, { a: { Prerequisites: ['b'] }, b: {} });
    w.table.remove(w.e('b'));
    const a = await w.control.start(w.e('a'));
    assert.deepEqual([a.ok, a.message], [false, 'prerequisite b means no configured service']);
    assert.deepEqual(w.sent, []);
  });

  it('of several providers, the one already wanted running is started, else the highest StartPriority', async (t) => {
    const w = world(t, {
      app: { Prerequisites: ['store'] },
      low: { Provides: ['store'] },
      high: { Provides: ['store'], StartPriority: 5 },
    });
    const first = w.control.start(w.e('app'));
    await w.clock.pass(2 * COMMAND_MS);
    await first;
    assert.deepEqual(w.sent, ['start high', 'start app']);
    const v = world(t, {
      app: { Prerequisites: ['store'] },
      low: { Provides: ['store'] },
      high: { Provides: ['store'], StartPriority: 5 },
    });
    v.e('low').setDesired('running');
    const second = v.control.start(v.e('app'));
    await v.clock.pass(2 * COMMAND_MS);
    await second;
    assert.deepEqual(v.sent, ['start low', 'start app']);
  });

  it('two who ask to start the same service share one start', async (t) => {
    const w = world(t, { a: {} });
    const both = Promise.all([w.control.start(w.e('a')), w.control.start(w.e('a'))]);
    await w.clock.pass(COMMAND_MS);
    assert.deepEqual(
      (await both).map((o) => o.ok),
      [true, true],
    );
    assert.deepEqual(w.sent, ['start a']);
  });

  it('starts in StartPriority waves: the next wave only once the one before has answered', async (t) => {
    const w = world(t, { a: { StartPriority: 10 }, b: { StartPriority: 10 }, c: {}, d: { StartPriority: -1 } });
    assert.deepEqual(
      startWaves([w.e('c'), w.e('a'), w.e('d'), w.e('b')]).map((wave) => wave.map((e) => e.config.id)),
      [['a', 'b'], ['c'], ['d']],
    );
    const all = w.control.startMany([w.e('d'), w.e('c'), w.e('b'), w.e('a')], (e) => w.control.start(e));
    await settle();
    assert.deepEqual(w.sent, ['start b', 'start a'], 'the first wave at once, together');
    await w.clock.pass(COMMAND_MS - 1);
    assert.deepEqual(w.sent.length, 2, 'the next wave waits for the first');
    await w.clock.pass(1);
    assert.deepEqual(w.sent, ['start b', 'start a', 'start c']);
    await w.clock.pass(2 * COMMAND_MS);
    assert.deepEqual(
      (await all).map((o) => o.ok),
      [true, true, true, true],
      'the outcomes in the order asked',
    );
    assert.deepEqual(w.sent.at(-1), 'start d');
  });

  it('startDue starts only the services reconciliation marked, and clears the mark once sent', async (t) => {
    const w = world(t, { a: {}, b: {} });
    w.e('b').markStartDue();
    const done = w.control.startDue([w.e('a'), w.e('b')]);
    await w.clock.pass(COMMAND_MS);
    await done;
    assert.deepEqual(w.sent, ['start b']);
    assert.equal(w.e('b').startDue, false);
  });

  it('restart: by the buddy when its prerequisites run; stopped, then started with them first, when they do not', async (t) => {
    const up = world(t, { web: { Prerequisites: ['db'] }, db: {} }, ['db', 'web']);
    const r1 = up.control.restart(up.e('web'));
    await up.clock.pass(COMMAND_MS);
    assert.equal((await r1).ok, true);
    assert.deepEqual(up.sent, ['restart web']);
    const down = world(t, { web: { Prerequisites: ['db'] }, db: {} }, ['web']);
    const r2 = down.control.restart(down.e('web'));
    await down.clock.pass(3 * COMMAND_MS);
    assert.equal((await r2).ok, true);
    assert.deepEqual(down.sent, ['stop web', 'start db', 'start web']);
    assert.equal(down.e('web').desired, 'running');
  });

  it('stop leaves the services that need it running and names them, but not those stopped by the same request', async (t) => {
    const w = world(t, { db: {}, web: { Prerequisites: ['db'] }, api: { Prerequisites: ['db'] } }, ['db', 'web', 'api']);
    const alone = w.control.stop(w.e('db'));
    await w.clock.pass(COMMAND_MS);
    const o = await alone;
    assert.equal(o.ok, true);
    assert.equal(o.message, 'stop done; still running, and needing it: api, web');
    assert.equal(w.e('db').desired, 'stopped');
    assert.deepEqual(w.sent, ['stop db']);
    const v = world(t, { db: {}, web: { Prerequisites: ['db'] }, api: { Prerequisites: ['db'] } }, ['db', 'web', 'api']);
    const together = v.control.stop(v.e('db'), new Set([v.e('db'), v.e('web')]));
    await v.clock.pass(COMMAND_MS);
    assert.equal((await together).message, 'stop done; still running, and needing it: api');
  });

  it('a reload the service survives is done; one after which its process is gone is no reload, and says why', async (t) => {
    const w = world(t, { web: {} }, ['web']);
    const ok = w.control.reload(w.e('web'));
    await w.clock.pass(COMMAND_MS + 250);
    assert.deepEqual(await ok, { ok: true, message: 'reload done', action: (await ok).action });
    w.killOnReload();
    const bad = w.control.reload(w.e('web'));
    await w.clock.pass(COMMAND_MS);
    await w.clock.pass(250);
    const o = await bad;
    assert.equal(o.ok, false);
    assert.equal(
      o.message,
      'reload done, but the process 1000 was killed by SIGHUP, and was started again (pid 2000): it does not reload on this signal',
    );
  });

  it('a start is no longer due once a buddy is there, even when its answer never comes; a stop makes a due start moot', async (t) => {
    const w = world(t, { a: {}, b: {} });
    w.e('a').markStartDue();
    w.hooks.lost.add('start');
    const lost = w.control.start(w.e('a')).catch((err: Error) => err.message);
    await w.clock.pass(COMMAND_MS);
    assert.equal(await lost, 'the connection closed: its buddy is gone');
    assert.equal(w.e('a').startDue, false, 'a relaunch must not start it again on its own');
    w.e('b').markStartDue();
    const stopped = w.control.stop(w.e('b'));
    await w.clock.pass(COMMAND_MS);
    await stopped;
    assert.equal(w.e('b').startDue, false);
  });

  it('a reload goes by the pid of the buddy attached for it (a buddy lost before had another)', async (t) => {
    const w = world(t, { web: {} }, ['web']);
    // The buddy was lost; the one attached for the reload adopted the service and knows its pid now.
    w.hooks.attach = (e) => e.observe(statusOf(e, 'running', 222));
    w.e('web').observe(statusOf(w.e('web'), 'running', 111));
    const r = w.control.reload(w.e('web'));
    await w.clock.pass(COMMAND_MS + 250);
    assert.deepEqual([(await r).ok, (await r).message], [true, 'reload done']);
  });

  it('each: starts and restarts in waves, stops and reloads at once, every service told the others', async (t) => {
    const w = world(t, { a: { StartPriority: 1 }, b: {} }, ['a', 'b']);
    const seen: string[] = [];
    const stops = w.control.each('stop', [w.e('b'), w.e('a')], (e, together) => {
      seen.push(`${e.config.id} ${[...together].map((x) => x.config.id).join('+')}`);
      return w.control.stop(e, together);
    });
    await settle();
    assert.deepEqual(w.sent, ['stop b', 'stop a'], 'both at once');
    await w.clock.pass(COMMAND_MS);
    assert.deepEqual(
      (await stops).map((o) => o.message),
      ['stop done', 'stop done'],
    );
    assert.deepEqual(seen, ['b b+a', 'a b+a']);
    const starts = w.control.each('start', [w.e('b'), w.e('a')], (e) => w.control.start(e));
    await settle();
    assert.deepEqual(w.sent.slice(2), ['start a'], 'the higher StartPriority first, alone');
    await w.clock.pass(2 * COMMAND_MS);
    await starts;
    assert.deepEqual(w.sent.slice(2), ['start a', 'start b']);
  });

  it('after a reload, the services whose changes wait for a restart, in the order of the changes', (t) => {
    const w = world(t, { a: {}, b: {}, c: {} });
    const change = (service: string, restart: boolean) => ({
      service,
      uuid: 'u',
      change: 'changed' as const,
      message: '',
      ...(restart ? { restart } : {}),
    });
    assert.deepEqual(
      w.control.waitingForRestart([change('c', true), change('a', false), change('gone', true), change('b', true)]).map((e) => e.config.id),
      ['c', 'b'],
    );
  });
});
