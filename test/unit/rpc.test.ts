// RpcConnection on real Unix sockets: the handshake (first, within its deadline), answers too large
// for a frame, a peer that never reads (no more requests read; cut off once stalled), requests
// cut short by a closed connection (INTERRUPTED: they may have been carried out), and notifications
// received through their validators (a bad one dropped with its reason, the connection kept).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { jsonCodec } from '../../schema/codec.js';
import { ErrorCode, type UpkError } from '../../schema/errors.js';
import { RpcConnection, receiveTyped, type AnyMethods, type NoMessages, type RpcOptions } from '../../schema/rpc.js';
import { asObject, int } from '../../schema/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'upk-rpc-'));
let n = 0;

/** A server whose connections are RpcConnections with `options`, and a plain client socket to it. */
async function pair(
  options: Omit<RpcOptions, 'codec' | 'maxFrameBytes'> & { maxFrameBytes?: number },
): Promise<{ server: Server; client: Socket; closed: Promise<Error | undefined> }> {
  const path = join(dir, `s${++n}.sock`);
  let closedWith: (reason: Error | undefined) => void = () => undefined;
  const closed = new Promise<Error | undefined>((resolve) => (closedWith = resolve));
  const server = createServer((socket) => {
    new RpcConnection(socket, { codec: jsonCodec, maxFrameBytes: 1 << 20, ...options, onClose: (reason) => closedWith(reason) });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = connect(path);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { server, client, closed };
}

/** A client RpcConnection to a server that answers with `onRequest`. */
async function rpcClient(
  onRequest: NonNullable<RpcOptions['onRequest']>,
): Promise<{ server: Server; rpc: RpcConnection<AnyMethods>; sockets: Socket[] }> {
  const path = join(dir, `c${++n}.sock`);
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    new RpcConnection(socket, { codec: jsonCodec, maxFrameBytes: 1 << 20, onRequest });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const socket = connect(path);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  return { server, rpc: new RpcConnection(socket, { codec: jsonCodec, maxFrameBytes: 1 << 20 }), sockets };
}

const frame = (message: unknown): Buffer => {
  const payload = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length);
  return Buffer.concat([head, payload]);
};

function readAll(socket: Socket): Promise<unknown[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const out: unknown[] = [];
      for (let off = 0; off + 4 <= all.length;) {
        const len = all.readUInt32BE(off);
        out.push(JSON.parse(all.subarray(off + 4, off + 4 + len).toString()));
        off += 4 + len;
      }
      resolve(out);
    });
  });
}

