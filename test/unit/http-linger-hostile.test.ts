// The lingering close of `upk serve` (clients/http/client-error.ts) attacked in-process: a malformed
// request pipelined behind one in flight, many oversized requests at once that keep sending, a trickle.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LINGER_MS, answerClientErrors } from '../../clients/http/client-error.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('upk serve: the lingering close under attack', { timeout: 60_000 }, () => {
  let server: Server;
  let port = 0;
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => void uncaught.push(err);

  before(async () => {
    process.on('uncaughtException', onUncaught);
    server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
      // an answer that takes a while (a controller's), as most of the API's do
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url }));
      }, 300);
    });
    server.on('clientError', answerClientErrors({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 }));
    server.maxConnections = 256;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    process.off('uncaughtException', onUncaught);
  });

  const count = (): Promise<number> => new Promise((r) => server.getConnections((_e, n) => r(n)));

  it('a malformed request pipelined behind one in flight: no crash, and the valid one is not answered 400', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nG\x01T / HTTP/1.1\r\n\r\n'));
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(text));
      setTimeout(() => s.destroy(), 5000);
    });
    await sleep(500);
    assert.deepEqual(
      uncaught.map((e) => e.message),
      [],
      'no uncaught exception in the server',
    );
    const first = /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1];
    assert.ok(first === undefined || first === '200', `the valid request's answer: ${JSON.stringify(got.slice(0, 300))}`);
  });

  it('two valid requests and a malformed one pipelined: both answers in order, then the 400, then the end', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () =>
        s.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nG\x01T / HTTP/1.1\r\n\r\n'),
      );
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(text));
      setTimeout(() => s.destroy(), 5000);
    });
    const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '400'], JSON.stringify(got.slice(0, 600)));
    assert.ok(got.indexOf('"/one"') < got.indexOf('"/two"'), 'in order');
    assert.match(got, /"code":"BAD_REQUEST"[^]*$/);
  });

  it('200 connections at once, each with headers too large and sending forever: all closed within the bound', async () => {
    const start = Date.now();
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const closed = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<number>((resolve) => {
            const s = connect(port, '127.0.0.1', () => {
              s.write('GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ');
              const pump = (): void => {
                while (!s.destroyed && s.write(chunk));
                if (!s.destroyed) s.once('drain', pump);
              };
              pump();
            });
            s.on('data', () => undefined);
            s.on('error', () => undefined);
            s.on('close', () => resolve(Date.now() - start));
            setTimeout(() => s.destroy(), 20_000);
          }),
      ),
    );
    const slowest = Math.max(...closed);
    assert.ok(slowest < LINGER_MS + 5000, `the slowest closed after ${slowest} ms`);
    await sleep(200);
    assert.equal(await count(), 0, 'no connection left');
  });
});
