// A subscription across controller SIGKILLs and restarts: every event once, in order, none lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, startController, type Notice } from '../../libclient/index.js';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';

describe('subscription', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('subscribe');
    box.writeServices({
      loop: { ExecStart: `sh -c 'sleep 0.05; exit 1'`, InitialState: 'running', MinUptime: 0, UserRateLimit: 0.05, UserMaxRestarts: -1 },
      quiet: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('quiet', 'running');
  });
  after(() => box.cleanup());

  it('survives three controller SIGKILLs; nothing is lost or repeated', async () => {
    const client = await connect({ config: box.configFile });
    const subscription = await client.subscribe({ services: ['loop'] });
    client.close();
    const start = subscription.lastEventId!;
    const got: number[] = [];
    const states: string[] = [];
    const controllerNotices: string[] = [];
    const consuming = (async () => {
      for await (const n of subscription as AsyncIterable<Notice>) {
        if (n.kind === 'event') {
          assert.equal(n.event.service, 'loop', 'only the service asked for');
          got.push(n.event.id);
        } else if (n.kind === 'status') states.push(n.status.state);
        else if (n.kind === 'controller') controllerNotices.push(n.state);
      }
    })();
    for (let i = 0; i < 3; i++) {
      await sleep(400);
      const pid = (await (await connect({ config: box.configFile })).controllerStatus()).pid;
      process.kill(pid, 'SIGKILL');
      await box.waitFor('the controller gone', () => !alive(pid));
      await sleep(300); // events pile up in the buddy meanwhile
      await startController({ config: box.configFile, env: box.env });
      // The next kill only once the subscription is back (it retries 0.1 s doubling to 2 s).
      await box.waitFor('the subscription back', () => controllerNotices.length === 2 * (i + 1), 10_000);
    }
    await sleep(400);
    const c = await box.client();
    await c.stop('loop');
    const stored = (await c.events({ service: 'loop', afterId: start, limit: 10_000 })).map((e) => e.id);
    await box.waitFor('every stored event delivered', () => got.length >= stored.length, 10_000);
    subscription.close();
    await consuming;
    assert.deepEqual(got, stored, 'the same events, in the same order, once each');
    assert.ok(stored.length > 30, `${stored.length} events crossed the restarts`);
    assert.deepEqual(controllerNotices, ['lost', 'back', 'lost', 'back', 'lost', 'back']);
    assert.ok(states.includes('stopped'), 'status changes come too');
  });

  it('resumes from sinceId: stored events first, then live ones', async () => {
    const c = await box.client();
    const stored = await c.events({ service: 'quiet', limit: 10_000 });
    const sub = await c.subscribe({ services: ['quiet'], sinceId: 0 });
    const seen: number[] = [];
    const consuming = (async () => {
      for await (const n of sub) {
        if (n.kind === 'event') {
          seen.push(n.event.id);
          if (n.event.type === 'stopped') break;
        }
      }
    })();
    await box.waitFor('the stored events', () => seen.length >= stored.length);
    await c.stop('quiet');
    await consuming;
    assert.deepEqual(
      seen.slice(0, stored.length),
      stored.map((e) => e.id),
    );
    assert.ok(seen.length > stored.length, 'then the live ones');
  });

  it('upk events --follow streams NDJSON', async () => {
    const { spawn } = await import('node:child_process');
    const { UPK } = await import('../helpers/sandbox.js');
    const child = spawn(process.execPath, [UPK, 'events', 'quiet', '--follow', '--json', '--limit', '1'], { env: box.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await box.waitFor('the first line', () => out.includes('\n'));
    await (await box.client()).start('quiet');
    await box.waitFor('the spawned event', () =>
      out
        .split('\n')
        .filter(Boolean)
        .some((l) => (JSON.parse(l) as { type: string }).type === 'spawned'),
    );
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number });
    assert.deepEqual(
      lines.map((l) => l.id),
      [...lines.map((l) => l.id)].sort((a, b) => a - b),
      'in order',
    );
    assert.equal(new Set(lines.map((l) => l.id)).size, lines.length, 'no repeats');
  });
});
