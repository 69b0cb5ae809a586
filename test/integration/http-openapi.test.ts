// The OpenAPI document as a real `upk serve` serves it (GET /api/openapi.json, from the one-file
// build of upk), and real answers of a real controller checked against it with a JSON Schema
// validator: the document says what the API answers, field by field, and no field goes unsaid.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPENAPI_FILE } from '../../clients/http/openapi.js';
import { OpenApiValidator, closed, type Doc } from '../helpers/openapi.js';
import { Sandbox } from '../helpers/sandbox.js';
import { servePort, startServe, stopServe, type Serve } from '../helpers/serve.js';

interface Answer {
  status: number;
  type: string;
  text: string;
}

type Target = { socketPath: string } | { port: number };

function call(target: Target, method: string, path: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const req = request(
      { ...('port' in target ? { host: '127.0.0.1', port: target.port } : target), method, path, headers, timeout: 20_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, type: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The first SSE message of `event` a stream sends, its data parsed; the stream is closed after it. */
function firstMessage(target: Target, path: string, event: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, timeout: 20_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString('utf8');
        for (const block of text.split('\n\n').slice(0, -1)) {
          const lines = block.split('\n');
          if (!lines.includes(`event: ${event}`)) continue;
          const data = lines.find((l) => l.startsWith('data: '));
          req.destroy();
          resolve(JSON.parse(data!.slice('data: '.length)));
          return;
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject); // after the message: a promise already resolved
    req.end();
  });
}

describe('the OpenAPI document of a real upk serve', { timeout: 120_000 }, () => {
  const box = new Sandbox('openapi');
  let serve: Serve;
  let port = 0;
  let token = '';
  const sock: Target = { socketPath: join(box.dir, 'api.sock') };
  let doc: Doc;
  let open: OpenApiValidator;
  let strict: OpenApiValidator;

  /** GET `path` on the socket: its JSON, checked against the document (open, and closed to fields it does not name). */
  async function checked(method: string, path: string, status: number): Promise<unknown> {
    const a = await call(sock, method, path);
    assert.equal(a.status, status, `${method} ${path}: ${a.text.slice(0, 300)}`);
    assert.match(a.type, /^application\/json/);
    const body = JSON.parse(a.text) as unknown;
    assert.equal(open.check(path, method, status, body), null, `${method} ${path}`);
    assert.equal(strict.check(path, method, status, body), null, `${method} ${path}: a field the document does not name`);
    return body;
  }

  before(async () => {
    box.writeServices({
      web: {
        ExecStart: 'sh -c "echo hello; exec sleep 300"',
        MinUptime: 0.1,
        InitialState: 'running',
        CustomActions: { hello: 'echo hi' },
      },
      idle: { ExecStart: 'sleep 300', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    serve = startServe(box, ['--socket', sock.socketPath, '--listen', '127.0.0.1:0']);
    port = servePort(await serve.ready);
    token = readFileSync(join(box.stateDir, 'http-token'), 'utf8').trim();
  });
  after(async () => {
    if (serve) await stopServe(serve);
    await box.cleanup();
  });

  it('serves the document the build wrote at GET /api/openapi.json: the token on TCP, none on the socket', async () => {
    const refused = await call({ port }, 'GET', '/api/openapi.json');
    assert.equal(refused.status, 401);
    const onTcp = await call({ port }, 'GET', '/api/openapi.json', token);
    assert.equal(onTcp.status, 200);
    const onSocket = await call(sock, 'GET', '/api/openapi.json');
    assert.equal(onSocket.status, 200);
    doc = JSON.parse(onSocket.text) as Doc;
    assert.deepEqual(JSON.parse(onTcp.text), doc);
    assert.deepEqual(doc, JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
    assert.equal(doc.openapi, '3.1.0');
    open = new OpenApiValidator(doc);
    strict = new OpenApiValidator(closed(doc));
    assert.equal(open.check('/api/openapi.json', 'GET', 200, doc), null);
    // the 401 itself is as the document says
    assert.equal(open.check('/api/openapi.json', 'GET', 401, JSON.parse(refused.text)), null);
  });

  it('describes the real answers of the reads: services, one service, events, the controller, logs, why, the configuration', async () => {
    const list = (await checked('GET', '/api/services', 200)) as { services: { name: string }[] };
    assert.deepEqual(list.services.map((s) => s.name).sort(), ['idle', 'web']);
    await checked('GET', '/api/services/web', 200);
    await checked('GET', '/api/services/idle', 200);
    const events = (await checked('GET', '/api/events?service=web&limit=50', 200)) as { events: unknown[] };
    assert.ok(events.events.length > 0);
    await checked('GET', '/api/controller', 200);
    await checked('GET', '/api/services/web/logs?lines=5', 200);
    await checked('GET', '/api/services/web/why', 200);
    await checked('GET', '/api/config/check', 200);
    await checked(
      'GET',
      `/api/trend?metric=restarts&bucket=1h&since=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}`,
      200,
    );
  });

  it('describes the real answers of changes and of errors, each error at its status', async () => {
    await checked('POST', '/api/services/web/actions/hello', 200);
    await checked('POST', '/api/services/idle/start', 200);
    await checked('POST', '/api/services/idle/stop', 200);
    await checked('GET', '/api/services/nosuch', 404);
    await checked('GET', '/api/events?limit=0', 400);
    await checked('POST', '/api/services/web/signal', 400);
    await checked('POST', '/api/services/idle/actions/nosuch', 404);
    const bad = (await checked('GET', '/api/services/nosuch', 404)) as { error: { code: string } };
    assert.equal(bad.error.code, 'NO_SUCH_SERVICE');
  });

  it("describes the live stream's messages and the metrics' content type", async () => {
    const messages = doc.components.schemas.EventStreamMessages!;
    const status = await firstMessage(sock, '/api/stream?service=web', 'status');
    assert.ok(open.at('#/components/schemas/EventStreamMessages/properties/status')(status));
    assert.ok(messages.properties?.event && messages.properties.controller);
    const line = await firstMessage(sock, '/api/services/web/logs/stream?lines=5', 'line');
    const validLine = strict.at('#/components/schemas/LogStreamMessages/properties/line');
    assert.ok(validLine(line), JSON.stringify(validLine.errors));
    const metrics = await call(sock, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.ok(doc.paths['/metrics']!.get!.responses['200'] && 'content' in doc.paths['/metrics']!.get!.responses['200']);
    assert.deepEqual(Object.keys(doc.paths['/metrics']!.get!.responses['200'].content), [metrics.type]);
  });

  it('refuses what the API does not answer: the same validator fails on wrong answers', async () => {
    const real = JSON.parse((await call(sock, 'GET', '/api/services')).text) as { services: Record<string, unknown>[] };
    const web = real.services.find((s) => s.name === 'web')!;
    assert.equal(open.check('/api/services', 'GET', 200, real), null);
    const wrong = [
      { services: [{ ...web, state: 'dozing' }] },
      { services: [{ ...web, pid: 'twelve' }] },
      { services: [Object.fromEntries(Object.entries(web).filter(([k]) => k !== 'uuid'))] },
      { service: web },
    ];
    for (const body of wrong) assert.notEqual(open.check('/api/services', 'GET', 200, body), null, JSON.stringify(body).slice(0, 200));
    // a field the document does not name passes the open document, not the closed one
    const extra = { services: [{ ...web, mood: 'fine' }] };
    assert.equal(open.check('/api/services', 'GET', 200, extra), null);
    assert.match(strict.check('/api/services', 'GET', 200, extra) ?? '', /additional properties/);
    // an error of one status is not an answer of another, nor is an error with a code upkeeper has not
    const missing = JSON.parse((await call(sock, 'GET', '/api/services/nosuch')).text) as unknown;
    assert.notEqual(open.check('/api/services/nosuch', 'GET', 400, missing), null);
    assert.notEqual(open.check('/api/services/nosuch', 'GET', 404, { error: { code: 'NO_SUCH_THING', message: 'x' } }), null);
  });
});
