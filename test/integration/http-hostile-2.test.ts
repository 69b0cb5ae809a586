// The HTTP API attacked again, in its newest parts: the route arguments (route-args.ts), who asked
// (requester.ts, libclient's onBehalfOf), /metrics with the supervision's counters, the graceful stop
// of `upk serve`, /api/openapi.json, and createHandler's token. Real processes: a controller and
// `upk serve` on a Unix socket and a TCP port; raw sockets where a client library would tidy up.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type NetConnectOpts } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHandler } from '../../clients/http/index.js';
import { exposition, metricFamilies, type HostFacts } from '../../clients/http/metrics.js';
import { ErrorCode, UpkError, type ControllerStatus, type ServiceStatus } from '../../libclient/index.js';
import { parse } from '../helpers/prometheus.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';
import { exitWithin, raw, servePort, startServe, stopServe, type Serve } from '../helpers/serve.js';

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const bodyOf = (answer: string): string => answer.slice(answer.indexOf('\r\n\r\n') + 4);
const request = (line: string, headers = ''): string => `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`;

describe('the HTTP API attacked again (upk serve)', { timeout: 240_000 }, () => {
  const box = new Sandbox('httphostile2');
  const socketPath = join(box.dir, 'api.sock');
  const sock: NetConnectOpts = { path: socketPath };
  let serve: Serve;
  let port = 0;
  let token = '';
  const tcp = (): NetConnectOpts => ({ host: '127.0.0.1', port });
  /** The requesters of the last `n` requests recorded, newest first. */
  const requesters = (n: number): string[] => {
    const db = box.db();
    try {
      return (db.prepare('SELECT requester FROM request_log ORDER BY id DESC LIMIT ?').all(n) as { requester: string }[]).map(
        (r) => r.requester,
      );
    } finally {
      db.close();
    }
  };

  before(async () => {
    box.writeServices({
      web: {
        ExecStart: 'sleep 300',
        MinUptime: 0.1,
        InitialState: 'running',
        CustomActions: { ok: 'true', slow: 'sleep 20', brief: 'sleep 1; echo done-brief' },
      },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    serve = startServe(box, ['--socket', socketPath, '--listen', '127.0.0.1:0']);
    port = servePort(await serve.ready);
    token = readFileSync(join(box.stateDir, 'http-token'), 'utf8').trim();
  });
  after(async () => {
    if (serve) await stopServe(serve);
    await box.cleanup();
  });

  describe('route arguments', () => {
    it('refuses a query parameter given twice when the route takes one value, naming it; a repeatable one may repeat', async () => {
      // A proxy in front may have checked the other value (as with two Authorization headers).
      const cases: [string, string][] = [
        ['GET /api/events?limit=5&limit=99999999', 'limit'],
        ['GET /api/events?after=1&after=2', 'after'],
        ['GET /api/events?service=web&service=other', 'service'],
        ['GET /api/services/web/logs?lines=1&lines=2000', 'lines'],
        ['GET /api/trend?metric=cpu&metric=rss&bucket=1h&since=2026-01-01T00:00:00Z', 'metric'],
        ['GET /api/stream?after=1&after=2', 'after'],
      ];
      for (const [line, name] of cases) {
        const a = await raw(sock, request(line));
        assert.equal(statusOf(a.text), 400, `${line}: ${a.text}`);
        assert.match(bodyOf(a.text), new RegExp(`query parameter ${name}: given 2 times`), line);
      }
      // `service` of the stream and the trend repeats; `type` is comma-separated and may repeat too
      const stream = await raw(sock, request('GET /api/stream?service=web&service=web&type=exited&type=spawned'), 1500);
      assert.equal(statusOf(stream.text), 200, stream.text);
      const since = new Date(Date.now() - 3600_000).toISOString();
      const trend = await raw(sock, request(`GET /api/trend?metric=cpu&bucket=1h&since=${since}&service=web&service=web`));
      assert.equal(statusOf(trend.text), 200, trend.text);
    });

    it('answers malformed, huge, negative, non-decimal and unicode numbers, wrong-shaped bodies and prototype keys with 400 or as if absent', async () => {
      const queries: [string, number][] = [
        ['GET /api/events?limit=-1', 400],
        ['GET /api/events?limit=-0', 400],
        ['GET /api/events?limit=0x10', 400],
        ['GET /api/events?limit=1e3', 400],
        ['GET /api/events?limit=%EF%BC%95', 400], // a fullwidth 5
        ['GET /api/events?limit=%D9%A5', 400], // an Arabic-Indic 5
        ['GET /api/events?limit=+5', 400],
        ['GET /api/events?limit=5.0', 400],
        ['GET /api/events?limit=', 400],
        [`GET /api/events?after=${'9'.repeat(400)}`, 400],
        ['GET /api/events?after=00000000000000000000000000000001', 200],
        ['GET /api/events?__proto__=1&constructor=2&toString=3&hasOwnProperty=4', 200],
        ['GET /api/trend?metric=constructor&bucket=1h&since=2026-01-01T00:00:00Z', 400],
        ['GET /api/trend?metric=toString&bucket=1h&since=2026-01-01T00:00:00Z', 400],
      ];
      for (const [line, status] of queries) {
        const a = await raw(sock, request(line));
        assert.equal(statusOf(a.text), status, `${line}: ${a.text.slice(0, 300)}`);
        assert.doesNotMatch(a.text, /\n\s+at /, line);
      }
      const bodies: [string, string, number][] = [
        ['restart', '[]', 400],
        ['restart', '"overlap"', 400],
        ['restart', '1', 400],
        ['restart', 'null', 400],
        ['restart', '{"overlap":"true"}', 400],
        ['restart', '{"overlap":null}', 400],
        ['restart', '{"overlap":true,"overlap":"x"}', 400], // JSON.parse keeps the last
        ['restart', '{"__proto__":{"overlap":"x"},"constructor":{"prototype":{"polluted":1}}}', 404],
        ['signal', '{"__proto__":{"signal":"KILL"}}', 400], // signal stays absent: required
        ['signal', '{"signal":9}', 400],
        ['signal', '{"signal":["KILL"]}', 400],
        ['signal', '{"signal":{"toString":"KILL"}}', 400],
        ['signal', '{"signal":"KILL","group":"yes"}', 400],
        ['restart', `{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, 404], // deep, yet under 64 KiB
        ['restart', '\uFEFF{}', 404],
      ];
      for (const [verb, body, status] of bodies) {
        const a = await raw(
          sock,
          `POST /api/services/nosuch/${verb} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        assert.equal(statusOf(a.text), status, `${verb} ${body.slice(0, 80)}: ${a.text.slice(0, 300)}`);
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype polluted');
      // Last-Event-ID: repeated (Node joins them), oversized, not a number
      const headers: [string, number][] = [
        ['Last-Event-ID: 5\r\nLast-Event-ID: 7\r\n', 400],
        [`Last-Event-ID: ${'9'.repeat(8000)}\r\n`, 400],
        ['Last-Event-ID: 1e3\r\n', 400],
        ['Last-Event-ID: -1\r\n', 400],
        [`Last-Event-ID: ${'9'.repeat(20_000)}\r\n`, 431],
      ];
      for (const [header, status] of headers) {
        const a = await raw(sock, request('GET /api/stream', header), 1500);
        assert.equal(statusOf(a.text), status, `${header.slice(0, 40)}: ${a.text.slice(0, 200)}`);
      }
      assert.equal(serve.proc.exitCode, null);
    });
  });

  describe('who asked (client_requests.requester)', () => {
    const asAgent = async (agent: Buffer): Promise<number> => {
      const head = Buffer.concat([
        Buffer.from('POST /api/services/web/actions/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: '),
        agent,
        Buffer.from('\r\n\r\n'),
      ]);
      return statusOf((await raw(sock, head)).text);
    };

    it('records a UTF-8 User-Agent as UTF-8, invalid bytes as Latin-1 without controls, and never half a character at the cut', async () => {
      assert.equal(await asAgent(Buffer.from('curl/8 é € 😀', 'utf8')), 200);
      assert.equal(await asAgent(Buffer.from([0x63, 0xff, 0xfe, 0x80, 0x9f, 0x41])), 200); // no UTF-8: c ÿ þ, two C1 controls, A
      assert.equal(await asAgent(Buffer.from(`${'a'.repeat(118)}😀bcd`, 'utf8')), 200);
      assert.equal(await asAgent(Buffer.from(`${'b'.repeat(15_000)}`, 'utf8')), 200);
      assert.equal(await asAgent(Buffer.from('tab\there', 'utf8')), 200);
      const [tab, long, cut, latin1, utf8] = requesters(5);
      assert.equal(utf8, 'unix socket (curl/8 é € 😀)');
      assert.equal(latin1, 'unix socket (cÿþA)');
      assert.equal(cut, `unix socket (${'a'.repeat(118)}…)`);
      assert.equal(long, `unix socket (${'b'.repeat(119)}…)`);
      assert.equal(tab, 'unix socket (tabhere)');
      // control characters and a bare CR never reach it: Node refuses the request
      for (const bad of [Buffer.from('ctl\x01x'), Buffer.from('a\rb'), Buffer.from('del\x7f')]) assert.equal(await asAgent(bad), 400);
    });

    it('names each of many peers: 60 connections at once, each recorded with its own address and port', async () => {
      const used = await Promise.all(
        Array.from(
          { length: 60 },
          () =>
            new Promise<number>((resolve, reject) => {
              let port = 0;
              const s = connect(tcp(), () => {
                port = s.localPort!;
                s.write(request('POST /api/services/web/actions/ok', `Authorization: Bearer ${token}\r\nUser-Agent: peer\r\n`));
              });
              let got = '';
              s.on('data', (c: Buffer) => (got += c.toString('latin1')));
              s.on('error', reject);
              s.on('close', () => (statusOf(got) === 200 ? resolve(port) : reject(new Error(got))));
            }),
        ),
      );
      const recorded = requesters(60).map((r) => Number(/^http 127\.0\.0\.1:(\d+) \(peer\)$/.exec(r)?.[1]));
      assert.deepEqual(
        recorded.sort((a, b) => a - b),
        used.sort((a, b) => a - b),
      );
    });

    it('onBehalfOf refuses a requester that is not well-formed Unicode, as the controller does, and the connection stays', async () => {
      const c = await box.client();
      const pid = c.controller.pid;
      for (const bad of ['\ud800', 'a\udc00b', `${'x'.repeat(199)}\ud83d`]) {
        assert.throws(
          () => c.onBehalfOf(bad),
          (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && /well-formed|surrogate/.test(err.message),
          JSON.stringify(bad),
        );
      }
      // (a client that skips the check cannot send half a character either: UTF-8 on the wire makes it U+FFFD)
      // (null is taken as no requester: the client itself asks)
      for (const bad of [123, ['a'], {}, '', 'x'.repeat(201), 'a\nb', 'a\u2028b'])
        await assert.rejects(
          c.call('action', { service: 'web', action: 'ok', requester: bad as string }),
          (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST,
          JSON.stringify(bad),
        );
      assert.equal((await c.onBehalfOf('a well-formed 😀 requester').action('web', 'ok')).code, 0);
      assert.equal(requesters(1)[0], 'a well-formed 😀 requester');
      assert.equal(c.controller.pid, pid, 'the same connection, the same controller');
      assert.equal((await c.list()).length, 1);
    });
  });

  describe('createHandler', () => {
    it('refuses a token that no client could send (a space, not ASCII, empty), and takes one with + / =', async () => {
      for (const bad of ['two words', 'pässword', 'tab\there', '', ' ', 'new\nline'])
        assert.throws(() => createHandler({ token: bad }), /token/, JSON.stringify(bad));
      const odd = 'abc+def/ghi~jkl.mno_pqr-stu=';
      const handler = createHandler({ token: odd, connect: { config: box.configFile } });
      const server: Server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const at = { host: '127.0.0.1', port: (server.address() as { port: number }).port };
        const ok = await raw(at, request('GET /api/services', `Authorization: Bearer ${odd}\r\n`));
        assert.equal(statusOf(ok.text), 200, ok.text);
        const no = await raw(at, request('GET /api/services', `Authorization: Bearer abc+def/ghi~jkl.mno_pqr-stu\r\n`));
        assert.equal(statusOf(no.text), 401);
      } finally {
        handler.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });

  describe('/api/openapi.json', () => {
    it('on the Unix socket without a token, on TCP only with it; odd methods 405, HEAD as GET without the body; big Accept headers ignored', async () => {
      const doc = await raw(sock, request('GET /api/openapi.json'));
      assert.equal(statusOf(doc.text), 200);
      assert.equal((JSON.parse(bodyOf(doc.text)) as { openapi: string }).openapi.slice(0, 3), '3.1');
      assert.equal(statusOf((await raw(tcp(), request('GET /api/openapi.json'))).text), 401);
      assert.equal(statusOf((await raw(tcp(), request('GET /api/openapi.json', 'Authorization: Bearer nope\r\n'))).text), 401);
      assert.equal(statusOf((await raw(tcp(), request('GET /api/openapi.json', `Authorization: Bearer ${token}\r\n`))).text), 200);
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND']) {
        const a = await raw(sock, request(`${method} /api/openapi.json`));
        assert.equal(statusOf(a.text), 405, `${method}: ${a.text.slice(0, 200)}`);
        assert.match(a.text, /\r\nallow: GET, HEAD\r\n/i, method);
      }
      // HEAD as GET (RFC 9110), without the body
      const head = await raw(sock, request('HEAD /api/openapi.json'));
      assert.equal(statusOf(head.text), 200, head.text.slice(0, 200));
      assert.match(head.text, /content-length: \d{4,}/i);
      assert.equal(bodyOf(head.text), '', 'no body');
      const accept = `Accept: ${Array.from({ length: 600 }, (_, i) => `application/x-${i};q=0.${i % 10}`).join(', ')}\r\n`;
      assert.ok(accept.length > 14_000);
      const big = await raw(sock, request('GET /api/openapi.json', accept));
      assert.equal(statusOf(big.text), 200);
      assert.match(big.text, /content-type: application\/json/i);
      const html = await raw(sock, request('GET /api/openapi.json', 'Accept: text/html\r\n'));
      assert.equal(statusOf(html.text), 200, 'JSON whatever is asked: there is nothing else');
    });
  });

  describe('the graceful stop', () => {
    it('after SIGTERM, a connection kept alive gets no new request served: 503 SHUTTING_DOWN, and it is closed', async () => {
      const path = join(box.dir, 'term.sock');
      const s = startServe(box, ['--socket', path]);
      await s.ready;
      // a slow request keeps the grace going; another answered during it leaves its connection open
      const slow = raw({ path }, 'POST /api/services/web/actions/slow HTTP/1.1\r\nHost: x\r\n\r\n', 30_000);
      const kept = connect(path);
      let got = '';
      kept.on('data', (c: Buffer) => (got += c.toString('latin1')));
      kept.on('error', () => undefined);
      const keptClosed = new Promise<void>((resolve) => kept.once('close', () => resolve()));
      await new Promise((resolve) => kept.once('connect', resolve));
      kept.write('POST /api/services/web/actions/brief HTTP/1.1\r\nHost: x\r\n\r\n');
      await sleep(300);
      s.proc.kill('SIGTERM');
      await box.waitFor('the answer in flight', () => got.includes('done-brief'), 5000);
      assert.match(got, /\r\nConnection: close\r\n/i, 'the answer in flight says the connection closes');
      const answered = got.length;
      if (!kept.destroyed) kept.write('POST /api/services/web/stop HTTP/1.1\r\nHost: x\r\n\r\n');
      await Promise.race([keptClosed, sleep(3000)]);
      const more = got.slice(answered);
      assert.ok(more === '' || statusOf(more) === 503, `a new request after SIGTERM is not served: ${more.slice(0, 300)}`);
      assert.ok(kept.destroyed || kept.readableEnded, 'its connection is closed');
      kept.destroy();
      assert.equal((await (await box.client()).status('web'))[0]!.state, 'running', 'the stop asked after SIGTERM was not done');
      assert.equal(await exitWithin(s, 8000), 0);
      await slow;
    });

    it('after SIGTERM, requests pipelined before it on one connection are all answered, then the connection closes', async () => {
      const path = join(box.dir, 'pipe.sock');
      const s = startServe(box, ['--socket', path]);
      await s.ready;
      const pipelined = raw(
        { path },
        'POST /api/services/web/actions/brief HTTP/1.1\r\nHost: x\r\n\r\nGET /api/controller HTTP/1.1\r\nHost: x\r\n\r\n',
        15_000,
      );
      await sleep(300);
      s.proc.kill('SIGTERM');
      const a = await pipelined;
      const answers = a.text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
      assert.deepEqual(answers, ['HTTP/1.1 200', 'HTTP/1.1 200'], a.text);
      assert.match(a.text, /done-brief/);
      assert.ok(a.closed, 'then the connection is closed');
      assert.equal(await exitWithin(s, 8000), 0);
    });

    it('signals in quick succession stop it at once, whatever is in flight; a stop during start-up leaves no socket', async () => {
      // the second at once after the first (both wait together for the event loop; two of one kind
      // at once are one for the kernel), or 20 ms later
      for (const [first, second, gap] of [
        ['SIGINT', 'SIGTERM', 0],
        ['SIGTERM', 'SIGINT', 0],
        ['SIGTERM', 'SIGTERM', 20],
        ['SIGINT', 'SIGTERM', 20],
        ['SIGTERM', 'SIGINT', 20],
      ] as const) {
        const path = join(box.dir, 'quick.sock');
        const s = startServe(box, ['--socket', path]);
        await s.ready;
        const inFlight = raw({ path }, 'POST /api/services/web/actions/slow HTTP/1.1\r\nHost: x\r\n\r\n', 20_000);
        const stream = raw({ path }, 'GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n', 20_000);
        await sleep(500);
        const t0 = Date.now();
        s.proc.kill(first);
        if (gap > 0) await sleep(gap);
        s.proc.kill(second);
        const code = await exitWithin(s, 3000);
        if (code === 'running') await stopServe(s);
        assert.equal(code, 0, `${first} then ${second} ${gap} ms later: ${s.err()}`);
        assert.ok(Date.now() - t0 < 2000, `${first} then ${second} ${gap} ms later: stopped at once (${Date.now() - t0} ms)`);
        assert.equal(existsSync(path), false);
        assert.ok((await inFlight).closed && (await stream).closed);
      }
      for (const delay of [0, 100, 200, 300, 500]) {
        const path = join(box.dir, `early${delay}.sock`);
        const s = startServe(box, ['--socket', path, '--listen', '127.0.0.1:0']);
        await sleep(delay);
        s.proc.kill('SIGTERM');
        const code = await exitWithin(s, 8000);
        if (code === 'running') await stopServe(s);
        assert.notEqual(code, 'running', `SIGTERM ${delay} ms after the start`);
        assert.equal(existsSync(path), false, `SIGTERM ${delay} ms after the start: no socket left`);
      }
    });
  });

  describe('/metrics', () => {
    const NO_HOST: HostFacts = { rss: () => null, databaseBytes: () => null };
    const status = (stats: unknown): ControllerStatus =>
      ({
        pid: 1,
        version: '0.1.0',
        protocol: 2,
        startedAt: '2026-12-06T10:00:00.000Z',
        socket: '/s/controller.sock',
        stateDir: '/s',
        configFile: null,
        uptimeMs: 1000,
        ready: true,
        services: 1,
        buddies: 1,
        clients: 1,
        maxClients: 1000,
        configIssues: [],
        problems: [],
        ...(stats === undefined ? {} : { stats }),
      }) as unknown as ControllerStatus;
    const web = {
      name: 'web',
      uuid: 'uuid-web',
      state: 'running',
      desired: 'running',
      started: 'not a time',
      restarts: 0,
      failures: 0,
      lastExit: { code: 3, signal: null, at: '2026-12-06T10:00:00.000Z' },
      buddyPid: null,
      usage: { cpu: 12.5, rss: 2 ** 60, processes: 1 },
      health: null,
    } as unknown as ServiceStatus;
    /** What upk serve gets: the controller's answer through JSON, where NaN and the infinities become null. */
    const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

    it('NaN, infinities and huge numbers as they come through JSON, or stats of another shape: still a scrape a strict parser takes', () => {
      const odd = [
        {
          eventsStored: NaN,
          pollRounds: 1e300,
          pollSeconds: Infinity,
          pollBuckets: [
            [0.001, 1],
            [0.01, NaN],
          ],
          buddyPolls: Number.MAX_SAFE_INTEGER * 4,
          eventsPending: -Infinity,
          cpuMs: { 'uuid-web': NaN },
        },
        { eventsStored: 1 }, // a controller whose stats have other fields
        { eventsStored: 1, pollRounds: 2, pollSeconds: 0.5, pollBuckets: null, buddyPolls: 2, eventsPending: 0, cpuMs: null },
        'stats',
        undefined, // a controller from before them
      ];
      for (const stats of odd) {
        const families = metricFamilies(wire([web]), wire(status(stats)), NO_HOST);
        const text = exposition(families);
        const { samples } = parse(text);
        assert.equal(samples.find((s) => s.name === 'upkeeper_controller_up')?.value, 1, JSON.stringify(stats));
        assert.equal(samples.find((s) => s.name === 'upkeeper_service_memory_bytes')?.value, 2 ** 60);
      }
    });
  });
});
