// The controller: one per StateDir, stops alone, comes back without restarting anything, shuts down everything.
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CONTROLLER, Sandbox, alive, assertStartsRecorded, processesUnder, run } from '../helpers/sandbox.js';
import { encodeFrame } from '../../schema/framing.js';

/** Write raw bytes to a Unix socket and resolve when the other end closes the connection. */
function sendRaw(path: string, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = netConnect(path, () => s.write(bytes));
    s.on('error', reject);
    s.on('close', () => resolve());
    setTimeout(() => reject(new Error('the connection was not closed')), 5000).unref();
  });
}

describe('controller', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('ctrl');
    box.writeServices({
      up: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      down: { ExecStart: 'sleep 1000', MinUptime: 0.1 },
      'pkg::loop': {
        ExecStart: `sh -c 'echo $$ >> ${box.file('loop.starts')}; sleep 0.05; exit 1'`,
        InitialState: 'running',
        UserRateLimit: 0.1,
        UserMaxRestarts: -1,
        MinUptime: 0.02,
      },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('InitialState decides what runs when a service is first configured', async () => {
    const up = await box.waitForState('up', 'running');
    assert.equal(up.desired, 'running');
    const [down] = await (await box.client()).status('down');
    assert.equal(down!.state, 'stopped');
    assert.equal(down!.desired, 'stopped');
  });

  it('the state directory is 0700, the sockets 0600; controller status tells pid, uptime, socket, version', async () => {
    const mode = (p: string): number => statSync(p).mode & 0o777;
    assert.equal(mode(box.stateDir), 0o700);
    assert.equal(mode(join(box.stateDir, 'run')), 0o700);
    assert.equal(mode(box.runDir('up')), 0o700);
    assert.equal(mode(join(box.stateDir, 'controller.sock')), 0o600);
    assert.equal(mode(join(box.runDir('up'), 'buddy.sock')), 0o600);
    assert.equal(mode(join(box.stateDir, 'upkeeper.db')), 0o600);
    const res = await box.upk(['controller', 'status']);
    assert.equal(res.code, 0);
    const info = JSON.parse(readFileSync(join(box.stateDir, 'controller.json'), 'utf8')) as { pid: number };
    assert.match(res.stdout, new RegExp(`pid +${info.pid}`));
    assert.match(res.stdout, /uptime +\d/);
    assert.match(res.stdout, /socket +.*controller\.sock/);
    assert.match(res.stdout, /version +\d+\.\d+\.\d+/);
  });

  it('start all and stop all, with events --since', async () => {
    const started = await box.upk(['start', 'all', '--json']);
    const items = JSON.parse(started.stdout) as { service: string; ok: boolean }[];
    assert.deepEqual(items.map((i) => i.service).sort(), ['down', 'pkg::loop', 'up']);
    assert.ok(items.find((i) => i.service === 'down')!.ok);
    const since = await box.upk(['events', 'down', '--since', '1m', '--json']);
    assert.ok((JSON.parse(since.stdout) as { type: string }[]).some((e) => e.type === 'spawned'));
    // A --since still to come is refused (docs/cli.md, Times), not answered with nothing.
    const future = await box.upk(['events', '--since', new Date(Date.now() + 60_000).toISOString(), '--json']);
    assert.equal(future.code, 2, future.stdout);
    assert.match(future.stderr, /^upk: --since .* is still to come/);
    const badTime = await box.upk(['events', '--since', 'yesterday-ish']);
    assert.equal(badTime.code, 2);
    const stopped = await box.upk(['stop', 'down']);
    assert.equal(stopped.code, 0);
  });

  it('a second controller says which one runs and exits at once', async () => {
    const t0 = Date.now();
    const second = await run(process.execPath, [CONTROLLER, '--config', box.configFile], box.env, 10_000);
    assert.equal(second.code, 9);
    const info = JSON.parse(readFileSync(join(box.stateDir, 'controller.json'), 'utf8')) as { pid: number };
    assert.match(second.stderr, new RegExp(`already running .*pid ${info.pid}`));
    // "At once": the lock does not wait. No wider: one that waited as the audit database's 5 s busy
    // timeout does would pass (a Node start takes well under a second even on a loaded machine).
    assert.ok(Date.now() - t0 < 5000, `the second controller exited after ${Date.now() - t0} ms`);
  });

  it('a malformed frame closes that connection only (client socket and buddy socket)', async () => {
    const c = await box.client();
    await sendRaw(join(box.stateDir, 'controller.sock'), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await sendRaw(join(box.stateDir, 'controller.sock'), encodeFrame(Buffer.from([0xc1]))); // never used in msgpack
    await sendRaw(join(box.stateDir, 'controller.sock'), encodeFrame(Buffer.from([0x93, 1, 2, 3]))); // an array, not a message
    const [up] = await c.status('up');
    await sendRaw(join(box.runDir('up'), 'buddy.sock'), encodeFrame(Buffer.from('{"nope"')));
    const [again] = await c.status('up');
    assert.equal(again!.state, 'running');
    assert.equal(again!.pid, up!.pid, 'the service was not touched');
    assert.equal(again!.buddyPid, up!.buddyPid, 'the buddy survived');
  });

  it('hello with no common protocol version is refused and the connection closed', async () => {
    const { msgpackCodec } = await import('../../schema/codec-msgpack.js');
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = netConnect(join(box.stateDir, 'controller.sock'), () =>
        s.write(encodeFrame(msgpackCodec.encode({ id: 1, method: 'hello', params: { protocol: { min: 99, max: 99 }, client: 'future' } }))),
      );
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    const answer = msgpackCodec.decode(reply.subarray(4)) as { error: { code: string; message: string } };
    assert.equal(answer.error.code, 'PROTOCOL_ERROR');
    assert.match(answer.error.message, /no common protocol version/);
  });

  it('requests before hello are refused', async () => {
    const { msgpackCodec } = await import('../../schema/codec-msgpack.js');
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = netConnect(join(box.stateDir, 'controller.sock'), () =>
        s.write(encodeFrame(msgpackCodec.encode({ id: 1, method: 'list', params: {} }))),
      );
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    const answer = msgpackCodec.decode(reply.subarray(4)) as { error: { code: string } };
    assert.equal(answer.error.code, 'PROTOCOL_ERROR');
  });

  it('stopping the controller leaves buddies and services running; a new one adopts them', async () => {
    const c = await box.client();
    const [before] = await c.status('up');
    const stop = await box.upk(['controller', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(alive(before!.pid!), 'the service still runs');
    assert.ok(alive(before!.buddyPid!), 'its buddy still runs');
    const notRunning = await box.upk(['status']);
    assert.equal(notRunning.code, 3);
    assert.match(notRunning.stderr, /not running/);
    await box.startController();
    const [after] = await (await box.client()).status('up');
    assert.equal(after!.pid, before!.pid, 'the service was not restarted');
    assert.equal(after!.uuid, before!.uuid, 'a service keeps its uuid');
    assert.equal(after!.buddyPid, before!.buddyPid, 'the buddy was not replaced');
    assert.equal(after!.state, 'running');
  });

  it('every event of a run is in the database exactly once, sequence numbers without gaps', async () => {
    // The crash loop ran across the controller restart above; let it go on a little, then stop it.
    const c = await box.client();
    await new Promise((r) => setTimeout(r, 500));
    await c.stop('pkg::loop');
    const events = box.events('loop');
    assertStartsRecorded(events, box.file('loop.starts'));
    const byBuddy = new Map<number, number[]>();
    for (const e of events) byBuddy.set(e.buddy_id, [...(byBuddy.get(e.buddy_id) ?? []), e.seq]);
    for (const [, seqs] of byBuddy) {
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
        'contiguous from 1, each once',
      );
    }
  });

  it('upk exit codes: no such service, usage', async () => {
    const missing = await box.upk(['start', 'nosuch']);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /no service named "nosuch"/);
    const usage = await box.upk(['start']);
    assert.equal(usage.code, 2);
    const bare = await box.upk(['status', 'loop']);
    assert.match(bare.stdout, /pkg::loop/);
  });

  it('--json gives the documented records', async () => {
    const res = await box.upk(['status', 'up', '--json']);
    const [s] = JSON.parse(res.stdout) as Record<string, unknown>[];
    for (const key of ['name', 'uuid', 'state', 'desired', 'pid', 'buddyPid', 'since', 'restarts', 'lastExit']) {
      assert.ok(key in s!, `status has ${key}`);
    }
    const ev = await box.upk(['events', 'loop', '--type', 'exited', '--limit', '3', '--json']);
    const events = JSON.parse(ev.stdout) as Record<string, unknown>[];
    assert.equal(events.length, 3);
    for (const key of ['id', 'service', 'uuid', 'buddy', 'seq', 'time', 'type', 'pid', 'code', 'signal']) {
      assert.ok(key in events[0]!, `event has ${key}`);
    }
    assert.ok((events[0]!.id as number) < (events[2]!.id as number), 'oldest first');
    assert.equal(events[0]!.code, 1);
  });

  it('upk shutdown stops every service and buddy, then the controller', async () => {
    const c = await box.client();
    const [up] = await c.status('up');
    const res = await box.upk(['shutdown']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(!alive(up!.pid!));
    assert.deepEqual(processesUnder(box.dir), [], 'nothing of upkeeper runs');
    const db = box.db();
    const open = db.prepare('SELECT count(*) AS n FROM buddies WHERE ended IS NULL').get() as { n: number };
    db.close();
    assert.equal(open.n, 0, 'every buddy is recorded as ended');
  });
});
