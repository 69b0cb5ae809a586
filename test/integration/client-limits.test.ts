// What a client can do to the controller, and must not: never read what it is sent (the controller
// buffers a bounded amount, then ends the subscription), ask for answers larger than a message may
// carry (they come in pages, or are refused with a clear error), hold too many subscriptions, say
// nothing, or speak before `hello`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuditStore } from '../../controller/audit-store.js';
import {
  CLIENT_MAX_BUFFERED_BYTES,
  CLIENT_MAX_FRAME_BYTES,
  PROTOCOL_MAX,
  SUBSCRIPTIONS_PER_CONNECTION_MAX,
} from '../../schema/client-protocol.js';
import { msgpackCodec } from '../../schema/codec-msgpack.js';
import { ErrorCode, type UpkError } from '../../schema/errors.js';
import type { ServiceEvent } from '../../schema/records.js';
import { HELLO_DEADLINE_MS } from '../../schema/rpc.js';
import { connect } from '../../libclient/index.js';
import { socketAddress } from '../../schema/socket-path.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';

const LIBCLIENT = fileURLToPath(new URL('../../libclient/index.js', import.meta.url));
const HELLO = { protocol: { min: 1, max: PROTOCOL_MAX }, client: 'raw', pid: process.pid, user: 'test' };
/** Events of the big history, and the size of each one's output tail: 6,000 × ~3 KB is past 16 MiB. */
const BIG_EVENTS = 6000;
const TAIL = 'x'.repeat(3000);
/** Filling the controller's queue of waiting connections (4,096) takes that many descriptors here and a somaxconn as large. */
const QUEUE_TEST_SKIP = ((): string | false => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const files = Number(/^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0) || Infinity;
  if (somaxconn < 4096) return `net.core.somaxconn is ${somaxconn}, less than the 4,096 the test fills`;
  if (files < 4200) return `the open-file limit is ${files}, too few to fill a queue of 4,096`;
  return false;
})();

