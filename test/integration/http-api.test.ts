// The HTTP API against a real controller: `upk serve` as a real process, on a real Unix socket and a
// real TCP port, with its token file; changes POST only, errors with their codes and statuses.
import assert from 'node:assert/strict';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHandler } from '../../clients/http/index.js';
import { Sandbox } from '../helpers/sandbox.js';
import { servePort, startServe, stopServe, type Serve } from '../helpers/serve.js';

interface Answer {
  status: number;
  /** The port this end of a TCP connection had (the peer's port, as upk serve saw it). */
  localPort: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

type Target = { socketPath: string } | { port: number };

/** One request; the answer's body parsed as JSON. */
function call(
  target: Target,
  method: string,
  path: string,
  options: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const req = request(
      { ...('port' in target ? { host: '127.0.0.1', port: target.port } : target), method, path, headers, timeout: 20_000 },
      (res) => {
        const localPort = res.socket.localPort; // (the socket goes back to the agent by the end)
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({
              status: res.statusCode!,
              localPort,
              headers: res.headers,
              body: JSON.parse(text) as Record<string, unknown>,
            });
          } catch {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const code = (a: Answer): unknown => (a.body.error as { code?: string } | undefined)?.code;

describe('the HTTP API (upk serve)', { timeout: 120_000 }, () => {
  const box = new Sandbox('http');
  let serve: Serve;
  let port = 0;
  let token = '';
  const socketPath = join(box.dir, 'api.sock');
  const sock: Target = { socketPath };
  const tcp = (): Target => ({ port });

  before(async () => {
    box.writeServices({
      web: { ExecStart: 'sleep 300', MinUptime: 0.1, InitialState: 'running', CustomActions: { hello: 'echo "hello"' } },
      idle: { ExecStart: 'sleep 300', MinUptime: 0.1 },
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

  it('keeps the token in StateDir/http-token (0600) and the socket 0600', () => {
    assert.equal(statSync(join(box.stateDir, 'http-token')).mode & 0o777, 0o600);
    assert.equal(statSync(socketPath).mode & 0o777, 0o600);
    assert.match(token, /^[A-Za-z0-9_-]{40,}$/);
  });

  it('answers on the Unix socket without a token, and refuses TCP requests without the right one', async () => {
    const viaSocket = await call(sock, 'GET', '/api/services');
    assert.equal(viaSocket.status, 200);
    assert.deepEqual((viaSocket.body.services as { name: string }[]).map((s) => s.name).sort(), ['idle', 'web']);
    for (const t of [undefined, '', 'wrong', token.slice(1), `${token}x`]) {
      const refused = await call(tcp(), 'GET', '/api/services', t === undefined ? {} : { token: t });
      assert.equal(refused.status, 401, `token ${JSON.stringify(t)}`);
      assert.equal(code(refused), 'UNAUTHORIZED');
      assert.match(String(refused.headers['www-authenticate']), /^Bearer/);
      assert.equal(refused.body.services, undefined);
    }
    const accepted = await call(tcp(), 'GET', '/api/services/web', { token });
    assert.equal(accepted.status, 200);
    assert.equal((accepted.body.service as { state: string }).state, 'running');
  });

  it('changes only with POST: a GET of a change is 405 and changes nothing', async () => {
    const refused = await call(tcp(), 'GET', '/api/services/web/stop', { token });
    assert.equal(refused.status, 405);
    assert.equal(code(refused), 'METHOD_NOT_ALLOWED');
    assert.equal(refused.headers.allow, 'POST');
    assert.equal((await box.waitForState('web', 'running')).state, 'running');
    // a change from another site's page (its Origin) is refused even with the token
    const foreign = await call(tcp(), 'POST', '/api/services/web/stop', { token, headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(code(foreign), 'FORBIDDEN');
    assert.equal(((await call(sock, 'GET', '/api/services/web')).body.service as { state: string }).state, 'running');
  });

  it('stops and starts a service with POST, answering its outcome', async () => {
    // A User-Agent with a tab (a control character HTTP allows) and longer than upk serve keeps.
    const agent = `audit-test/1.0\t(${'x'.repeat(300)})`;
    const stopped = await call(tcp(), 'POST', '/api/services/web/stop', { token, headers: { 'user-agent': agent } });
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.equal((stopped.body.outcome as { ok: boolean; status: { state: string } }).status.state, 'stopped');
    // Recorded in the audit trail as every client's request is, named by the listener it came in on,
    // with who asked: the peer's address and its User-Agent (control characters removed, cut short).
    type Row = { client: string; requester: string | null; params: string; ok: number };
    const last = (request: string): Row | undefined => {
      const db = box.db();
      try {
        return db
          .prepare(`SELECT client, requester, params, ok FROM client_requests WHERE request = ? ORDER BY id DESC LIMIT 1`)
          .get(request) as Row | undefined;
      } finally {
        db.close();
      }
    };
    const audited = last('stop');
    assert.equal(audited?.client, 'upk serve (http)');
    assert.equal(audited?.ok, 1);
    assert.ok(stopped.localPort !== undefined && stopped.localPort !== port);
    assert.match(audited.requester ?? '', new RegExp(`^http 127\\.0\\.0\\.1:${stopped.localPort} \\(audit-test/1\\.0\\(x{50,}…\\)$`));
    assert.ok(audited.requester!.length <= 200, `at most 200 characters: ${audited.requester!.length}`);
    assert.equal(audited.params, '{"service":"web"}', 'the requester in its own column, not among the params');
    const started = await call(sock, 'POST', '/api/services/web/start', { body: '{}' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.deepEqual(last('start'), { client: 'upk serve (unix socket)', requester: 'unix socket', params: '{"service":"web"}', ok: 1 });
    assert.equal((started.body.outcome as { status: { state: string; pid: number } }).status.state, 'running');
    const restarted = await call(sock, 'POST', '/api/services/web/restart', { body: '{"overlap": false}' });
    assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
    assert.notEqual(
      (restarted.body.outcome as { status: { pid: number } }).status.pid,
      (started.body.outcome as { status: { pid: number } }).status.pid,
    );
  });

  it('runs a custom action and reads events, as upk does', async () => {
    const action = await call(sock, 'POST', '/api/services/web/actions/hello');
    assert.equal(action.status, 200, JSON.stringify(action.body));
    assert.equal((action.body.result as { code: number }).code, 0);
    const events = await call(sock, 'GET', '/api/events?service=web&type=spawned,exited&limit=50');
    assert.equal(events.status, 200);
    const list = events.body.events as { id: number; type: string; service: string }[];
    assert.ok(list.length >= 2 && list.every((e) => e.service === 'web' && ['spawned', 'exited'].includes(e.type)), JSON.stringify(list));
    const after = await call(sock, 'GET', `/api/events?service=web&after=${list.at(-1)!.id}`);
    assert.ok((after.body.events as { id: number }[]).every((e) => e.id > list.at(-1)!.id));
  });

  it('answers errors with their code and status: 404, 400, 413, 409', async () => {
    const cases: [string, string, string | undefined, number, string][] = [
      ['GET', '/api/nothing', undefined, 404, 'NOT_FOUND'],
      ['GET', '/api/services/nosuch', undefined, 404, 'NO_SUCH_SERVICE'],
      ['POST', '/api/services/nosuch/start', undefined, 404, 'NO_SUCH_SERVICE'],
      ['POST', '/api/services/web/actions/nosuch', undefined, 404, 'NO_SUCH_ACTION'],
      ['GET', '/api/services/..%2Fetc', undefined, 400, 'BAD_REQUEST'],
      ['GET', '/api/events?limit=0', undefined, 400, 'BAD_REQUEST'],
      ['GET', '/api/events?since=yesterday-ish', undefined, 400, 'BAD_REQUEST'],
      ['POST', '/api/services/web/restart', '{"overlap": "yes"}', 400, 'BAD_REQUEST'],
      ['POST', '/api/services/web/restart', '{not json', 400, 'BAD_REQUEST'],
      ['POST', '/api/services/web/restart', '[1]', 400, 'BAD_REQUEST'],
      ['POST', '/api/services/web/signal', '{}', 400, 'BAD_REQUEST'],
      ['POST', '/api/services/web/start', 'x'.repeat(70_000), 413, 'PAYLOAD_TOO_LARGE'],
      ['POST', '/api/services/idle/signal', '{"signal": "HUP"}', 409, 'NOT_RUNNING'],
    ];
    for (const [method, path, body, status, expected] of cases) {
      const a = await call(sock, method, path, body === undefined ? {} : { body });
      assert.equal(a.status, status, `${method} ${path}: ${JSON.stringify(a.body)}`);
      assert.equal(code(a), expected, `${method} ${path}`);
      assert.equal(typeof (a.body.error as { message: string }).message, 'string');
    }
  });

  it('checks the configuration files (GET /api/config/check) and reloads them with POST only', async () => {
    const clean = await call(sock, 'GET', '/api/config/check');
    assert.equal(clean.status, 200, JSON.stringify(clean.body));
    assert.equal(clean.body.ok, true);
    assert.deepEqual((clean.body.services as string[]).sort(), ['idle', 'web']);
    writeFileSync(join(box.servicesDir, 'broken.conf'), JSON.stringify({ broken: { ExecStart: 'sleep 1', MinUptime: 'soon' } }));
    try {
      const bad = await call(sock, 'GET', '/api/config/check');
      assert.equal(bad.status, 200);
      assert.equal(bad.body.ok, false);
      const issue = (bad.body.issues as { file?: string; key?: string; message: string }[]).find((i) => i.file?.endsWith('broken.conf'));
      assert.ok(issue && issue.key?.includes('MinUptime'), JSON.stringify(bad.body.issues));
      assert.equal((await call(sock, 'GET', '/api/config/reload')).status, 405);
      const refused = await call(sock, 'POST', '/api/config/reload');
      assert.equal(refused.status, 200, JSON.stringify(refused.body));
      assert.equal(refused.body.ok, false, 'a reload is all or nothing: refused');
    } finally {
      unlinkSync(join(box.servicesDir, 'broken.conf'));
    }
  });

  it('mounts as middleware: what is not under /api/ goes to next(), the rest is answered, with its own token', async () => {
    const handler = createHandler({ connect: { config: box.configFile }, token: 'middleware-token-0123456789' });
    const server = createServer((req, res) =>
      handler(req, res, () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ app: req.url }));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const own: Target = { port: (server.address() as { port: number }).port };
    try {
      assert.deepEqual((await call(own, 'GET', '/elsewhere?x=1')).body, { app: '/elsewhere?x=1' });
      assert.equal((await call(own, 'GET', '/api/services', { token })).status, 401, "upk serve's token is not this handler's");
      const answered = await call(own, 'GET', '/api/services', { token: 'middleware-token-0123456789' });
      assert.equal(answered.status, 200);
      assert.equal((answered.body.services as unknown[]).length, 2);
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('mounted after a body parser (as express.json()), takes the body it parsed', async () => {
    const handler = createHandler({ connect: { config: box.configFile } });
    // What express.json() does: read the whole body, set req.body, call the next handler.
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        (req as typeof req & { body: unknown }).body = text === '' ? {} : (JSON.parse(text) as unknown);
        handler(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const own: Target = { port: (server.address() as { port: number }).port };
    try {
      const started = Date.now();
      const refused = await call(own, 'POST', '/api/services/web/restart', { body: '{"overlap": "yes"}' });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.match(String((refused.body.error as { message: string }).message), /overlap/, 'the parsed body was read');
      assert.equal((await call(own, 'POST', '/api/services/web/signal', { body: '[1]' })).status, 400, 'a list is no body');
      const signalled = await call(own, 'POST', '/api/services/web/signal', { body: '{"signal": "CONT"}' });
      assert.equal(signalled.status, 200, JSON.stringify(signalled.body));
      assert.ok(Date.now() - started < 5000, 'no wait for a body already read');
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says the controller is not running (503), and answers again once one is', async () => {
    await box.upk(['controller', 'stop']);
    const down = await call(sock, 'GET', '/api/services');
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(code(down), 'CONTROLLER_NOT_RUNNING');
    await box.startController();
    const up = await call(sock, 'GET', '/api/services');
    assert.equal(up.status, 200, JSON.stringify(up.body));
  });
});
