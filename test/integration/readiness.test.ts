// Readiness the service signals (ReadyFd, Type notify with NOTIFY_SOCKET, ReadyLine), StartTimeout
// and MaxRunTime, with real programs: a start answers once the service is ready, a dependent waits
// for it, the buddy goes on recording readiness while no controller runs, and a readiness source
// switched by a configuration reload is the one that counts from the next start.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuddyStatus } from '../../schema/records.js';
import { Sandbox, type Services } from '../helpers/sandbox.js';

const forever = 'exec sleep 1000';
const sh = (script: string): string[] => ['sh', '-c', script];
const PYTHON_NOTIFY = [
  'import os, socket, time',
  'time.sleep(0.3)',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.sendto(b"STATUS=serving\\nREADY=1\\n", os.environ["NOTIFY_SOCKET"])',
  'time.sleep(1000)',
].join('\n');

describe('readiness', { timeout: 120_000 }, () => {
  let box: Sandbox;
  const detailsOf = (service: string, type: string): Record<string, unknown>[] =>
    box
      .events(service)
      .filter((e) => e.type === type)
      .map((e) => JSON.parse(e.detail ?? '{}') as Record<string, unknown>);
  const statusFile = (service: string): BuddyStatus => JSON.parse(readFileSync(join(box.runDir(service), 'status'), 'utf8')) as BuddyStatus;

  /** Prints the ReadyLine at once; a second later writes a newline to descriptor 3, when it has one. */
  const switcher = sh(`echo "listening on 1"; sleep 1; (echo >&3) 2>/dev/null; ${forever}`);
  /** Says READY=1 when it has a NOTIFY_SOCKET. */
  const flip = sh(`echo "socket=\${NOTIFY_SOCKET:-none}"; [ -z "$NOTIFY_SOCKET" ] || systemd-notify --ready; ${forever}`);
  let services: Services;
  /** The services file with one service's configuration replaced (a reload then applies it). */
  const reconfigure = (name: string, config: Services[string]): void => {
    services = { ...services, [name]: config };
    box.writeServices(services);
  };

  before(async () => {
    box = new Sandbox('ready');
    services = {
      fd: { ExecStart: sh(`sleep 0.5; echo >&4; ${forever}`), ReadyFd: 4 },
      notifier: { ExecStart: sh(`sleep 0.3; systemd-notify --ready --status="up and about"; ${forever}`), Type: 'notify' },
      pynotify: { ExecStart: ['python3', '-c', PYTHON_NOTIFY], Type: 'notify' },
      line: { ExecStart: sh(`echo booting; sleep 0.4; echo "listening on 8080"; ${forever}`), ReadyLine: 'listening on \\d+' },
      silent: { ExecStart: 'sleep 1000', ReadyFd: 3, StartTimeout: 0.5, UserRateLimit: 0.2, MaxConsecutiveFailures: 2 },
      bounded: { ExecStart: 'sleep 1000', MinUptime: 0.1, MaxRunTime: '700ms' },
      server: { ExecStart: sh(`sleep 2; echo >&3; ${forever}`), ReadyFd: 3 },
      client: { ExecStart: 'sleep 1000', MinUptime: 0.1, Prerequisites: ['server'] },
      flappy: { ExecStart: sh('systemd-notify --ready; sleep 0.3; exit 1'), Type: 'notify', UserRateLimit: 0.3 },
      // Ready, three WATCHDOG=1 half a second apart (within WatchdogSec 1), then silence.
      watched: {
        ExecStart: sh(
          'echo "usec=$WATCHDOG_USEC"; systemd-notify --ready; for i in 1 2 3; do sleep 0.5; systemd-notify WATCHDOG=1; done; exec sleep 1000',
        ),
        Type: 'notify',
        WatchdogSec: 1,
        UserRateLimit: 0.2,
      },
      switcher: { ExecStart: switcher, ReadyLine: 'listening on \\d+' },
      flip: { ExecStart: flip, Type: 'notify', MinUptime: 0.3 },
    };
    box.writeServices(services);
    await box.startController();
  });
  after(() => box.cleanup());

  it('ReadyFd: upk start returns once the service wrote a newline to the descriptor', async () => {
    const t0 = Date.now();
    const res = await box.upk(['start', 'fd']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(Date.now() - t0 >= 500, `upk start returned after ${Date.now() - t0} ms, before the service was ready`);
    const [ready] = detailsOf('fd', 'ready');
    assert.equal(ready?.how, 'ReadyFd');
    assert.ok((ready.afterMs as number) >= 450, `ready after ${String(ready.afterMs)} ms`);
    assert.equal((await box.waitForState('fd', 'running')).state, 'running');
  });

  it('Type notify: READY=1 from systemd-notify, with its STATUS=, makes it running', async () => {
    const c = await box.client();
    const [out] = await c.start('notifier');
    assert.equal(out!.ok, true, out!.message);
    assert.equal(detailsOf('notifier', 'ready')[0]?.how, 'notify');
    assert.equal(statusFile('notifier').notify?.status, 'up and about');
    const socket = statSync(join(box.runDir('notifier'), 'notify.sock'));
    assert.ok(socket.isSocket());
    assert.equal(socket.mode & 0o777, 0o600);
    const shown = await box.upk(['status', 'notifier']);
    assert.match(shown.stdout, /notifier: says "up and about"/);
  });

  it('Type notify: a datagram sent by a few lines of Python', async () => {
    const c = await box.client();
    const [out] = await c.start('pynotify');
    assert.equal(out!.ok, true, out!.message);
    assert.equal(detailsOf('pynotify', 'ready')[0]?.how, 'notify');
    assert.equal(statusFile('pynotify').notify?.status, 'serving');
  });

  it('ReadyLine: a line of output that matches', async () => {
    const c = await box.client();
    const t0 = Date.now();
    const [out] = await c.start('line');
    assert.equal(out!.ok, true, out!.message);
    assert.ok(Date.now() - t0 >= 400);
    assert.equal(detailsOf('line', 'ready')[0]?.how, 'ReadyLine');
  });

  it('StartTimeout: not ready in time is a failure; the restart policy applies', async () => {
    const c = await box.client();
    const [out] = await c.start('silent');
    assert.equal(out!.ok, false);
    assert.match(out!.message, /not ready within StartTimeout/);
    await box.waitFor('two start timeouts, then failed', async () => {
      const [s] = await c.status('silent');
      return s?.state === 'failed' && detailsOf('silent', 'start_timeout').length === 2;
    });
    assert.equal(detailsOf('silent', 'start_timeout')[0]?.timeoutMs, 500);
    assert.equal(detailsOf('silent', 'spawned').length, 2, 'restarted once by the policy (MaxConsecutiveFailures 2)');
    assert.equal(detailsOf('silent', 'ready').length, 0);
  });

  it('MaxRunTime: a run longer than it is stopped and recorded as timed out', async () => {
    const c = await box.client();
    const [out] = await c.start('bounded');
    assert.equal(out!.ok, true, out!.message);
    const stopped = await box.waitForState('bounded', 'stopped');
    assert.equal(stopped.desired, 'stopped');
    const [timedOut] = detailsOf('bounded', 'timed_out');
    assert.equal(timedOut?.maxRunTimeMs, 700);
    const desired = detailsOf('bounded', 'desired').at(-1);
    assert.deepEqual([desired?.desired, desired?.cause], ['stopped', 'timeout']);
    const [spawned] = box.eventTimes('bounded', 'spawned');
    const [timed] = box.eventTimes('bounded', 'timed_out');
    assert.ok(timed! - spawned! >= 690, `timed out ${timed! - spawned!} ms after its start`);
  });

  it('a prerequisite ready only after 2 s holds back its dependent; upk start returns after it', async () => {
    const t0 = Date.now();
    const res = await box.upk(['start', 'client']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(Date.now() - t0 >= 2000, `upk start client returned after ${Date.now() - t0} ms`);
    const [serverReady] = box.eventTimes('server', 'ready');
    const [clientSpawned] = box.eventTimes('client', 'spawned');
    const [serverSpawned] = box.eventTimes('server', 'spawned');
    assert.ok(serverReady! - serverSpawned! >= 1950, 'the server is ready 2 s after its start');
    assert.ok(clientSpawned! >= serverReady!, `the client started ${clientSpawned! - serverReady!} ms after the server was ready`);
  });

  it('readiness goes on while no controller runs: every ready arrives later, none lost', async () => {
    const c = await box.client();
    await c.start('flappy');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    // The buddy restarts the service on its own; each run says READY=1 before it crashes.
    const runsNow = (): number => statusFile('flappy').restarts;
    const before = runsNow();
    await box.waitFor('3 runs without a controller', () => runsNow() >= before + 3, 20_000);
    await box.startController();
    const c2 = await box.client();
    await c2.stop('flappy');
    const events = box.events('flappy');
    const spawned = events.filter((e) => e.type === 'spawned');
    const ready = events.filter((e) => e.type === 'ready');
    assert.ok(spawned.length >= 4, `${spawned.length} runs`);
    // Every run that lived long enough said it was ready: its ready is recorded, once.
    const exited = new Set(events.filter((e) => e.type === 'exited' && JSON.parse(e.detail ?? '{}').requested === false).map((e) => e.pid));
    for (const run of spawned.filter((s) => exited.has(s.pid))) {
      assert.equal(ready.filter((r) => r.pid === run.pid).length, 1, `run ${run.pid} has one ready event`);
    }
    const seqs = events.filter((e) => e.buddy_id === events[0]!.buddy_id).map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...new Set(seqs)].sort((a, b) => a - b),
      'no event twice',
    );
  });

  it('WatchdogSec: WATCHDOG=1 keeps it healthy; a silence of WatchdogSec is unhealthy and restarts it', async () => {
    const t0 = Date.now();
    assert.equal((await box.upk(['start', 'watched'])).code, 0);
    const unhealthy = await box.waitFor('the watchdog expired', () => detailsOf('watched', 'unhealthy')[0], 15_000);
    // Kicked at 0.5, 1.0 and 1.5 s after ready: it expires 1 s after the last kick, not before.
    assert.ok(Date.now() - t0 >= 2400, `expired after ${Date.now() - t0} ms, while WATCHDOG=1 still came`);
    assert.deepEqual(unhealthy, { check: 'WatchdogSec', failures: 1, output: 'no WATCHDOG=1 within 1 s', action: 'restart' });
    await box.waitFor('restarted', () => box.events('watched').filter((e) => e.type === 'spawned').length >= 2, 10_000);
    assert.match(readFileSync(join(box.runDir('watched'), 'log', 'stdout'), 'utf8'), /usec=1000000/, 'WATCHDOG_USEC as systemd sets it');
    await box.upk(['stop', 'watched']);
  });

  it('ReadyLine switched to ReadyFd by a reload: the next start waits for the descriptor, the line no longer counts', async () => {
    const c = await box.client();
    const [first] = await c.start('switcher');
    assert.equal(first!.ok, true, first!.message);
    assert.equal(detailsOf('switcher', 'ready')[0]?.how, 'ReadyLine');
    const { ReadyLine: _line, ...rest } = services.switcher!;
    reconfigure('switcher', { ...rest, ReadyFd: 3 });
    const reload = await box.upk(['reload-config']);
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);
    assert.match(
      reload.stdout,
      /^switcher: changed: ReadyFd, ReadyLine; ReadyFd takes effect at its next start: upk restart switcher, or upk reload-config --restart; the other settings apply now$/m,
    );
    // Not restarted by the reload: the run in progress is ready already.
    const [kept] = await c.status('switcher');
    assert.deepEqual([kept!.state, kept!.pid], ['running', first!.status!.pid]);

    const restarted = c.restart('switcher');
    const log = join(box.runDir('switcher'), 'log', 'stdout');
    await box.waitFor('the new run printed the old ReadyLine', () => readFileSync(log, 'utf8').match(/listening on 1/g)!.length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    const [held] = await c.status('switcher');
    assert.equal(held!.state, 'starting', 'the ReadyLine no longer makes it ready');
    const [out] = await restarted;
    assert.equal(out!.ok, true, out!.message);
    assert.notEqual(out!.status!.pid, first!.status!.pid);
    const ready = detailsOf('switcher', 'ready');
    assert.equal(ready.length, 2);
    assert.equal(ready[1]!.how, 'ReadyFd');
    assert.ok((ready[1]!.afterMs as number) >= 900, `ready after ${String(ready[1]!.afterMs)} ms, before the newline on descriptor 3`);
    await c.stop('switcher');
  });

  it('Type notify switched to simple by reload-config --restart: no NOTIFY_SOCKET, running after MinUptime', async () => {
    const c = await box.client();
    const [first] = await c.start('flip');
    assert.equal(first!.ok, true, first!.message);
    assert.equal(detailsOf('flip', 'ready')[0]?.how, 'notify');
    const { Type: _type, ...simple } = services.flip!;
    reconfigure('flip', simple);
    const reload = await box.upk(['reload-config', '--restart']);
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);
    assert.match(
      reload.stdout,
      /^flip: changed: Type; Type takes effect at its next start: upk restart flip, or upk reload-config --restart$/m,
    );
    assert.match(reload.stdout, /^flip: restarted: ok: running$/m);
    const spawned = box.events('flip').filter((e) => e.type === 'spawned');
    assert.equal(spawned.length, 2);
    const log = readFileSync(join(box.runDir('flip'), 'log', 'stdout'), 'utf8');
    assert.match(log, /socket=\/.*notify\.sock\nsocket=none\n/, 'the first run had NOTIFY_SOCKET, the second none');
    // Ready by MinUptime: no ready event for the new run, and nothing left of the notify socket.
    assert.deepEqual(
      box
        .events('flip')
        .filter((e) => e.type === 'ready')
        .map((e) => e.pid),
      [spawned[0]!.pid],
    );
    assert.equal(statusFile('flip').notify, undefined);
    assert.throws(() => statSync(join(box.runDir('flip'), 'notify.sock')), /ENOENT/);
    await c.stop('flip');
  });
});
