// The audit as an investigation tool, attacked (issue 17): what `status --at`, `timeline`, `why`,
// `correlate` and the HTTP API answer to times, names and histories the other tests do not try.
// Each test states what the docs promise; each fails while the finding it names stands.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, type Client, type ServiceStatus } from '../../libclient/index.js';
import { fileURLToPath } from 'node:url';
import { withApi } from '../helpers/serve.js';
import { alive, run, Sandbox, sleep } from '../helpers/sandbox.js';

const UPTOP = fileURLToPath(new URL('../../clients/uptop/main.js', import.meta.url));
const FIXED_UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('the audit as an investigation tool, attacked', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let client: Client;
  const services = (renamed = false) => ({
    [renamed ? 'pk::renamed' : 'old']: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2, UUID: FIXED_UUID },
    // A scheduled job whose first run is an hour away: `scheduled` from its buddy's start.
    nightly: { ExecStart: 'true', Type: 'oneshot', Schedule: '@every 1h', InitialState: 'running' },
    // A health check whose output holds terminal escape sequences.
    sick: {
      ExecStart: 'sleep 1000',
      InitialState: 'running',
      MinUptime: 0.2,
      HealthCheck: `printf '\\033]0;PWNED\\007\\033[31mred\\n'; exit 1`,
      HealthInterval: 0.3,
      HealthRetries: 1,
      HealthAction: 'none',
    },
  });

  before(async () => {
    box = new Sandbox('invhostile');
    box.writeServices(services());
    await box.startController();
    client = await box.client();
  });
  after(() => box.cleanup());

  it('status --at a scheduled job before its first run says `scheduled`, as upk list said then', async () => {
    const list = await box.waitFor('nightly scheduled', async () => {
      const l = await client.list();
      return l.find((s) => s.name === 'nightly')?.state === 'scheduled' ? l : undefined;
    });
    const at = Date.now();
    await sleep(50);
    const live = list.find((s) => s.name === 'nightly')!;
    const past = (await client.statusAt(at, 'nightly')).services[0]!;
    assert.deepEqual([past.state, past.desired], [live.state, live.desired], 'wanted running, waiting for its schedule');
    const status = await box.upk(['status', '--at', new Date(at).toISOString(), 'nightly']);
    assert.equal(status.code, 0, `in its desired state then, as upk status said: ${status.stdout}`);
  });

  it('times that are no ISO 8601 are refused by libclient and the HTTP API, never guessed', async () => {
    const refused = (key: string) => (err: { code?: string; message?: string }) =>
      err.code === ErrorCode.BAD_REQUEST && err.message!.startsWith(`${key} must be an ISO 8601 time`);
    for (const t of ['5', 'May 1', '12', '2026-12-06 20:51', '2026-12-06T20:51', '2026-02-31T10:00:00Z']) {
      await assert.rejects(client.statusAt(t), refused('time'), `statusAt(${t})`);
      await assert.rejects(client.timeline({ since: t }), refused('since'), `timeline ${t}`);
      await assert.rejects(client.requests({ until: t }), refused('until'), `requests ${t}`);
    }
    await assert.rejects(client.correlate({ since: 'Dec 1', until: 'Dec 07' }), refused('since'));
    await assert.rejects(client.events({ since: new Date(NaN) }), refused('since'), 'an invalid Date');
    await assert.rejects(client.events({ until: 1e20 }), refused('until'), 'ms out of the range of dates');
    // An ISO 8601 string is passed as given; a Date or ms as toISOString writes them.
    assert.equal((await client.timeline({ since: '2026-01-01T01:00:00+01:00', limit: 1 })).since, '2026-01-01T00:00:00.000Z');
    assert.equal((await client.timeline({ since: Date.UTC(2026, 0, 1), limit: 1 })).since, '2026-01-01T00:00:00.000Z');
    // why and correlate name the window as given, not the protocol's windowMs.
    await assert.rejects(client.why('old', { window: '2d' }), /^UpkError: window: expected .*from 1 ms to a day \(1d\), got "2d"/);
    await assert.rejects(client.correlate({ window: 86_400_001 }), /^UpkError: window: .*got 86400001$/);
    await withApi(box, async (get) => {
      // Each 400 BAD_REQUEST, its message naming the parameter as the request gave it.
      for (const [path, named] of [
        ['/api/status?at=5', 'query parameter at'],
        ['/api/status?at=May%201', 'query parameter at'],
        ['/api/status?at=2026-12-06%2020:51', 'query parameter at'],
        ['/api/status?at=2026-02-31T10:00Z', 'query parameter at'],
        ['/api/timeline?since=12', 'query parameter since'],
        ['/api/timeline?since=2026-12-06T00:00Z&until=', 'query parameter until'],
        ['/api/audit?since=1&until=2', 'query parameter since'],
        ['/api/audit?until=', 'query parameter until'],
        ['/api/correlate?since=Dec%201&until=Dec%2007', 'query parameter since'],
        ['/api/events?until=2026-13-01T00:00Z', 'query parameter until'],
        ['/api/trend?metric=restarts&bucket=1h&since=yesterday', 'query parameter since'],
        ['/api/services/old/config-history?since=0', 'query parameter since'],
        ['/api/services/old/why?window=2d', 'window'],
        ['/api/correlate?window=86400001ms', 'window'],
      ] as const) {
        const r = await get(path);
        assert.equal(r.status, 400, `${path}: ${r.text.slice(0, 200)}`);
        const error = (JSON.parse(r.text) as { error: { code: string; message: string } }).error;
        assert.equal(error.code, ErrorCode.BAD_REQUEST, path);
        assert.ok(error.message.startsWith(`${named}:`), `${path}: ${error.message}`);
        assert.doesNotMatch(error.message, /windowMs|not a time/, path);
      }
      const ok = await get('/api/timeline?since=2026-01-01T01:00:00%2B01:00&limit=1');
      assert.equal(ok.status, 200, ok.text.slice(0, 200));
    });
  });

  it('a time option out of range is a usage error (exit 2), never a stack trace', async () => {
    const huge = ['99999999999999999999d', '9007199254740993ms'];
    const runs: string[][] = [];
    for (const t of huge) {
      runs.push(['list', '--at', t], ['status', 'old', '--at', t], ['timeline', '--since', t], ['timeline', '--until', t]);
      runs.push(['events', '--since', t], ['events', '--until', t], ['audit', '--since', t], ['audit', '--until', t]);
      runs.push(['correlate', '--since', t], ['correlate', '--until', t], ['config-history', 'old', '--since', t]);
      runs.push(['hooks', '--since', t], ['trend', '--since', t], ['trend', '--until', t]);
    }
    runs.push(['list', '--at', '2026-02-31T10:00Z'], ['events', '--since', '0000-01-01T00:00+01:00']);
    for (const args of runs) {
      const r = await box.upk(args);
      // A stack frame is a line that begins `    at `: the help commander prints after the error has `    at most`.
      assert.doesNotMatch(r.stderr, /unexpected error|RangeError|Invalid time value|^ {4}at /m, args.join(' '));
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const [option, value] = args.slice(-2);
      assert.ok(r.stderr.includes(`${option} <time>' argument '${value}' is invalid. expected `), `${args.join(' ')}: ${r.stderr}`);
    }
    const uptop = await run(process.execPath, [UPTOP, '--config', box.configFile, '--at', huge[0]!], box.env, 20_000);
    assert.equal(uptop.code, 2, uptop.stderr);
    assert.equal(uptop.stderr, `uptop: --at: expected a duration ago back to the year 0000 at most, got "${huge[0]}"\n`);
  });

  it('a timeline whose --since is still to come is refused (exit 2), as docs/cli.md says', async () => {
    const r = await box.upk(['timeline', '--since', '2099-01-01T00:00:00Z', '--until', '2099-01-02T00:00:00Z']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    // Every command with a --since, alike (docs/cli.md, Times).
    for (const args of [
      ['timeline', '--since', '2099-01-01T00:00:00Z'],
      ['events', '--since', '2099-01-01T00:00:00Z'],
      ['events', '--follow', '--since', '2099-01-01T00:00:00Z'],
      ['audit', '--since', '2099-01-01T00:00:00Z', '--until', '2099-01-02T00:00:00Z'],
      ['correlate', '--since', '2099-01-01T00:00:00Z'],
      ['config-history', 'old', '--since', '2099-01-01T00:00:00Z'],
      ['hooks', '--since', '2099-01-01T00:00:00Z'],
      ['trend', '--since', '2099-01-01T00:00:00Z'],
    ]) {
      const done = await box.upk(args);
      assert.equal(done.code, 2, `${args.join(' ')}: ${done.stdout}${done.stderr}`);
      assert.match(
        done.stderr,
        /^upk: --since 2099-01-01T00:00:00Z: 2099-01-01T00:00:00\.000Z is still to come \(it is \S+\); expected a time past\n$/,
        args.join(' '),
      );
    }
  });

  it('`all` is not one service: why and correlate NAME refuse it rather than merge every service into one story', async () => {
    for (const args of [
      ['why', 'all'],
      ['correlate', 'all'],
    ]) {
      const r = await box.upk(args);
      assert.ok(r.code === 2 || r.code === 4, `${args.join(' ')}: exit ${r.code}\n${r.stdout}`);
      assert.doesNotMatch(r.stdout, /^all[: ]/m, args.join(' '));
    }
    const history = await box.upk(['config-history', 'all']);
    assert.equal(history.code, 2, history.stdout);
    assert.match(history.stderr, /not all/);
    // As a filter, `all` is no filter: the timeline of `all` is the timeline of every service, the removed ones too.
    const range = ['--since', new Date(Date.now() - 60_000).toISOString(), '--until', new Date().toISOString(), '--json'];
    const every = JSON.parse((await box.upk(['timeline', ...range])).stdout) as { entries: unknown[] };
    const all = JSON.parse((await box.upk(['timeline', 'all', ...range])).stdout) as { entries: unknown[] };
    assert.ok(every.entries.length > 0);
    assert.deepEqual(all.entries, every.entries);
    // Every name is checked beside `all`: an unknown one is refused, not taken as every service.
    const unknown = await box.upk(['timeline', 'nosuch', 'all', ...range]);
    assert.equal(unknown.code, 4, unknown.stdout);
  });

  it('a correlation range that ends before the history kept is refused, never shown inverted', async () => {
    const r = await box.upk(['correlate', 'nightly', '--since', '1970-01-01T00:00:00Z', '--until', '1970-01-02T00:00:00Z']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /the range ends at 1970-01-02T00:00:00\.000Z, before the history kept begins \(20\d\d-/);
  });

  it('status --at prints no terminal escape sequence from a health check output', async () => {
    await box.waitFor('sick unhealthy', async () => (await client.status('sick'))[0]?.health?.status === 'unhealthy');
    await sleep(100);
    const r = await box.upk(['status', '--at', '0s', 'sick']);
    assert.match(r.stdout, /health: unhealthy/, r.stdout);
    assert.doesNotMatch(r.stdout, /\x1b/, 'ESC reaches the terminal');
  });

  // Last: it changes the services.
  it('a service renamed with a fixed UUID is one service, under its new name now and in status --at (docs/controller.md)', async () => {
    const was = await box.waitForState('old', 'running');
    await sleep(100);
    const beforeRename = Date.now();
    await sleep(100);
    box.writeServices(services(true));
    const reload = await box.upk(['reload-config']);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /^pk::renamed: changed: renamed from old\b/m, reload.stdout);
    assert.doesNotMatch(reload.stdout, /^old: /m, 'the old id is no service of its own: not kept until upk remove');
    const now = await box.waitForState('pk::renamed', 'running');
    // Never two buddies for one UUID: the buddy under the old id stopped with what it ran (its run
    // directory, FIFOs and socket are named by the old id), and a new one supervises it as pk::renamed.
    await box.waitFor('the buddy and process under the old id gone', () => !alive(was.buddyPid!) && !alive(was.pid!));
    assert.notEqual(now.pid, was.pid);
    await sleep(300);
    const sharing = (await client.list()).filter((s: ServiceStatus) => s.uuid === FIXED_UUID).map((s) => s.name);
    assert.deepEqual(sharing, ['pk::renamed'], `services with UUID ${FIXED_UUID}: ${reload.stdout}`);
    const past = await client.statusAt(Date.now());
    assert.deepEqual(
      past.services.filter((s) => s.uuid === FIXED_UUID).map((s) => s.name),
      ['pk::renamed'],
      'status --at now names it as upk list does',
    );
    // Before the rename it was `old`, running its process then.
    const then = (await client.statusAt(beforeRename)).services.filter((s) => s.uuid === FIXED_UUID);
    assert.deepEqual(
      then.map((s) => [s.name, s.state, s.pid]),
      [['old', 'running', was.pid]],
    );
    const atThen = await box.upk(['status', '--at', new Date(beforeRename).toISOString(), 'old']);
    assert.equal(atThen.code, 0, atThen.stdout + atThen.stderr);
    const atNow = await box.upk(['status', '--at', '0s', 'renamed']);
    assert.equal(atNow.code, 0, atNow.stdout + atNow.stderr);
    assert.match(atNow.stdout, new RegExp(`^pk::renamed\\s+running\\s+running\\s+${now.pid}\\b`, 'm'), atNow.stdout);
    // Its history stays with the UUID, told under its new name.
    const history = await box.upk(['config-history', 'renamed']);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /added/, history.stdout);
    assert.match(history.stdout, /renamed from old/, history.stdout);
    const events = await client.events({ service: 'renamed', types: ['spawned'] });
    assert.deepEqual(
      events.map((e) => e.pid),
      [was.pid, now.pid],
      'both runs, under one name',
    );
    // The old name is no service: upk remove refuses it and touches nothing of the renamed one.
    const remove = await box.upk(['remove', 'old']);
    assert.equal(remove.code, 4, remove.stdout + remove.stderr);
    await sleep(300);
    const [after] = await client.status('pk::renamed');
    assert.deepEqual([after?.state, after?.pid, after?.uuid], ['running', now.pid, FIXED_UUID]);
    assert.ok(alive(now.pid!), 'its process runs on');
    assert.deepEqual(
      (await client.statusAt(Date.now())).services.filter((s) => s.uuid === FIXED_UUID).map((s) => s.name),
      ['pk::renamed'],
      'not recorded as removed',
    );
  });
});