describe('client limits', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let socket = '';
  before(async () => {
    box = new Sandbox('limits');
    socket = join(box.stateDir, 'controller.sock');
    const line = 'y'.repeat(190);
    writeFileSync(box.file('noisy.sh'), `for i in 1 2 3 4 5 6 7 8 9 10; do echo "$i ${line}"; echo "$i ${line}" >&2; done; exit 1\n`);
    box.writeServices({
      // Each crash leaves ~4 KB of last output in its exited event: a heavy stream of notifications.
      noisy: {
        ExecStart: `sh ${box.file('noisy.sh')}`,
        MinUptime: 0,
        UserRateLimit: 0.01,
        UserMaxRestarts: -1,
      },

      big: { ExecStart: 'sleep 1000' },
      // Long descriptions: the statuses a subscription begins with come to more than 1 MiB.
      ...Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`wordy${i}`, { ExecStart: 'sleep 1000', ShortDescription: 'w'.repeat(60_000) }]),
      ),
    });
    await box.startController();
    // A history larger than one message may carry, written straight into the database meanwhile.
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    const store = new AuditStore(join(box.stateDir, 'upkeeper.db'));
    const uuid = store.servicesNamed('big')[0]!.uuid;
    const buddyId = store.buddyId(randomUUID(), uuid, 1, Date.now() - 3_600_000);
    const t0 = Date.now() - 3_600_000;
    const events = Array.from({ length: BIG_EVENTS }, (_, i) => ({
      seq: i + 1,
      time: t0 + i * 100,
      type: 'exited' as const,
      pid: 10_000 + i,
      code: 1,
      detail: { requested: false, uptimeMs: 5, lastOutput: { stdout: TAIL, stderr: `line ${i}` } },
    }));
    for (let i = 0; i < events.length; i += 1000) {
      store.insertEvents([{ serviceUuid: uuid, service: 'big', instance: 'x', buddyId, events: events.slice(i, i + 1000) }]);
    }
    store.endBuddy(buddyId, 'gone');
    store.close();
    await box.startController();
  });
  after(() => box.cleanup());

  async function greeted(): Promise<RawPeer> {
    const peer = await RawPeer.connect(socket, msgpackCodec);
    peer.send({ id: 1, method: 'hello', params: HELLO });
    assert.ok((await peer.answer(1))?.result, 'hello answered');
    return peer;
  }

  it('pages an answer larger than one message: upk events --json, CSV and libclient get it all', async () => {
    const json = await box.upk(['events', 'big', '--json', '--limit', '10000', '--type', 'exited'], 60_000);
    assert.equal(json.code, 0, json.stderr);
    const got = JSON.parse(json.stdout) as ServiceEvent[];
    assert.equal(got.length, BIG_EVENTS);
    assert.ok(json.stdout.length > CLIENT_MAX_FRAME_BYTES, `${json.stdout.length} bytes: more than one message carries`);
    assert.deepEqual(
      got.map((e) => e.pid),
      got.map((_, i) => 10_000 + i),
      'every one once, oldest first',
    );
    const csv = await box.upk(['events', 'big', '--csv', '--limit', '10000', '--type', 'exited'], 60_000);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout.trimEnd().split('\r\n').length, BIG_EVENTS + 1);

    const c = await box.client();
    const newest = await c.events({ service: 'big', types: ['exited'], limit: 5000 });
    assert.equal(newest.length, 5000, 'the newest 5,000, over several pages');
    assert.equal(newest[0]!.pid, 10_000 + BIG_EVENTS - 5000);
    assert.equal(newest.at(-1)!.pid, 10_000 + BIG_EVENTS - 1);
    let pages = 0;
    for await (const page of c.eventPages({ service: 'big', afterId: 0, limit: 10_000 })) {
      pages += 1;
      assert.ok(page.length > 0);
    }
    assert.ok(pages >= 5, `${pages} pages`);
  });

  it('refuses a one-message answer that would be too large, with a clear error, and keeps the connection', async () => {
    const peer = await greeted();
    peer.send({ id: 2, method: 'events', params: { service: 'big', limit: 10_000 } });
    const answer = await peer.answer(2, 30_000);
    assert.equal(answer?.error?.code, 'LIMIT_REACHED');
    assert.match(answer.error.message, /larger than the 16 MiB one message may carry/);
    peer.send({ id: 3, method: 'list', params: {} });
    assert.ok(Array.isArray((await peer.answer(3))?.result), 'the same connection answers on');
    peer.close();
  });

  it('ends the subscriptions of a client that does not read, after a bounded backlog', async () => {
    const peer = await greeted();
    // Every event goes out once per subscription: 64 on one connection make a heavy stream cheaply.
    for (let i = 1; i <= SUBSCRIPTIONS_PER_CONNECTION_MAX; i++)
      peer.send({ id: 100 + i, method: 'subscribe', params: { subscription: i } });
    assert.ok((await peer.answer(100 + SUBSCRIPTIONS_PER_CONNECTION_MAX))?.result);
    await sleep(500); // the statuses each subscription began with are read
    peer.socket.pause(); // from now on it reads nothing
    const atPause = peer.received;
    const c = await box.client();
    const start = (await c.events({ limit: 1 }))[0]!.id;
    await c.start('noisy');
    await sleep(4000);
    await c.stop('noisy');
    const stored = await c.events({ afterId: start, limit: 100_000 });
    const sent = SUBSCRIPTIONS_PER_CONNECTION_MAX * stored.reduce((n, e) => n + JSON.stringify(e).length, 0);
    assert.ok(sent > 8 * CLIENT_MAX_BUFFERED_BYTES, `${sent} bytes were for it (${stored.length} events)`);
    peer.socket.resume();
    await sleep(1000);
    const got = peer.drain() as { method?: string; params?: { code?: string; lastId?: number | null } }[];
    const ended = got.filter((m) => m.method === 'ended');
    assert.equal(
      ended.length,
      SUBSCRIPTIONS_PER_CONNECTION_MAX,
      `every subscription was ended (${got.length} messages, ${peer.received} bytes)`,
    );
    assert.equal(ended[0]!.params!.code, 'LIMIT_REACHED');
    const kept = peer.received - atPause;
    assert.ok(kept < 2 * CLIENT_MAX_BUFFERED_BYTES, `the controller kept ${kept} bytes for it, not all ${sent}`);
    peer.send({ id: 3, method: 'list', params: {} });
    assert.ok((await peer.answer(3))?.result, 'the connection itself goes on');
    peer.close();
  });

  it('the statuses a subscription begins with may take more than the bound, until they have gone', async () => {
    const peer = await greeted();
    peer.socket.pause();
    peer.send({ id: 2, method: 'subscribe', params: { subscription: 1 } });
    await sleep(300);
    const c = await box.client();
    await c.start('wordy0'); // more notifications while the first burst still waits
    await sleep(300);
    peer.socket.resume();
    await sleep(500);
    const got = peer.drain() as { method?: string }[];
    assert.equal(got.filter((m) => m.method === 'ended').length, 0, 'not ended');
    assert.ok(peer.received > CLIENT_MAX_BUFFERED_BYTES, `${peer.received} bytes of statuses`);
    assert.ok(got.filter((m) => m.method === 'status').length > 20, 'the statuses, then the changes');
    await c.stop('wordy0');
    peer.close();
  });

  it('catches up from sinceId 0 only as fast as the client reads', async () => {
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${controllerPid}/status`, 'utf8'))![1]) * 1024;
    const controllerPid = (await (await box.client()).controllerStatus()).pid;
    const peer = await greeted();
    peer.socket.pause();
    const before = rss();
    peer.send({ id: 2, method: 'subscribe', params: { subscription: 1, sinceId: 0 } });
    await sleep(1500);
    // Paused, it holds what fits in the buffers, not the whole history (over 18 MB of events).
    const grown = rss() - before;
    assert.ok(grown < 16 * 1024 * 1024, `the controller grew by ${grown} bytes for a client that did not read`);
    peer.socket.resume();
    const c = await box.client();
    const last = (await c.events({ limit: 1 }))[0]!.id;
    const ids: number[] = [];
    for (;;) {
      const m = (await peer.next(10_000)) as { method?: string; params?: { event?: { id: number } } } | null;
      assert.ok(m, `the history up to ${last} came (got to ${ids.at(-1)})`);
      if (m.method === 'event') ids.push(m.params!.event!.id);
      if (ids.at(-1) === last) break;
    }
    assert.ok(
      ids.every((id, i) => i === 0 || id > ids[i - 1]!),
      'in id order, once each',
    );
    const all = await c.events({ afterId: 0, limit: 1_000_000 });
    assert.deepEqual(
      ids,
      all.filter((e) => e.id <= last).map((e) => e.id),
      'every stored event',
    );
    peer.close();
  });

  it('a libclient subscription paused for a while resubscribes where it was: nothing lost, nothing twice', async () => {
    const out = box.file('sub.out');
    const program = `
      import { connect } from ${JSON.stringify(LIBCLIENT)};
      import { appendFileSync, writeFileSync } from 'node:fs';
      const client = await connect({ config: ${JSON.stringify(box.configFile)} });
      const sub = await client.subscribe({ services: ['noisy'] });
      writeFileSync(${JSON.stringify(out)}, 'start ' + sub.lastEventId + '\\n');
      for await (const n of sub) if (n.kind === 'event') appendFileSync(${JSON.stringify(out)}, n.event.id + '\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: 'ignore', env: box.env });
    try {
      await box
        .waitFor('subscribed', () => readFileSync(out, 'utf8').startsWith('start'), 10_000)
        .catch(() => assert.fail('no subscription'));
      const start = Number(readFileSync(out, 'utf8').split('\n')[0]!.split(' ')[1]);
      const c = await box.client();
      process.kill(child.pid!, 'SIGSTOP');
      await c.start('noisy');
      // Paused until the controller gives up on it (more than 1 MiB waiting): seconds, more on a loaded machine.
      const log = (): string => readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
      const ended = new RegExp(`pid ${child.pid}\\): subscription 1 ended after event \\d+: the client did not read`);
      await box.waitFor('the paused subscription to be ended', () => ended.test(log()), 40_000);
      await sleep(1000);
      process.kill(child.pid!, 'SIGCONT');
      await sleep(1000);
      await c.stop('noisy');
      const stored = (await c.events({ service: 'noisy', afterId: start, limit: 100_000 })).map((e) => e.id);
      await box.waitFor('every event', () => readFileSync(out, 'utf8').trim().split('\n').length - 1 >= stored.length, 20_000);
      const got = readFileSync(out, 'utf8').trim().split('\n').slice(1).map(Number);
      assert.deepEqual(got.slice(0, stored.length), stored);
      assert.ok(
        got.every((id, i) => i === 0 || id > got[i - 1]!),
        'none twice',
      );
      assert.ok(stored.length > 300, `${stored.length} events`);
      assert.doesNotMatch(log(), /MaxListenersExceeded/);
    } finally {
      if (alive(child.pid!)) child.kill('SIGKILL');
    }
  });

  it('a client that asks for many large answers at once and reads none makes the controller hold a bounded amount', async () => {
    const controller = (await (await box.client()).controllerStatus()).pid;
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${controller}/status`, 'utf8'))![1]) * 1024;
    const peer = await greeted();
    peer.socket.pause();
    const before = rss();
    // 32 answers of about 6 MB each, asked for in one write.
    for (let i = 0; i < 32; i++) peer.send({ id: 10 + i, method: 'events', params: { service: 'big', limit: 2000 } });
    await sleep(3000);
    const grown = rss() - before;
    assert.ok(grown < 120 * 1024 * 1024, `the controller grew by ${Math.round(grown / 1048576)} MB`);
    peer.close();
  });

  it(`holds at most ${SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions on one connection`, async () => {
    const peer = await greeted();
    for (let i = 1; i <= SUBSCRIPTIONS_PER_CONNECTION_MAX + 1; i++)
      peer.send({ id: 100 + i, method: 'subscribe', params: { subscription: i } });
    for (let i = 1; i <= SUBSCRIPTIONS_PER_CONNECTION_MAX; i++) assert.ok((await peer.answer(100 + i))?.result, `subscription ${i}`);
    const refused = await peer.answer(101 + SUBSCRIPTIONS_PER_CONNECTION_MAX);
    assert.equal(refused?.error?.code, 'LIMIT_REACHED');
    peer.send({ id: 999, method: 'subscribe', params: { subscription: 1 } });
    assert.equal((await peer.answer(999))?.error?.code, 'BAD_REQUEST', 'a subscription number in use');
    peer.close();
  });

  it('serves at most its limit of client connections and says so to the next one', async () => {
    const c = await box.client();
    const { maxClients, clients } = await c.controllerStatus();
    const peers: RawPeer[] = [];
    try {
      for (let i = clients; i < maxClients + 3; i++) {
        const peer = await RawPeer.connect(socket, msgpackCodec);
        peer.send({ id: 1, method: 'hello', params: HELLO });
        peers.push(peer);
      }
      const answers = await Promise.all(peers.map((p) => p.answer(1, 20_000)));
      const refused = answers.filter((a) => a?.error?.code === 'LIMIT_REACHED');
      assert.equal(refused.length, 3, `${refused.length} refused`);
      assert.match(refused[0]!.error!.message, new RegExp(`already serves ${maxClients} client connections`));
      assert.equal(answers.filter((a) => a?.result).length, maxClients - clients);
      assert.equal((await c.controllerStatus()).clients, maxClients, 'the clients already connected go on');
    } finally {
      for (const p of peers) p.close();
    }
    await box.waitFor('room again', async () => (await c.controllerStatus()).clients < 10);
    assert.ok((await (await box.client()).list()).length > 0);
  });

  it(
    'a client that finds the queue of waiting connections full waits for the controller, within its time limit',
    { skip: QUEUE_TEST_SKIP },
    async () => {
      const controller = (await (await box.client()).controllerStatus()).pid;
      const waiting: Socket[] = [];
      const once = (): Promise<string> =>
        new Promise((resolve) => {
          const s = netConnect(socketAddress(socket));
          waiting.push(s);
          s.once('connect', () => resolve('connected'));
          s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        });
      process.kill(controller, 'SIGSTOP');
      try {
        // Stopped, it accepts nothing: connections queue up to the backlog (at least 1,003: the test above needs them).
        let last = 'connected';
        while (last === 'connected' && waiting.length < 20_000) last = await once();
        assert.equal(last, 'EAGAIN', `after ${waiting.length} connections`);
        assert.ok(waiting.length > 1003, `a backlog of ${waiting.length - 1}`);
        await assert.rejects(
          connect({ config: box.configFile, timeoutMs: 600 }),
          (err: UpkError) =>
            err.code === ErrorCode.TIMEOUT &&
            /accepted no connection within 600 ms \(its queue of waiting connections is full/.test(err.message),
        );
        const patient = connect({ config: box.configFile, timeoutMs: 8000 });
        await sleep(1000);
        for (const s of waiting) s.destroy();
        process.kill(controller, 'SIGCONT');
        const c = await patient;
        assert.ok((await c.list()).length > 0);
        c.close();
      } finally {
        process.kill(controller, 'SIGCONT');
        for (const s of waiting) s.destroy();
      }
    },
  );

  it('answers a request before hello with an error, then closes, with nothing odd in the log', async () => {
    const peer = await RawPeer.connect(socket, msgpackCodec);
    peer.send({ id: 1, method: 'list', params: {} });
    peer.send({ id: 2, method: 'hello', params: HELLO });
    peer.send({ id: 3, method: 'start', params: { services: ['wordy1'] } }); // must not be done
    const answer = await peer.answer(1);
    assert.equal(answer?.error?.code, 'PROTOCOL_ERROR');
    assert.match(answer.error.message, /the first request must be hello/);
    assert.ok(await peer.closesWithin(5000), 'closed at once (the hello deadline would close it after 10 s)');
    await sleep(500);
    assert.equal((await (await box.client()).status('wordy1'))[0]!.state, 'stopped', 'nothing after the refused request was done');
    const notify = await RawPeer.connect(socket, msgpackCodec);
    notify.send({ method: 'event', params: {} }); // a notification before hello
    assert.ok(await notify.closesWithin(5000), 'closed at once (the hello deadline would close it after 10 s)');
    await sleep(200);
    assert.doesNotMatch(readFileSync(join(box.stateDir, 'controller.log'), 'utf8'), /write after end/);
  });

  it(`closes a connection that has not said hello within ${HELLO_DEADLINE_MS / 1000} s, even one trickling it in`, async () => {
    const silent = await RawPeer.connect(socket, msgpackCodec);
    const trickle = await RawPeer.connect(socket, msgpackCodec);
    const { encodeFrame } = await import('../../schema/framing.js');
    const frame = encodeFrame(msgpackCodec.encode({ id: 1, method: 'hello', params: HELLO }));
    const t0 = Date.now();
    let i = 0;
    const timer = setInterval(() => {
      if (i < frame.length - 1 && !trickle.socket.destroyed) trickle.socket.write(frame.subarray(i, ++i));
    }, 500);
    try {
      // Closed at the deadline: not before it, and after it with room for a loaded machine.
      assert.ok(await silent.closesWithin(HELLO_DEADLINE_MS + 5000), 'the silent one is closed');
      assert.ok(await trickle.closesWithin(5000), 'the trickling one too');
      const took = Date.now() - t0;
      assert.ok(took >= HELLO_DEADLINE_MS - 500 && took < HELLO_DEADLINE_MS + 5000, `closed after ${took} ms`);
    } finally {
      clearInterval(timer);
    }
    // A well-behaved client is not affected.
    const c = await box.client();
    assert.ok((await c.list()).length > 0);
    writeFileSync(box.file('done'), '');
  });
});
