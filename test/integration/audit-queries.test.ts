// The audit queries against a real controller: upk why, event filters and CSV, following with a
// filter, upk trend against the events it counts, the SQL views, and AuditMaxRecords.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FailureStory, ServiceEvent, TrendResult } from '../../libclient/index.js';
import { Sandbox, UPK } from '../helpers/sandbox.js';

const CRASH = `sh -c 'echo "starting"; echo "fatal: cannot bind :8080" >&2; exit 3'`;

describe('audit queries', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await box.upk([...args, '--json']);
    assert.equal(r.code, 0, `upk ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };

  before(async () => {
    box = new Sandbox('audit');
    box.writeServices({
      crashy: { ExecStart: CRASH, UserRateLimit: 0.1, MinUptime: 0.5, MaxConsecutiveFailures: 4 },
      steady: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('steady', 'running');
    const [started] = await (await box.client()).start('crashy');
    assert.equal(started!.ok, false);
    await box.waitForState('crashy', 'failed');
  });
  after(() => box.cleanup());

  it('upk why tells the last failure: what, how, the last output, what happened next', async () => {
    const r = await box.upk(['why', 'crashy']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^crashy failed .* ago, at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/m);
    assert.ok(r.stdout.includes(`What ended: process `) && r.stdout.includes(`(${CRASH}), started `));
    assert.match(r.stdout, /How: it exited with code 3 after \d+ ms; nobody had asked it to stop\./);
    assert.match(r.stdout, /Before it: 4 runs in a row failed, this one included; 3 automatic restarts in the hour up to it\./);
    assert.match(r.stdout, /^ {2}stderr \| fatal: cannot bind :8080$/m);
    assert.match(r.stdout, /^ {2}stdout \| starting$/m);
    assert.match(r.stdout, /^Then:\n(?: {2}.*\n)*? {2}\d\d:\d\d:\d\d {2}given up after 4 failures in a row/m);
    assert.match(r.stdout, /^Now: failed since .*, wanted \w+;/m);

    const story = await json<FailureStory>(['why', 'crashy']);
    assert.deepEqual(story.failure?.lastOutput, { stdout: 'starting', stderr: 'fatal: cannot bind :8080' });
    assert.equal(story.failure?.run.code, 3);

    const calm = await box.upk(['why', 'steady']);
    assert.match(calm.stdout, /^steady has not failed since .*\.\nNow: running since/m);
    assert.equal((await box.upk(['why', 'nosuch'])).code, 4);
  });

  it('every exit nobody asked for keeps the last lines written just before it', async () => {
    const exits = box.events('crashy').filter((e) => e.type === 'exited');
    assert.equal(exits.length, 4);
    for (const e of exits) assert.deepEqual(JSON.parse(e.detail!).lastOutput, { stdout: 'starting', stderr: 'fatal: cannot bind :8080' });
  });

  it('upk events filters: type and exit code, text in the detail, pid, signal, time range', async () => {
    assert.equal((await json<ServiceEvent[]>(['events', 'crashy', '--type', 'exited', '--code', '3'])).length, 4);
    assert.equal((await json<ServiceEvent[]>(['events', '--code', '3'])).length, 4, 'every service');
    const byText = await json<ServiceEvent[]>(['events', '--grep', 'CANNOT BIND']);
    assert.deepEqual([...new Set(byText.map((e) => e.type))], ['exited']);
    assert.equal(byText.length, 4);
    const first = (await json<ServiceEvent[]>(['events', 'crashy', '--type', 'spawned']))[0]!;
    const byPid = await json<ServiceEvent[]>(['events', '--pid', String(first.pid)]);
    assert.deepEqual(
      byPid.map((e) => e.type).filter((t) => t === 'spawned' || t === 'exited'),
      ['spawned', 'exited'],
    );

    const c = await box.client();
    await c.signal('steady', 'KILL');
    await box.waitForState('steady', 'running');
    const killed = await json<ServiceEvent[]>(['events', 'steady', '--signal', 'kill']);
    assert.deepEqual(
      killed.map((e) => e.type),
      ['signal_sent', 'exited'],
    );

    const all = await json<ServiceEvent[]>(['events', 'crashy']);
    const mid = all[Math.floor(all.length / 2)]!;
    const later = await json<ServiceEvent[]>(['events', 'crashy', '--since', mid.time]);
    assert.ok(later.length > 0 && later.every((e) => e.time >= mid.time));
    const earlier = await json<ServiceEvent[]>(['events', 'crashy', '--until', mid.time]);
    assert.ok(earlier.length > 0 && earlier.every((e) => e.time <= mid.time));
    assert.equal((await box.upk(['events', '--code', 'x'])).code, 2);
    assert.equal((await box.upk(['events', '--csv', '--json'])).code, 2);
  });

  it('upk events --csv: a header, one row per event, the detail as quoted JSON', async () => {
    const r = await box.upk(['events', 'crashy', '--type', 'exited', '--csv']);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\r\n').filter(Boolean);
    assert.equal(lines[0], 'id,time,service,type,pid,code,signal,detail');
    assert.equal(lines.length, 5);
    const row = /^(\d+),([^,]+),crashy,exited,(\d+),3,,"(.*)"$/.exec(lines[1]!);
    assert.ok(row, lines[1]);
    assert.equal(JSON.parse(row[4]!.replace(/""/g, '"')).lastOutput.stderr, 'fatal: cannot bind :8080');
  });

  it('upk events --follow --grep prints only the live events that match', async () => {
    const child = spawn(process.execPath, [UPK, 'events', '--follow', '--json', '--grep', 'cannot bind', '-n', '1'], { env: box.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await box.waitFor('the stored one', () => out.split('\n').filter(Boolean).length >= 1);
      await (await box.client()).start('crashy');
      await box.waitFor('four more', () => out.split('\n').filter(Boolean).length >= 5, 15_000);
      const events = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ServiceEvent);
      assert.ok(
        events.every((e) => e.type === 'exited' && e.service === 'crashy'),
        out,
      );
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    await box.waitForState('crashy', 'failed');
  });

  it('upk trend counts what the events show; flags the crash loop; a chart on request', async () => {
    const events = await json<ServiceEvent[]>(['events', 'crashy', '-n', '1000']);
    const failures = events.filter((e) => e.type === 'exited' && e.detail?.requested === false).length;
    const restarts = events.filter((e) => e.type === 'spawned' && e.detail?.restart === true).length;
    const f = await json<TrendResult>(['trend', 'crashy', '--metric', 'failures', '--bucket', '1m', '--since', '1h']);
    assert.equal(f.series[0]!.total, failures);
    const n = f.series[0]!.points.length;
    assert.ok(n >= 60 && n <= 62, `${n} one-minute buckets in the last hour`);
    const r = await json<TrendResult>(['trend', 'crashy', '--since', '1h']);
    assert.equal(r.metric, 'restarts');
    assert.equal(r.series[0]!.total, restarts);
    assert.equal(r.series[0]!.flapping?.restarts, restarts, `${restarts} restarts within minutes flag it`);

    const table = await box.upk(['trend', '--metric', 'uptime', '--bucket', '15m', '--since', '1h']);
    assert.match(table.stdout, /^SERVICE\s+BUCKET \(UTC\)\s+UPTIME$/m);
    assert.match(table.stdout, /^steady\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d+(\.\d+)?%$/m);
    assert.match(table.stdout, /^crashy: flapping: \d+ restarts within 10 min/m);
    const chart = await box.upk(['trend', 'crashy', '--metric', 'failures', '--bucket', '1m', '--since', '30m', '--chart']);
    assert.match(chart.stdout, /^crashy: total \d+ {2}FLAPPING: /m);
    assert.match(chart.stdout, /#/);

    assert.equal((await box.upk(['trend', '--metric', 'nope'])).code, 2);
    const tooMany = await box.upk(['trend', '--bucket', '1m', '--since', '30d']);
    assert.equal(tooMany.code, 2);
    assert.match(tooMany.stderr, /^upk: 432\d\d buckets of 1m: at most 1000; use a larger bucket or a shorter range$/m);
  });

  it('the views read the database in words', () => {
    const db = box.db();
    try {
      const q = <T>(sql: string): T[] => db.prepare(sql).all() as T[];
      assert.ok(q<{ service: string }>("SELECT * FROM event_log WHERE service = 'crashy'").length > 0);
      const fails = q<{ last_stderr: string; code: number; outcome: string }>("SELECT * FROM failure_log WHERE service = 'crashy'");
      assert.ok(fails.length >= 4);
      assert.ok(fails.every((x) => x.last_stderr === 'fatal: cannot bind :8080' && x.code === 3 && x.outcome === 'failed'));
      const running = q<{ outcome: string }>("SELECT outcome FROM run_log WHERE service = 'steady' ORDER BY id DESC LIMIT 1");
      assert.deepEqual(running, [{ outcome: 'running' }]);
      assert.ok(q<{ request: string }>("SELECT * FROM request_log WHERE request = 'signal' AND service = 'steady'").length === 1);
      assert.ok(q('SELECT * FROM change_log').length >= 2);
      q('SELECT * FROM usage_by_minute');
      q('SELECT * FROM usage_by_hour');
      assert.ok(q<{ service: string }>('SELECT * FROM service_ids').some((x) => x.service === 'steady'));
    } finally {
      db.close();
    }
  });
});

describe('AuditMaxRecords', { timeout: 60_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('retain', { AuditMaxRecords: 40 });
    box.writeServices({ looper: { ExecStart: 'sh -c "exit 1"', UserRateLimit: 0.02, UserMaxRestarts: -1, MinUptime: 0.5 } });
    await box.startController();
  });
  after(() => box.cleanup());

  it('the events stay bounded while a crash loop writes them', async () => {
    await (await box.client()).start('looper');
    const log = join(box.stateDir, 'controller.log');
    await box.waitFor('a prune', () => readFileSync(log, 'utf8').match(/pruned the audit database in \d+ ms: \d+ events/), 20_000);
    await (await box.client()).stop('looper');
    const db = box.db();
    try {
      const n = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
      assert.ok(n <= 40 + 10 + 30, `${n} events`); // the bound, the margin before a prune, and what the stop adds
    } finally {
      db.close();
    }
  });
});
