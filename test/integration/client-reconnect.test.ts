// A long-lived Client outlives controller restarts: its next request connects again. A request in
// flight when the controller goes away fails with INTERRUPTED (it may have been carried out), a read
// is sent again; and client requests a stopping controller cut short are recorded as interrupted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { UpkError } from '../../libclient/index.js';
import { ErrorCode, connect, startController } from '../../libclient/index.js';
import { Sandbox, UPK, alive, sleep } from '../helpers/sandbox.js';

describe('client across controller restarts', { timeout: 120_000 }, () => {
  let box: Sandbox;
  const many: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < 30; i++) {
    // A slow stop: the stop script takes 1 s, so `upk stop all` is still in flight when the controller stops.
    many[`slow${String(i).padStart(2, '0')}`] = {
      ExecStart: 'sleep 1000',
      InitialState: 'running',
      MinUptime: 0.1,
      StopScript: 'sleep 3; kill $1',
    };
  }
  before(async () => {
    box = new Sandbox('reconnect');
    box.writeServices({
      web: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      slowstart: { ExecStart: 'sleep 1000', MinUptime: 3 },
      ...many,
    });
    await box.startController();
    await box.waitForState('web', 'running');
    await box.waitForState('slow29', 'running', 20_000);
  });
  after(() => box.cleanup());

  it('a Client goes on working after `upk controller restart`, and after a SIGKILL and a new start', async () => {
    const client = await connect({ config: box.configFile });
    try {
      const first = client.controller.pid;
      assert.equal((await client.list()).length, 32);
      assert.equal((await box.upk(['controller', 'restart'])).code, 0);
      assert.equal((await client.status('web'))[0]!.state, 'running', 'the next request reconnects');
      assert.notEqual(client.controller.pid, first, 'to the new controller');
      process.kill(client.controller.pid, 'SIGKILL');
      await box.waitFor('the controller gone', () => !alive(client.controller.pid));
      const pending = client.list(); // waits for a controller, up to reconnectMs
      await sleep(300);
      await startController({ config: box.configFile, env: box.env });
      assert.equal((await pending).length, 32);
    } finally {
      client.close();
    }
  });

  it('without a controller, a request fails with CONTROLLER_NOT_RUNNING after reconnectMs', async () => {
    const client = await connect({ config: box.configFile, reconnectMs: 500 });
    try {
      assert.equal((await box.upk(['controller', 'stop'])).code, 0);
      const t0 = Date.now();
      await assert.rejects(
        client.list(),
        (err: UpkError) => err.code === ErrorCode.CONTROLLER_NOT_RUNNING && /within 500 ms/.test(err.message),
      );
      // After reconnectMs (0.5 s), not never: 5 s is room for a loaded machine.
      assert.ok(Date.now() - t0 < 5000, `failed after ${Date.now() - t0} ms`);
    } finally {
      client.close();
      await box.startController();
    }
  });

  it('an action in flight when the controller dies fails with INTERRUPTED; a read in flight is sent again', async () => {
    const client = await connect({ config: box.configFile });
    try {
      const start = client.start('slowstart'); // answered after MinUptime, 3 s
      await sleep(500);
      const controller = client.controller.pid;
      process.kill(controller, 'SIGSTOP');
      const read = client.list(); // sent, never answered by this controller
      await sleep(200);
      process.kill(controller, 'SIGKILL');
      await assert.rejects(
        start,
        (err: UpkError) => err.code === ErrorCode.INTERRUPTED && /may or may not have been carried out/.test(err.message),
      );
      await box.waitFor('the controller gone', () => !alive(controller));
      await startController({ config: box.configFile, env: box.env });
      assert.equal((await read).length, 32, 'the read was sent again to the new controller');
      await box.waitForState('slowstart', 'running');
    } finally {
      client.close();
    }
  });

  it('`upk controller stop` during `upk stop all`: the unfinished requests are recorded as interrupted, upk exits 10', async () => {
    const stopAll = spawn(process.execPath, [UPK, 'stop', 'all'], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    stopAll.stdout.on('data', (d: Buffer) => (out += d.toString()));
    stopAll.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => stopAll.once('exit', (code) => resolve(code ?? -1)));
    const db = box.db();
    const since = Date.now();
    try {
      await box.waitFor(
        'the stops begun',
        () =>
          (db.prepare(`SELECT count(*) AS n FROM client_requests WHERE request = 'stop' AND time >= ?`).get(since) as { n: number }).n >=
          30,
      );
      assert.equal((await box.upk(['controller', 'stop'])).code, 0);
      const code = await exited;
      assert.equal(code, 10, out);
      assert.match(out, /may or may not have been carried out/);
      const rows = db.prepare(`SELECT ok, outcome FROM client_requests WHERE request = 'stop' AND time >= ?`).all(since) as {
        ok: number;
        outcome: string;
      }[];
      assert.ok(rows.length >= 30);
      for (const r of rows) assert.ok(r.ok === 1 || r.outcome.startsWith('interrupted: '), `outcome ${JSON.stringify(r.outcome)}`);
      assert.ok(
        rows.some((r) => r.outcome.startsWith('interrupted: ')),
        'some were cut short',
      );
      assert.ok(!rows.some((r) => /connection/.test(r.outcome)));
    } finally {
      db.close();
    }
    await box.startController();
    // The buddies carried on: every service stopped.
    const c = await box.client();
    await box.waitFor('all 30 stopped', async () => (await c.status(Object.keys(many))).every((s) => s.state === 'stopped'), 20_000);
  });
});
