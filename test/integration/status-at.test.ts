// `status --at` against what `upk list` said at the time: a scripted run with real processes (services
// that crash, a stop, a health check that fails and recovers, a configuration change by reload-config, a
// controller restart, a lost buddy, a user start after giving up). After each step, once the services
// have settled, the list and the wall time are captured; at the end, statusAt(each time) must give the
// same services with the same state, desired state, pid, buddy, start, restarts, failures, last exit,
// hold and health status.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createHandler } from '../../clients/http/index.js';
import { duration } from '../../clients/shared/format.js';
import type { Client, PastServiceStatus, ServiceStatus, StatusAtResult } from '../../libclient/index.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';

/**
 * What is compared exactly. Left out: `since`, compared within 500 ms (a run becomes running when its
 * MinUptime timer fires, a few ms after the time the replay gives it; 0–4 ms here), `usage` (live: the last measurement; then: the minute's usage
 * record), and of `health` all but its status (a passing check records no event: `lastCheck` and the
 * failures below HealthRetries are not in the history).
 */
const compared = (s: ServiceStatus) => ({
  name: s.name,
  uuid: s.uuid,
  state: s.state,
  desired: s.desired,
  pid: s.pid,
  buddyPid: s.buddyPid,
  started: s.started,
  restarts: s.restarts,
  failures: s.failures,
  lastExit: s.lastExit,
  hold: s.hold,
  health: s.health?.status ?? null,
});

interface Capture {
  step: string;
  at: number;
  list: ServiceStatus[];
}