describe('rpc connection', { timeout: 10_000 }, () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a request before the handshake, answers it, then closes', async () => {
    const { server, client } = await pair({ handshake: { method: 'hello', deadlineMs: 5000 }, onRequest: () => 'ok' });
    const got = readAll(client);
    client.write(frame({ id: 1, method: 'poll', params: {} }));
    const messages = (await got) as { id: number; error?: { code: string; message: string } }[];
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.error?.code, 'PROTOCOL_ERROR');
    assert.match(messages[0]!.error.message, /the first request must be hello/);
    server.close();
  });

  it('lets requests right behind the handshake wait for it', async () => {
    const { server, client } = await pair({
      handshake: { method: 'hello', deadlineMs: 5000 },
      onRequest: async (m) => (m === 'hello' ? new Promise((r) => setTimeout(() => r('hi'), 50)) : m),
    });
    const got = new Promise<unknown[]>((resolve) => {
      const chunks: Buffer[] = [];
      client.on('data', (d: Buffer) => {
        chunks.push(d);
        if (Buffer.concat(chunks).length > 20) setTimeout(() => resolve([Buffer.concat(chunks).toString()]), 50);
      });
    });
    client.write(Buffer.concat([frame({ id: 1, method: 'hello', params: {} }), frame({ id: 2, method: 'poll', params: {} })]));
    const text = String((await got)[0]);
    assert.match(text, /"id":1,"result":"hi"/);
    assert.match(text, /"id":2,"result":"poll"/);
    client.destroy();
    server.close();
  });

  it('closes a connection that says nothing within the deadline', async () => {
    const { server, closed } = await pair({ handshake: { method: 'hello', deadlineMs: 100 }, onRequest: () => 'ok' });
    const t0 = Date.now();
    const reason = await closed;
    assert.match(String(reason?.message), /no hello within 100 ms/);
    // Closed at its deadline (0.1 s), not never: 5 s is room for a loaded machine.
    assert.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms`);
    server.close();
  });

  it('replaces an answer too large for a frame with LIMIT_REACHED, and stays open', async () => {
    const { server, client } = await pair({ maxFrameBytes: 1000, onRequest: (m) => (m === 'big' ? 'x'.repeat(5000) : 'small') });
    const got: string[] = [];
    client.on('data', (d: Buffer) => got.push(d.toString()));
    client.write(frame({ id: 1, method: 'big', params: {} }));
    client.write(frame({ id: 2, method: 'other', params: {} }));
    await new Promise((r) => setTimeout(r, 200));
    const text = got.join('');
    assert.match(text, /"id":1,"error":\{"code":"LIMIT_REACHED","message":"the answer to big is larger than/);
    assert.match(text, /"id":2,"result":"small"/);
    client.destroy();
    server.close();
  });

  it('reads no more from a peer that does not read, and cuts it off once it stalls', async () => {
    let answered = 0;
    const { server, client, closed } = await pair({
      maxBufferedBytes: 64 * 1024,
      stallMs: 300,
      maxInFlight: 4,
      onRequest: () => (answered++, 'y'.repeat(60_000)),
    });
    client.pause(); // reads nothing
    for (let i = 1; i <= 200; i++) client.write(frame({ id: i, method: 'get', params: {} }));
    const reason = await closed;
    assert.match(String(reason?.message), /read nothing for 0.3 s/);
    assert.ok(answered < 100, `${answered} of 200 requests were answered, not all`);
    server.close();
  });

  it('handles at most maxInFlight requests of a peer at once; the others wait their turn', async () => {
    let running = 0;
    let most = 0;
    const { server, client } = await pair({
      maxInFlight: 3,
      onRequest: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running -= 1;
        return 'done';
      },
    });
    let answers = 0;
    client.on('data', (d: Buffer) => (answers += (d.toString().match(/"result":"done"/g) ?? []).length));
    client.write(Buffer.concat(Array.from({ length: 12 }, (_, i) => frame({ id: i + 1, method: 'slow', params: {} }))));
    while (answers < 12) await new Promise((r) => setTimeout(r, 20));
    assert.equal(most, 3);
    client.destroy();
    server.close();
  });

  it('fails a request cut short by the closed connection with INTERRUPTED, one never sent with PROTOCOL_ERROR', async () => {
    const { server, rpc, sockets } = await rpcClient(() => new Promise(() => undefined)); // never answers
    const inFlight = rpc.request('stop', {});
    await new Promise((r) => setTimeout(r, 50));
    for (const s of sockets) s.destroy();
    await assert.rejects(inFlight, (err: UpkError) => err.code === ErrorCode.INTERRUPTED);
    await assert.rejects(rpc.request('stop', {}), (err: UpkError) => err.code === ErrorCode.PROTOCOL_ERROR);
    server.close();
  });

  it('hands each notification that passes its validator to its handler; drops any other with its reason, and keeps the connection', async () => {
    const path = join(dir, `n${++n}.sock`);
    // The sending end, untyped here so that it can send what no definition allows.
    const server = createServer((socket) => {
      const peer = new RpcConnection<NoMessages, Record<string, unknown>>(socket, {
        codec: jsonCodec,
        maxFrameBytes: 1 << 20,
        onRequest: () => 'pong',
      });
      for (const [name, params] of [
        ['tick', { n: 1 }],
        ['tick', { n: 'x' }],
        ['tock', {}],
        ['tick', {}],
        ['tick', { n: 2 }],
      ] as const)
        peer.notify(name, params);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const ticks: number[] = [];
    const dropped: UpkError[] = [];
    const socket = connect(path);
    const rpc = new RpcConnection<AnyMethods>(socket, {
      codec: jsonCodec,
      maxFrameBytes: 1 << 20,
      onNotification: receiveTyped<{ tick: { n: number } }>(
        { tick: ({ n }) => ticks.push(n) },
        { tick: (p) => ({ n: int(asObject(p), 'n', 0) }) },
        (err) => dropped.push(err),
      ),
    });
    assert.equal(await rpc.request('ping', {}), 'pong'); // answered after the notifications sent before it
    assert.deepEqual(ticks, [1, 2]);
    assert.deepEqual(
      dropped.map((e) => [e.code, e.message]),
      [
        [ErrorCode.BAD_REQUEST, 'notification tick: n must be an integer ≥ 0'],
        [ErrorCode.BAD_REQUEST, 'unknown notification "tock"'],
        [ErrorCode.BAD_REQUEST, 'notification tick: n is missing: an integer ≥ 0 is required'],
      ],
    );
    assert.ok(rpc.isOpen);
    rpc.destroy();
    server.close();
  });
});
