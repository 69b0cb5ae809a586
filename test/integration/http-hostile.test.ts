// The HTTP API attacked: `upk serve` as a real process against a real controller, fed malformed,
// oversized, slow, pipelined and never-read requests, bad options and odd files. Nothing may crash
// it, hang it, grow its memory without bound, show a stack trace, or answer without the token on TCP.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type NetConnectOpts } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, sleep } from '../helpers/sandbox.js';
import { exitWithin, raw, startServe, stopServe, untilClosed, type RawAnswer, type Serve } from '../helpers/serve.js';

/**
 * Write `text` on a new connection without reading meanwhile (a client busy sending its request),
 * then read: what came back until the peer closed, or `waitMs` passed.
 */
function sendThenRead(target: NetConnectOpts, text: string, waitMs = 15_000): Promise<RawAnswer> {
  const s = connect(target);
  s.pause();
  let got = '';
  s.once('connect', () =>
    s.write(text, () => {
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.resume();
    }),
  );
  return untilClosed(s, () => got, waitMs);
}

/**
 * Send the start of a request line, then `a`s for ever: `chunk` bytes every `everyMs` (0: as fast as
 * the connection takes them), reading what comes back or not. Until the peer closes, or `waitMs`.
 */
function sendForever(target: NetConnectOpts, o: { chunk: number; everyMs: number; read: boolean }, waitMs = 20_000): Promise<RawAnswer> {
  const s = connect({ ...target, allowHalfOpen: true }); // sends on after the server's end
  const a = Buffer.alloc(o.chunk, 'a');
  let got = '';
  if (o.read) s.on('data', (c: Buffer) => (got += c.toString('latin1')));
  const more = (): void => {
    if (s.destroyed) return;
    const ok = s.write(a);
    if (o.everyMs > 0) setTimeout(more, o.everyMs);
    else if (ok) setImmediate(more);
    else s.once('drain', more);
  };
  s.once('connect', () => {
    s.write('GET /api/services/');
    more();
  });
  return untilClosed(s, () => got, waitMs);
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const bodyOf = (answer: string): string => answer.slice(answer.indexOf('\r\n\r\n') + 4);

/** GET on the Unix socket: status and body. */
function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 20_000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

describe('the HTTP API attacked (upk serve)', { timeout: 240_000 }, () => {
  const box = new Sandbox('httphostile');
  const socketPath = join(box.dir, 'api.sock');
  const sock: NetConnectOpts = { path: socketPath };
  let serve: Serve;
  let port = 0;
  let token = '';
  const tcp = (): NetConnectOpts => ({ host: '127.0.0.1', port });

  before(async () => {
    box.writeServices({
      web: {
        ExecStart: 'sleep 300',
        MinUptime: 0.1,
        InitialState: 'running',
        CustomActions: { slow: 'sleep 20', brief: 'sleep 1; echo done-brief' },
      },
      // about 256 KiB on each output file: its logs answer is over half a megabyte
      chatty: {
        ExecStart:
          "head -c 400000 /dev/zero | tr '\\0' x | fold -w 1000; head -c 400000 /dev/zero | tr '\\0' y | fold -w 1000 >&2; exec sleep 300",
        MinUptime: 0.1,
        InitialState: 'running',
      },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    serve = startServe(box, ['--socket', socketPath, '--listen', '127.0.0.1:0']);
    const line = await serve.ready;
    port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    assert.ok(port > 0, line);
    token = readFileSync(join(box.stateDir, 'http-token'), 'utf8').trim();
    await box.waitFor(
      'the logs of chatty',
      async () => (await get(socketPath, '/api/services/chatty/logs?lines=1000')).body.length > 450_000,
    );
  });
  after(async () => {
    await stopServe(serve);
    await box.cleanup();
  });

  it('refuses tokens that are not exactly the one, however the header is dressed', async () => {
    const cases: [string, number][] = [
      [`Authorization: Bearer ${token}`, 200],
      [`Authorization: bearer   ${token}  `, 200],
      [`Authorization: Bearer ${token} extra`, 401],
      [`Authorization: Basic ${token}`, 401],
      [`Authorization: Bearer ${token},Bearer x`, 401],
      [`Authorization: Bearer`, 401],
      [`X-Authorization: Bearer ${token}`, 401],
      [`Authorization: Bearer wrong\r\nAuthorization: Bearer ${token}`, 401],
    ];
    for (const [header, status] of cases) {
      const a = await raw(tcp(), `GET /api/controller HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${header}\r\n\r\n`);
      assert.equal(statusOf(a.text), status, header.replaceAll(token, 'TOKEN'));
    }
    // a bad name, a bad URL, a change: still 401 before anything else
    for (const line of ['GET /api/services/..%2fetc', 'POST /api/services/web/stop', 'GET /api/nothing']) {
      const a = await raw(tcp(), `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(a.text), 401, line);
    }
  });

  it('refuses a request with two Authorization headers, whichever comes first', async () => {
    const a = await raw(
      tcp(),
      `GET /api/controller HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer wrong\r\n\r\n`,
    );
    assert.equal(statusOf(a.text), 401, a.text);
  });

  it('answers a URL it cannot parse with 400, not 500', async () => {
    for (const target of [sock, tcp()]) {
      const a = await raw(target, 'GET //[/api/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(statusOf(a.text), 400, a.text);
      assert.match(bodyOf(a.text), /"code":"BAD_REQUEST"/);
    }
  });

  it('answers odd methods, bad encodings and traversals without a stack trace', async () => {
    const cases: [string, number][] = [
      ['HEAD /api/services', 200],
      ['HEAD /api/stream', 405],
      ['OPTIONS /api/services', 405],
      ['DELETE /api/services/web', 405],
      ['GET /api/services/%ZZ', 404],
      ['GET /api/services/web%00', 400],
      ['GET /api/services/..%2F..%2Fetc', 400],
      ['GET /api/services/%2e%2e/%2e%2e/controller', 404],
      ['GET /api/../../etc/passwd', 404],
      ['GET /api/events?limit=99999999999999999999999', 400],
      ['GET /api/trend?metric=__proto__&bucket=1h&since=2020-01-01T00:00:00Z', 400],
      ['GET *', 404],
    ];
    for (const [line, status] of cases) {
      const a = await raw(sock, `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(a.text), status, `${line}: ${a.text}`);
      assert.doesNotMatch(a.text, /\n\s+at /, line);
    }
    const huge = await raw(sock, `GET /api/services/${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(statusOf(huge.text), 431, huge.text);
    assert.match(bodyOf(huge.text), /^\{"error":\{"code":"HEADERS_TOO_LARGE","message":"[^"]+"\}\}$/);
    const header = await raw(sock, `GET /api/services HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(100_000)}\r\n\r\n`);
    assert.equal(statusOf(header.text), 431, header.text);
    // what Node's parser refuses: 400, as JSON as every other error, and the connection closed after it
    for (const target of [sock, tcp()]) {
      const bad = await raw(target, 'GET /api/services HTTP/1.1\r\nHost: x\r\nNo Colon\r\n\r\n');
      assert.equal(statusOf(bad.text), 400, bad.text);
      assert.match(
        bodyOf(bad.text),
        /^\{"error":\{"code":"BAD_REQUEST","message":"the request is not valid HTTP\/1\.1: Invalid header token"\}\}$/,
      );
      assert.match(bad.text, /\r\nconnection: close\r\n/i);
      assert.ok(bad.closed, 'closed after its answer');
      assert.doesNotMatch(bad.text, /\n\s+at /);
    }
  });

  it('answers a request line of megabytes 431, every time, to a client that reads only once it has sent it all', async () => {
    // Closed at once, the connection was reset under the client still sending: the answer was lost.
    const line = `GET /api/services/${'a'.repeat(4_000_000)} HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const [name, target] of [
      ['unix socket', sock],
      ['tcp', tcp()],
    ] as const)
      for (let i = 0; i < 20; i++) {
        const a = await sendThenRead(target, line);
        assert.equal(statusOf(a.text), 431, `${name}, try ${i + 1} of 20: ${JSON.stringify(a.text.slice(0, 200))}`);
        assert.match(bodyOf(a.text), /"code":"HEADERS_TOO_LARGE"/);
        assert.ok(a.closed, `${name}: closed after its answer`);
      }
    assert.equal((await get(socketPath, '/api/controller')).status, 200);
  });

  it('closes within its bound a connection that keeps sending after its 431, read or not', async () => {
    const before = rssKb(serve.proc.pid!);
    for (const target of [sock, tcp()]) {
      // as fast as it goes, never reading: closed once 8 MiB came (or 2 s passed)
      const fast = await sendForever(target, { chunk: 65_536, everyMs: 0, read: false });
      assert.ok(fast.closed && fast.ms < 8000, `a flood, closed ${fast.closed} after ${fast.ms} ms`);
      // a trickle, read: its 431 arrives, and the connection is closed about 2 s after it, not at once
      const slow = await sendForever(target, { chunk: 1024, everyMs: 20, read: true });
      assert.equal(statusOf(slow.text), 431, slow.text);
      assert.ok(slow.closed && slow.ms > 1500 && slow.ms < 10_000, `a trickle, closed ${slow.closed} after ${slow.ms} ms`);
    }
    assert.ok(rssKb(serve.proc.pid!) - before < 100_000, 'what it dropped, it did not keep');
    assert.equal((await get(socketPath, '/api/controller')).status, 200);
    assert.equal(serve.proc.exitCode, null);
  });

  it('answers 408 and closes a connection whose headers never end within about 10 s, as documented', async () => {
    const a = await raw(sock, 'GET /api/services HTTP/1.1\r\nHost: x\r\n', 25_000);
    assert.ok(a.closed && a.ms < 15_000, `closed ${a.closed} after ${a.ms} ms`);
    assert.equal(statusOf(a.text), 408, a.text);
    assert.match(bodyOf(a.text), /"code":"REQUEST_TIMEOUT"/);
  });

  it('answers a body that never ends with 400 within about 10 s', async () => {
    const a = await raw(sock, 'POST /api/services/web/restart HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n', 20_000);
    assert.equal(statusOf(a.text), 400, a.text);
    assert.match(bodyOf(a.text), /did not arrive/);
  });

  it('survives 300 connections at once, and answers again once they are gone', async () => {
    const conns = Array.from({ length: 300 }, () => {
      const s = connect(sock, () => s.write('GET /api/services HTTP/1.1\r\nX-Slow: '));
      s.on('error', () => undefined);
      return s;
    });
    await sleep(1000);
    for (const s of conns) s.destroy();
    await box.waitFor('an answer', async () => (await get(socketPath, '/api/services')).status === 200);
    assert.equal(serve.proc.exitCode, null);
  });

  it('bounds what a pipelined flood of large answers costs: the excess is refused, memory stays bounded', async () => {
    const before = rssKb(serve.proc.pid!);
    const s = connect(sock);
    s.on('error', () => undefined);
    await new Promise((resolve) => s.once('connect', resolve));
    s.pause(); // never reads
    s.write('GET /api/services/chatty/logs?lines=1000 HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(300));
    let peak = before;
    for (let i = 0; i < 16; i++) {
      await sleep(500);
      peak = Math.max(peak, rssKb(serve.proc.pid!));
    }
    s.destroy();
    assert.ok(peak - before < 150_000, `upk serve grew by ${Math.round((peak - before) / 1024)} MiB for one connection`);
    assert.equal((await get(socketPath, '/api/controller')).status, 200);
  });

  it('closes a connection that never reads a large answer', async () => {
    const s = connect(sock);
    s.on('error', () => undefined);
    await new Promise((resolve) => s.once('connect', resolve));
    s.pause();
    s.write('GET /api/services/chatty/logs?lines=1000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(35_000);
    // read now: an answer cut short (the server gave up on it), not the whole of it
    const got = await new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('close', () => resolve(text));
      setTimeout(() => {
        s.destroy();
        resolve(text);
      }, 5000);
      s.resume();
    });
    const length = Number(/content-length: (\d+)/i.exec(got)?.[1]);
    assert.ok(bodyOf(got).length < length, `the whole answer (${length} bytes) still waited after 35 s`);
  });

  it('refuses a change from another Origin, case aside', async () => {
    const foreign = await raw(
      tcp(),
      `POST /api/services/nosuch/stop HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nOrigin: http://127.0.0.1.evil.example:${port}\r\n\r\n`,
    );
    assert.equal(statusOf(foreign.text), 403);
    const same = await raw(
      tcp(),
      `POST /api/services/nosuch/stop HTTP/1.1\r\nHost: LOCALHOST:${port}\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nOrigin: http://localhost:${port}\r\n\r\n`,
    );
    assert.equal(statusOf(same.text), 404, same.text);
  });

  it('answers 502 when the controller is SIGKILLed mid-request, and lives on', async () => {
    const ctl = JSON.parse((await get(socketPath, '/api/controller')).body) as { pid: number };
    const pending = raw(sock, 'POST /api/services/web/actions/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 30_000);
    await sleep(700);
    process.kill(ctl.pid, 'SIGKILL');
    const a = await pending;
    assert.equal(statusOf(a.text), 502, a.text);
    assert.match(bodyOf(a.text), /"code":"INTERRUPTED"/);
    await box.startController();
    await box.waitFor('answers again', async () => (await get(socketPath, '/api/services')).status === 200, 20_000);
  });

  describe('its options and files', () => {
    it('exits at once on a bad --listen, with no stack trace', async () => {
      for (const listen of ['70000', 'abc', ':::', '[::1]:99999', '']) {
        const s = startServe(box, ['--listen', listen]);
        assert.equal(await exitWithin(s, 10_000), 2, listen);
        assert.match(s.err(), /expected \[HOST:\]PORT/);
      }
    });

    it('exits, removing its socket, when the port of --listen is taken', async () => {
      const other = join(box.dir, 'other.sock');
      const s = startServe(box, ['--socket', other, '--listen', `127.0.0.1:${port}`]);
      const code = await exitWithin(s, 10_000);
      if (code === 'running') await stopServe(s);
      assert.equal(code, 2, s.err());
      assert.match(s.err(), /the port is in use/);
      assert.equal(existsSync(other), false);
    });

    it('says why it cannot listen on a socket, with no stack trace', async () => {
      const s = startServe(box, ['--socket', join(box.dir, 'no-such-dir', 'api.sock')]);
      assert.equal(await exitWithin(s, 10_000), 2, s.err());
      assert.doesNotMatch(s.err(), /\n\s+at /);
    });

    it('never replaces a file that is not a socket', async () => {
      const precious = join(box.dir, 'precious.txt');
      writeFileSync(precious, 'keep me');
      const s = startServe(box, ['--socket', precious]);
      const code = await exitWithin(s, 10_000);
      if (code === 'running') await stopServe(s);
      assert.equal(readFileSync(precious, 'utf8'), 'keep me');
      assert.equal(code, 2, s.err());
    });

    it('refuses a socket path too long for a Unix socket (not one cut short)', async () => {
      const long = join(box.dir, `${'x'.repeat(120)}.sock`);
      const s = startServe(box, ['--socket', long]);
      const code = await exitWithin(s, 10_000);
      if (code === 'running') await stopServe(s);
      assert.equal(code, 2, s.err());
    });

    it('replaces a stale socket file, and refuses one another server answers on', async () => {
      const stale = join(box.dir, 'stale.sock');
      const first = startServe(box, ['--socket', stale]);
      await first.ready;
      first.proc.kill('SIGKILL');
      await first.exited;
      assert.ok(existsSync(stale));
      const second = startServe(box, ['--socket', stale]);
      await second.ready;
      assert.equal(statSync(stale).mode & 0o777, 0o600);
      const third = startServe(box, ['--socket', stale]);
      assert.equal(await exitWithin(third, 10_000), 2);
      assert.match(third.err(), /another program answers/);
      await stopServe(second);
      assert.equal(existsSync(stale), false);
    });

    it('on SIGTERM takes no more requests, answers those in flight within 5 s, ends streams, and exits', async () => {
      const path = join(box.dir, 'term.sock');
      const s = startServe(box, ['--socket', path]);
      await s.ready;
      const brief = raw({ path }, 'POST /api/services/web/actions/brief HTTP/1.1\r\nHost: x\r\n\r\n', 30_000);
      const pending = raw({ path }, 'POST /api/services/web/actions/slow HTTP/1.1\r\nHost: x\r\n\r\n', 30_000);
      const stream = raw({ path }, 'GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n', 30_000);
      const slow = connect(path, () => slow.write('GET /api/services HTTP/1.1\r\nHost'));
      slow.on('error', () => undefined);
      await sleep(300);
      const signalled = Date.now();
      s.proc.kill('SIGTERM');
      await sleep(200);
      assert.equal(existsSync(path), false, 'the socket is gone at once: no new request');
      const answered = await brief;
      assert.equal(statusOf(answered.text), 200, answered.text);
      assert.match(bodyOf(answered.text), /done-brief/, 'the request in flight was answered');
      const ended = await stream;
      assert.ok(ended.closed && ended.ms < 3000, `the stream ended at once (${ended.ms} ms)`);
      assert.equal(await exitWithin(s, 8000), 0);
      const exitedAfter = Date.now() - signalled;
      assert.ok(exitedAfter >= 4500 && exitedAfter < 8000, `it waited its 5 s grace for the slow request, no more (${exitedAfter} ms)`);
      const cut = await pending;
      assert.ok(cut.closed && statusOf(cut.text) === 0, 'the slow one, past the grace, is closed unanswered');
      slow.destroy();
    });

    it('refuses token files that are no token: too open, empty, a symbolic link, a FIFO', async () => {
      const dir = join(box.dir, 'tokens');
      spawnSync('mkdir', ['-m', '700', dir]);
      const files: [string, () => void][] = [
        ['open', () => writeFileSync(join(dir, 'open'), 'A'.repeat(43), { mode: 0o644 })],
        ['empty', () => writeFileSync(join(dir, 'empty'), '', { mode: 0o600 })],
        ['link', () => spawnSync('ln', ['-s', join(box.stateDir, 'http-token'), join(dir, 'link')])],
        ['fifo', () => spawnSync('mkfifo', ['-m', '600', join(dir, 'fifo')])],
      ];
      for (const [name, make] of files) {
        make();
        const s = startServe(box, ['--listen', '127.0.0.1:0', '--token-file', join(dir, name)]);
        const code = await exitWithin(s, 10_000);
        if (code === 'running') await stopServe(s);
        assert.equal(code, 2, `${name}: ${s.err()}`);
        assert.doesNotMatch(s.err(), /\n\s+at /);
      }
    });
  });
});
