// The client library against a real controller: every method, and errors as typed UpkErrors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../libclient/index.js';
import { ErrorCode, UpkError, checkConfiguration, connect } from '../../libclient/index.js';
import { Sandbox } from '../helpers/sandbox.js';

describe('libclient', { timeout: 60_000 }, () => {
  let box: Sandbox;
  let client: Client;
  before(async () => {
    box = new Sandbox('lib');
    box.writeServices({
      web: {
        ExecStart: `sh -c 'trap "echo hup" HUP; while :; do sleep 0.05; done'`,
        MinUptime: 0.1,
        CustomActions: { hello: 'echo "hello $1"', fail: 'exit 4' },
      },
    });
    await box.startController();
    // connect() with no argument finds the controller through UPKEEPER_CONFIG, as upk does
    const saved = process.env.UPKEEPER_CONFIG;
    process.env.UPKEEPER_CONFIG = box.configFile;
    try {
      client = await connect();
    } finally {
      if (saved === undefined) delete process.env.UPKEEPER_CONFIG;
      else process.env.UPKEEPER_CONFIG = saved;
    }
  });
  after(async () => {
    client.close();
    await box.cleanup();
  });

  it('list and status', async () => {
    const all = await client.list();
    assert.deepEqual(
      all.map((s) => s.name),
      ['web'],
    );
    const [web] = await client.status('web');
    assert.equal(web!.state, 'stopped');
    assert.equal(typeof web!.uuid, 'string');
  });

  it('start, reload, restart, stop resolve with their outcome', async () => {
    const [started] = await client.start('web');
    assert.equal(started!.ok, true);
    assert.equal(started!.status!.state, 'running');
    const [reloaded] = await client.reload('web');
    assert.equal(reloaded!.ok, true);
    assert.equal(reloaded!.action?.code, 0);
    const [restarted] = await client.restart(['web']);
    assert.equal(restarted!.ok, true);
    assert.notEqual(restarted!.status!.pid, started!.status!.pid);
  });

  it('action and signal', async () => {
    const hello = await client.action('web', 'hello');
    assert.equal(hello.code, 0);
    assert.match(hello.output, /^hello \d+/);
    const fail = await client.action('web', '01');
    assert.equal(fail.code, 4, 'a failing action is a result, not an error');
    const { pid } = await client.signal('web', 'HUP');
    const [web] = await client.status('web');
    assert.equal(pid, web!.pid);
  });

  it('onBehalfOf: a view whose changes are recorded as asked by the requester, on the same connection', async () => {
    const view = client.onBehalfOf('deploy-bot for alice');
    assert.equal(view.requester, 'deploy-bot for alice');
    assert.equal(client.requester, null);
    assert.equal((await view.action('web', 'hello')).code, 0);
    await view.reloadConfig();
    view.close(); // a view owns no connection: the client goes on
    assert.equal((await client.list()).length, 1);
    const db = box.db();
    const rows = db
      .prepare(`SELECT request, requester, params FROM client_requests WHERE request IN ('action', 'config.reload') ORDER BY id`)
      .all();
    db.close();
    assert.deepEqual(rows.slice(-3), [
      { request: 'action', requester: null, params: '{"service":"web","action":"01"}' },
      { request: 'action', requester: 'deploy-bot for alice', params: '{"service":"web","action":"hello"}' },
      { request: 'config.reload', requester: 'deploy-bot for alice', params: '{}' },
    ]);
    for (const bad of ['', 'x'.repeat(201), 'two\nlines', 'nul\u0000'])
      assert.throws(
        () => client.onBehalfOf(bad),
        (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && /^requester must/.test(err.message),
        JSON.stringify(bad),
      );
  });

  it('events and subscribe', async () => {
    const events = await client.events({ service: 'web', types: ['spawned'] });
    assert.equal(events.length, 2);
    const sub = await client.subscribe({ services: ['web'], types: ['stopped'] });
    const next = (async () => {
      for await (const n of sub) if (n.kind === 'event') return n.event;
      return null;
    })();
    const [stopped] = await client.stop('web');
    assert.equal(stopped!.ok, true);
    const event = await next;
    assert.equal(event?.type, 'stopped');
    sub.close();
  });

  it('reloadConfig and checkConfiguration', async () => {
    const r = await client.reloadConfig();
    assert.deepEqual([r.ok, r.issues, r.changes], [true, [], []]);
    const check = checkConfiguration({ config: box.configFile });
    assert.deepEqual([check.ok, check.services], [true, ['web']]);
  });

  it('errors are UpkErrors with a stable code, across the socket', async () => {
    await assert.rejects(client.start('nosuch'), (e: unknown) => e instanceof UpkError && e.code === ErrorCode.NO_SUCH_SERVICE);
    await assert.rejects(client.action('web', 'nope'), (e: unknown) => e instanceof UpkError && e.code === ErrorCode.NO_SUCH_ACTION);
    await assert.rejects(client.signal('web', 'HUP'), (e: unknown) => e instanceof UpkError && e.code === ErrorCode.NOT_RUNNING);
    await assert.rejects(client.events({ types: ['nope'] }), (e: unknown) => e instanceof UpkError && e.code === ErrorCode.BAD_REQUEST);
    await assert.rejects(
      connect({ socket: box.file('nothing.sock') }),
      (e: unknown) => e instanceof UpkError && e.code === ErrorCode.CONTROLLER_NOT_RUNNING,
    );
  });
});