describe('status --at: the statuses at a past time equal what upk list said then', { timeout: 180_000 }, () => {
  let box: Sandbox;
  let client: Client;
  const captures: Capture[] = [];
  const flag = (): string => box.file('unwell');
  const services = (extra: Record<string, Record<string, unknown>> = {}, onceEnv: Record<string, string> = {}) => ({
    steady: {
      ExecStart: 'sleep 1000',
      InitialState: 'running',
      MinUptime: 0.2,
      HealthCheck: `test ! -f ${flag()}`,
      HealthInterval: 0.3,
      HealthRetries: 1,
      HealthAction: 'none',
    },
    crashy: {
      ExecStart: `sh -c 'sleep 0.2; exit 3'`,
      InitialState: 'running',
      MinUptime: 1,
      UserRateLimit: 0.1,
      MaxConsecutiveFailures: 3,
    },
    // Fails its first run, then runs.
    once: {
      ExecStart: `sh -c 'if [ -f ${box.file('ran')} ]; then exec sleep 1000; fi; touch ${box.file('ran')}; exit 1'`,
      InitialState: 'running',
      MinUptime: 0.3,
      UserRateLimit: 0.1,
      Environment: onceEnv,
    },
    stopper: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2 },
    ...extra,
  });

  /** Wait until every service is as `settled` wants, then capture the list and the time. */
  async function capture(step: string, settled: (byName: Map<string, ServiceStatus>) => boolean): Promise<void> {
    const list = await box.waitFor(
      `${step}: settled`,
      async () => {
        const l = await client.list();
        return settled(new Map(l.map((s) => [s.name, s]))) ? l : undefined;
      },
      30_000,
    );
    captures.push({ step, at: Date.now(), list });
    await sleep(50); // (no capture shares a millisecond with the next step)
  }

  const is = (s: ServiceStatus | undefined, state: ServiceStatus['state'], more: (s: ServiceStatus) => boolean = () => true): boolean =>
    s !== undefined && s.state === state && more(s);

  before(async () => {
    box = new Sandbox('statusat');
    box.writeServices(services());
    await box.startController();
    client = await box.client();
  });
  after(() => box.cleanup());

  it('runs the script, capturing the list after each step', async () => {
    const base = (m: Map<string, ServiceStatus>, more: (m: Map<string, ServiceStatus>) => boolean = () => true) =>
      is(m.get('crashy'), 'failed') && is(m.get('once'), 'running', (s) => s.restarts === 1) && more(m);
    await capture(
      'started',
      (m) => base(m) && is(m.get('steady'), 'running', (s) => s.health?.status === 'healthy') && is(m.get('stopper'), 'running'),
    );

    assert.equal((await box.upk(['stop', 'stopper'])).code, 0);
    await capture('stopper stopped', (m) => base(m) && is(m.get('stopper'), 'stopped'));

    writeFileSync(flag(), '');
    await capture('steady unhealthy', (m) => base(m) && is(m.get('steady'), 'running', (s) => s.health?.status === 'unhealthy'));
    rmSync(flag());
    await capture('steady healthy again', (m) => base(m) && is(m.get('steady'), 'running', (s) => s.health?.status === 'healthy'));

    box.writeServices(services({ late: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2 } }, { MODE: 'two' }));
    const reload = await box.upk(['reload-config']);
    assert.equal(reload.code, 0, reload.stderr);
    await capture('reloaded: late added, once changed', (m) => base(m) && is(m.get('late'), 'running'));

    const restart = await box.upk(['controller', 'restart']);
    assert.equal(restart.code, 0, restart.stderr);
    client = await box.client();
    await capture(
      'controller restarted',
      (m) => base(m) && is(m.get('late'), 'running') && is(m.get('steady'), 'running', (s) => s.health !== null),
    );

    // The buddy of `once` is killed: a new one adopts the service (restarts carried on, no last exit).
    const [once] = await client.status('once');
    process.kill(once!.buddyPid!, 'SIGKILL');
    await capture('buddy of once replaced', (m) =>
      is(m.get('once'), 'running', (s) => s.buddyPid !== null && s.buddyPid !== once!.buddyPid),
    );

    assert.equal((await box.upk(['start', 'crashy'])).code, 5, 'its first run fails again');
    await capture('crashy started again, given up again', (m) =>
      is(m.get('crashy'), 'failed', (s) => s.lastExit !== null && Date.parse(s.lastExit.at) > captures.at(-1)!.at),
    );
    const last = new Map(captures.at(-1)!.list.map((s) => [s.name, s]));
    assert.deepEqual([last.get('crashy')!.restarts, last.get('crashy')!.failures], [2, 3]);
    assert.deepEqual([last.get('once')!.restarts, last.get('once')!.lastExit], [1, null], 'the adopting buddy carried the restarts');
  });

  it('statusAt(each time) equals the list captured then', async () => {
    assert.equal(captures.length, 8, 'every step captured');
    for (const c of captures) {
      const past = await client.statusAt(c.at);
      assert.equal(past.at, new Date(c.at).toISOString());
      assert.deepEqual(past.services.map(compared), c.list.map(compared), `at "${c.step}"`);
      // `since`: the same moment, but for a timer's lateness (MinUptime) and a buddy's start (its machine is made before its first event).
      for (const [i, s] of past.services.entries()) {
        const live = c.list[i]!;
        const off = Math.abs(Date.parse(s.since ?? '0') - Date.parse(live.since ?? '0'));
        assert.ok(off <= 500, `${c.step}: ${s.name} since ${s.since}, said ${live.since}`);
      }
    }
    // The configuration in force: added at the start, then changed and added by the reload.
    const config = (r: StatusAtResult, name: string): PastServiceStatus['config'] => r.services.find((s) => s.name === name)!.config;
    const first = await client.statusAt(captures[0]!.at);
    assert.deepEqual([config(first, 'once')?.change, config(first, 'once')?.trigger], ['added', 'start']);
    const reloaded = await client.statusAt(captures[4]!.at);
    assert.deepEqual([config(reloaded, 'once')?.change, config(reloaded, 'once')?.trigger], ['changed', 'reload']);
    assert.match(config(reloaded, 'once')?.detail ?? '', /Environment/);
    assert.deepEqual(config(reloaded, 'once')?.keys, ['Environment']);
    assert.deepEqual(config(reloaded, 'once')?.applied?.environment, { MODE: 'two' }, 'the configuration it applied');
    assert.deepEqual(config(first, 'once')?.applied?.environment, {}, 'the configuration then, not now');
    assert.ok(first.historyFrom !== null && Date.parse(first.historyFrom) <= captures[0]!.at, 'the history kept begins before');
    assert.deepEqual([config(reloaded, 'late')?.change, config(reloaded, 'late')?.trigger], ['added', 'reload']);
    assert.ok(!first.services.some((s) => s.name === 'late'), 'late did not exist yet');
    const some = await client.statusAt(captures[1]!.at, ['stopper', 'steady']);
    assert.deepEqual(
      some.services.map((s) => s.name),
      captures[1]!.list.filter((s) => s.name === 'stopper' || s.name === 'steady').map((s) => s.name),
    );
  });

  it('upk list --at and status --at print the same, uptime counted to that time; a time to come is refused', async () => {
    const c = captures[1]!;
    const iso = new Date(c.at).toISOString();
    const json = await box.upk(['list', '--at', iso, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as ServiceStatus[]).map(compared), c.list.map(compared));
    const table = await box.upk(['list', '--at', iso]);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stderr, '', 'within the history kept: no warning');
    const steady = c.list.find((s) => s.name === 'steady')!;
    assert.match(table.stdout, /^NAME +STATE +DESIRED +PID +UPTIME +RESTARTS +CPU +MEM +LAST EXIT/);
    const uptime = duration(c.at - Date.parse(steady.started!)); // counted to that time, not to now
    assert.match(table.stdout, new RegExp(`^steady +running +running +${steady.pid} +${uptime.replace('.', '\\.')} +0 `, 'm'));
    assert.match(table.stdout, /^stopper +stopped +stopped +- +- +0 /m);
    const status = await box.upk(['status', '--at', iso, 'stopper']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout.split('\n').length, 3, 'a header and one row');
    const crashy = await box.upk(['status', '--at', '1s', 'crashy']);
    assert.equal(crashy.code, 6, 'failed while wanted running: not in its desired state then');
    const future = await box.upk(['list', '--at', new Date(Date.now() + 3_600_000).toISOString()]);
    assert.equal(future.code, 2, future.stderr);
    assert.match(future.stderr, /yet to come/);
    // Before the oldest event kept: a warning on standard error, for list and status, with --json too.
    const early = new Date(captures[0]!.at - 3_600_000).toISOString();
    for (const args of [
      ['list', '--at', early],
      ['status', '--at', early],
      ['list', '--at', early, '--json'],
    ]) {
      const r = await box.upk(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^upk: warning: ${early.replaceAll('.', '\\.')} is before the history kept, which begins at `),
        args.join(' '),
      );
    }
    const none = await box.upk(['status', '--at', iso, 'late']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no service named "late" existed at/);
  });

  it('GET /api/status?at=TIME answers the same', async () => {
    const handler = createHandler({ connect: { config: box.configFile } });
    const server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const c = captures[4]!;
      const get = (path: string): Promise<{ status: number; body: Record<string, unknown> }> =>
        new Promise((resolve, reject) => {
          request({ host: '127.0.0.1', port, path, timeout: 20_000 }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
          })
            .on('error', reject)
            .end();
        });
      const at = new Date(c.at).toISOString();
      const answer = await get(`/api/status?at=${encodeURIComponent(at)}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body, JSON.parse(JSON.stringify(await client.statusAt(c.at))));
      const one = await get(`/api/status?at=${encodeURIComponent(at)}&service=late`);
      assert.deepEqual((one.body.services as ServiceStatus[]).map(compared), c.list.filter((s) => s.name === 'late').map(compared));
      assert.equal((await get('/api/status')).status, 400, 'at is required');
      assert.equal((await get('/api/status?at=yesterday-ish')).status, 400);
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
