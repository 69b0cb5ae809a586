// Frames and the RPC connection over a real socket pair: bad frames close that connection only.
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FrameDecoder, FrameError, encodeFrame } from '../../schema/framing.js';
import { jsonCodec } from '../../schema/codec.js';
import { msgpackCodec } from '../../schema/codec-msgpack.js';
import { RpcConnection, type AnyMethods } from '../../schema/rpc.js';
import { ErrorCode, UpkError } from '../../schema/errors.js';

describe('frame decoder', { timeout: 5000 }, () => {
  it('reassembles frames split anywhere', () => {
    const d = new FrameDecoder(100);
    const a = encodeFrame(Buffer.from('hello'));
    const b = encodeFrame(Buffer.from('world!'));
    const all = Buffer.concat([a, b]);
    const out: string[] = [];
    for (let i = 0; i < all.length; i++) out.push(...d.push(all.subarray(i, i + 1)).map((x) => x.toString()));
    assert.deepEqual(out, ['hello', 'world!']);
  });
  it('refuses a frame larger than the maximum', () => {
    const d = new FrameDecoder(4);
    assert.throws(() => d.push(encodeFrame(Buffer.from('12345'))), FrameError);
  });
});

describe('rpc connection', { timeout: 10_000 }, () => {
  async function pair(codec = msgpackCodec) {
    const dir = mkdtempSync(join(tmpdir(), 'upk-rpc-'));
    const path = join(dir, 's');
    const serverSide: RpcConnection<AnyMethods>[] = [];
    const closed: (Error | undefined)[] = [];
    const server = createServer((s: Socket) => {
      serverSide.push(
        new RpcConnection(s, {
          codec,
          maxFrameBytes: 1024,
          onRequest: (method, params) => {
            if (method === 'fail') throw new UpkError(ErrorCode.NO_SUCH_SERVICE, 'nope', { details: { x: 1 } });
            return { method, params };
          },
          onClose: (r) => closed.push(r),
        }),
      );
    });
    await new Promise<void>((r) => server.listen(path, r));
    const client = (): Promise<RpcConnection<AnyMethods>> =>
      new Promise((resolve) => {
        const s = connect(path, () => resolve(new RpcConnection(s, { codec, maxFrameBytes: 1024 })));
      });
    const raw = (): Promise<Socket> =>
      new Promise((resolve) => {
        const s = connect(path, () => resolve(s));
      });
    const done = () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { client, raw, closed, done, serverSide };
  }

  it('answers requests and carries typed errors across', async () => {
    const p = await pair();
    const c = await p.client();
    assert.deepEqual(await c.request('echo', { a: 1 }), { method: 'echo', params: { a: 1 } });
    await assert.rejects(
      c.request('fail', {}),
      (e: UpkError) => e instanceof UpkError && e.code === 'NO_SUCH_SERVICE' && (e.details as { x: number }).x === 1,
    );
    c.destroy();
    p.done();
  });

  it('a malformed frame closes that connection and no other', async () => {
    const p = await pair(jsonCodec);
    const good = await p.client();
    const bad = await p.raw();
    const badClosed = new Promise((r) => bad.once('close', r));
    bad.write(encodeFrame(Buffer.from('{not json')));
    await badClosed;
    assert.deepEqual(await good.request('still', 1), { method: 'still', params: 1 });
    const bad2 = await p.raw();
    const closed2 = new Promise((r) => bad2.once('close', r));
    bad2.write(Buffer.from([0xff, 0xff, 0xff, 0xff])); // announces 4 GiB
    await closed2;
    const bad3 = await p.raw();
    const closed3 = new Promise((r) => bad3.once('close', r));
    bad3.write(encodeFrame(Buffer.from('[1,2,3]'))); // valid JSON, not a message
    await closed3;
    assert.deepEqual(await good.request('after', 2), { method: 'after', params: 2 });
    assert.equal(p.closed.filter((r) => r !== undefined).length, 3);
    good.destroy();
    p.done();
  });
});
