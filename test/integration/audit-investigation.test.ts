// The audit as an investigation tool, against a real controller: what changed (upk config-history, the
// configuration change `upk why` names before a run of failures) and who did it (upk audit, GET /api/audit).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ClientRequestRecord, ConfigHistoryRecord, FailureStory } from '../../libclient/index.js';
import { OPENAPI_FILE } from '../../clients/http/openapi.js';
import { OpenApiValidator, closed, type Doc } from '../helpers/openapi.js';
import { withApi } from '../helpers/serve.js';
import { Sandbox, UPK } from '../helpers/sandbox.js';

const LONG = 'x'.repeat(300);

const web = (execStart: string, environment: Record<string, string>) => ({
  ExecStart: execStart,
  Environment: environment,
  InitialState: 'running',
  MinUptime: 0.1,
});

/** `upk ARGS…` as a process whose pid the test knows. */
function upkWithPid(box: Sandbox, args: string[]): Promise<{ pid: number; code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [UPK, ...args], { env: box.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ pid: child.pid!, code, stdout });
    });
  });
}

describe('the audit as an investigation tool', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('audit17');
    box.writeServices({ web: web('sleep 1000', { MODE: 'fast' }) }, 'web.conf');
    box.writeServices(
      {
        db: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
        api: {
          // Runs until the flag file exists, then fails at every start.
          ExecStart: `sh -c 'while [ ! -e ${box.file('broken')} ]; do sleep 0.05; done; echo "lost db" >&2; exit 3'`,
          Prerequisites: ['db'],
          InitialState: 'running',
          MinUptime: 0.1,
        },
      },
      'stack.conf',
    );
    await box.startController();
    for (const s of ['web', 'db', 'api']) await box.waitForState(s, 'running');
  });
  after(() => box.cleanup());

  it('upk config-history: a change applied by upk reload-config, with each key before and after', async () => {
    box.writeServices({ web: web('sleep 2000', { MODE: 'safe', LONG }) }, 'web.conf');
    const reload = await box.upk(['reload-config']);
    assert.equal(reload.code, 0, reload.stderr);

    const json = await box.upk(['config-history', 'web', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const history = JSON.parse(json.stdout) as ConfigHistoryRecord[];
    assert.deepEqual(
      history.map((h) => [h.change, h.trigger]),
      [
        ['added', 'start'],
        ['changed', 'reload'],
      ],
    );
    const change = history[1]!;
    assert.deepEqual([...change.keys!].sort(), ['Environment', 'ExecStart']);
    assert.equal(change.beforeRecorded, true);
    assert.deepEqual(change.values, [
      { key: 'Environment', before: { MODE: 'fast' }, after: { MODE: 'safe', LONG } },
      { key: 'ExecStart', before: 'sleep 1000', after: 'sleep 2000' },
    ]);

    const text = await box.upk(['config-history', 'web']);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}added \(start\): InitialState running$/);
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}changed \(reload\): /);
    assert.ok(lines.includes('  - ExecStart: "sleep 1000"'), text.stdout);
    assert.ok(lines.includes('  + ExecStart: "sleep 2000"'), text.stdout);
    assert.ok(lines.includes('  - Environment: {"MODE":"fast"}'), text.stdout);
    const long = lines.find((l) => l.startsWith('  + Environment: '))!;
    assert.ok(long.endsWith('…') && long.length < 130, `a long value is cut: ${long}`);

    // --since after both (now: one still to come is refused, as by every --since), and --limit.
    const later = await box.upk(['config-history', 'web', '--since', '0s']);
    assert.match(later.stdout, /^no configuration change recorded for web since /);
    const toCome = await box.upk(['config-history', 'web', '--since', new Date(Date.now() + 60_000).toISOString()]);
    assert.equal(toCome.code, 2, toCome.stdout);
    assert.match(toCome.stderr, /is still to come/);
    const limited = JSON.parse((await box.upk(['config-history', 'web', '--limit', '1', '--json'])).stdout) as ConfigHistoryRecord[];
    assert.deepEqual(
      limited.map((h) => h.change),
      ['changed'],
    );
    assert.equal((await box.upk(['config-history', 'nosuch'])).code, 4);
    assert.equal((await box.upk(['config-history', 'web', '--limit', '0'])).code, 2);
  });

  it('upk audit: a stop done by upk, with its pid and outcome; filtered by --client and --since', async () => {
    const started = Date.now();
    const stop = await upkWithPid(box, ['stop', 'web']);
    assert.equal(stop.code, 0);
    const c = await box.client();
    await c.onBehalfOf('deploy-bot 7').start('web');

    const all = JSON.parse(
      (await box.upk(['audit', '--json', '--since', new Date(started).toISOString()])).stdout,
    ) as ClientRequestRecord[];
    assert.deepEqual(
      all.map((r) => [r.client, r.request, r.service, r.ok]),
      [
        ['upk', 'stop', 'web', true],
        ['test', 'start', 'web', true],
      ],
    );
    const stopped = all[0]!;
    assert.equal(stopped.pid, stop.pid, 'the pid of the upk that asked');
    assert.equal(stopped.user, (await import('node:os')).userInfo().username);
    assert.equal(stopped.requester, null);
    assert.equal(stopped.outcome, 'stopped');
    assert.deepEqual(stopped.params, { service: 'web' });
    assert.ok(stopped.durationMs !== null && stopped.durationMs >= 0);
    assert.equal(all[1]!.requester, 'deploy-bot 7');

    // --client: any letter case, in the client's name or the requester.
    const byClient = async (name: string): Promise<string[]> =>
      (JSON.parse((await box.upk(['audit', '--json', '--client', name])).stdout) as ClientRequestRecord[])
        .filter((r) => Date.parse(r.time) >= started)
        .map((r) => `${r.client} ${r.request}`);
    assert.deepEqual(await byClient('UPK'), ['upk stop']);
    assert.deepEqual(await byClient('bot'), ['test start']);
    assert.deepEqual(await byClient('nobody'), []);
    // --since after the stop leaves it out; the default (today) keeps it, unless the day just began.
    const since = JSON.parse((await box.upk(['audit', '--json', '--since', all[1]!.time])).stdout) as ClientRequestRecord[];
    assert.deepEqual(
      since.map((r) => r.request),
      ['start'],
    );
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    if (today.getTime() <= started) {
      const text = await box.upk(['audit', '--client', 'upk']);
      assert.equal(text.code, 0, text.stderr);
      const row = text.stdout.split('\n').find((l) => l.includes(' stop '))!;
      assert.match(row, new RegExp(`^\\S+Z\\s+upk\\s+${stop.pid}\\s+\\S+\\s+stop\\s+web\\s+ok\\s+\\S+\\s+stopped$`), text.stdout);
    }
    assert.equal((await box.upk(['audit', '--since', 'whenever'])).code, 2);
  });

  it('upk audit --service: the requests about the service and those about no one service (config.reload), marked (all)', async () => {
    const started = Date.now();
    assert.equal((await box.upk(['restart', 'db'])).code, 0);
    assert.equal((await box.upk(['reload-config'])).code, 0);
    assert.equal((await box.upk(['restart', 'web'])).code, 0);
    const since = new Date(started).toISOString();
    const web = JSON.parse((await box.upk(['audit', '--json', '--since', since, '--service', 'web'])).stdout) as ClientRequestRecord[];
    assert.deepEqual(
      web.map((r) => [r.request, r.service]),
      [
        ['config.reload', null],
        ['restart', 'web'],
      ],
    );
    const text = await box.upk(['audit', '--since', since, '--service', 'web']);
    assert.match(text.stdout, /\n\S+Z\s+upk\s+\d+\s+\S+\s+config\.reload\s+\(all\)\s+ok\s/, text.stdout);
    // The timeline of web says the same of the requests.
    const timeline = await (await box.client()).timeline({ since, services: 'web' });
    assert.deepEqual(
      timeline.entries.flatMap((e) => (e.kind === 'request' ? [e.request.id] : [])),
      web.map((r) => r.id),
    );
  });

  it("upk why: names a prerequisite's configuration change before the failures began", async () => {
    box.writeServices(
      {
        db: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, Environment: { POOL: '2' } },
        api: {
          ExecStart: `sh -c 'while [ ! -e ${box.file('broken')} ]; do sleep 0.05; done; echo "lost db" >&2; exit 3'`,
          Prerequisites: ['db'],
          InitialState: 'running',
          MinUptime: 0.1,
        },
      },
      'stack.conf',
    );
    assert.equal((await box.upk(['reload-config'])).code, 0);
    writeFileSync(box.file('broken'), '');
    const story = await box.waitFor('a failure of api', async () => {
      const s = JSON.parse((await box.upk(['why', 'api', '--json'])).stdout) as FailureStory;
      return s.failure ? s : undefined;
    });
    const changed = story.failure!.configChanged!;
    assert.ok(changed, JSON.stringify(story.failure));
    assert.equal(changed.service, 'db');
    assert.equal(changed.prerequisite, true);
    assert.deepEqual(changed.keys, ['Environment']);
    assert.equal(changed.trigger, 'reload');
    assert.ok(Date.parse(changed.time) <= Date.parse(changed.failureAt));
    const text = await box.upk(['why', 'api']);
    assert.match(
      text.stdout,
      /^Configuration: db's configuration changed .+ before (it|the first of these failures), at .+ UTC \(upk reload-config; db is a prerequisite\): Environment\.$/m,
      text.stdout,
    );
    // web never failed: no story, no change told.
    assert.equal((JSON.parse((await box.upk(['why', 'web', '--json'])).stdout) as FailureStory).failure, null);
  });

  it('HTTP: GET /api/services/NAME/config-history and /api/audit, as the OpenAPI document describes them', async () => {
    // Closed to fields the document does not name.
    const strict = new OpenApiValidator(closed(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc));
    await withApi(box, async (_get, base) => {
      const history = await fetch(`${base}/api/services/web/config-history?limit=1`);
      assert.equal(history.status, 200);
      const historyBody = (await history.json()) as { changes: ConfigHistoryRecord[] };
      assert.equal(strict.check('/api/services/web/config-history', 'GET', 200, historyBody), null);
      const { changes } = historyBody;
      assert.deepEqual(
        changes.map((c) => c.values.map((v) => v.key)),
        [['Environment', 'ExecStart']],
      );
      const restarted = await fetch(`${base}/api/services/web/restart`, { method: 'POST', headers: { 'user-agent': 'audit-test/1' } });
      assert.equal(restarted.status, 200);
      const audit = await fetch(`${base}/api/audit?client=AUDIT-TEST&service=web`);
      assert.equal(audit.status, 200);
      const auditBody = (await audit.json()) as { requests: ClientRequestRecord[] };
      assert.equal(strict.check('/api/audit', 'GET', 200, auditBody), null);
      const { requests } = auditBody;
      const everything = (await (await fetch(`${base}/api/audit`)).json()) as { requests: ClientRequestRecord[] };
      assert.ok(everything.requests.length > 3);
      assert.equal(strict.check('/api/audit', 'GET', 200, everything), null);
      const wholeHistory = await (await fetch(`${base}/api/services/web/config-history`)).json();
      assert.equal(strict.check('/api/services/web/config-history', 'GET', 200, wholeHistory), null);
      assert.deepEqual(
        requests.map((r) => [r.request, r.service, r.ok]),
        [['restart', 'web', true]],
      );
      assert.match(requests[0]!.requester!, /^http 127\.0\.0\.1:\d+ \(audit-test\/1\)$/);
      assert.equal((await fetch(`${base}/api/audit?limit=0`)).status, 400);
      assert.equal((await fetch(`${base}/api/audit?since=never`)).status, 400);
      assert.equal((await fetch(`${base}/api/services/nosuch/config-history`)).status, 404);
    });
  });
});
