// Jobs (Type oneshot), their Schedule and CronRestart, with real programs and a real controller: a run
// that ends well is not run again, a failed one is, upk start returns a run's outcome, MaxRunTime bounds
// a run, a schedule of @every 1s runs it on time without overlap, the buddy keeps the schedule while no
// controller runs (every run is recorded once it is back), and CronRestart restarts a long-running service.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { assertStartsRecorded, Sandbox, sleep } from '../helpers/sandbox.js';
import { detailOf } from '../../schema/event-details.js';
import type { ServiceStatus } from '../../schema/records.js';

const sh = (script: string): string[] => ['sh', '-c', script];

describe('jobs', { timeout: 120_000 }, () => {
  let box: Sandbox;
  const lines = (name: string): string[] => {
    try {
      return readFileSync(box.file(name), 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const ofType = (service: string, type: string) => box.events(service).filter((e) => e.type === type);
  const detail = (e: { detail: string | null }): Record<string, unknown> => JSON.parse(e.detail ?? '{}') as Record<string, unknown>;

  before(async () => {
    box = new Sandbox('jobs');
    box.writeServices({
      once: { ExecStart: sh('sleep 0.3; echo done'), Type: 'oneshot' },
      failing: { ExecStart: sh('echo "disk full" >&2; exit 3'), Type: 'oneshot', UserRateLimit: 0.3, MaxConsecutiveFailures: 3 },
      slow: { ExecStart: 'sleep 100', Type: 'oneshot', MaxRunTime: 0.5, MaxConsecutiveFailures: 0, KillTimeout: 1 },
      ticker: { ExecStart: sh(`date +%s%3N >> ${box.file('ticker')}`), Type: 'oneshot', Schedule: '@every 1s', InitialState: 'running' },
      overlapping: {
        ExecStart: sh(`echo start >> ${box.file('overlap')}; sleep 2.2; echo end >> ${box.file('overlap')}`),
        Type: 'oneshot',
        Schedule: '@every 1s',
      },
      offline: { ExecStart: sh(`echo $$ >> ${box.file('offline')}`), Type: 'oneshot', Schedule: '@every 1s' },
      cronned: { ExecStart: 'sleep 1000', MinUptime: 0.1, CronRestart: '*/2 * * * * *' },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('upk start of a oneshot returns once the run has ended, with its outcome; a run that ends well is not run again', async () => {
    const t0 = Date.now();
    const res = await box.upk(['start', 'once']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(Date.now() - t0 >= 300, `upk start returned after ${Date.now() - t0} ms, before the run ended`);
    assert.match(res.stdout, /^once: ok: completed \(exit 0\) after \d+ ms$/m);
    await sleep(1500); // (a restart would come after UserRateLimit, 1 s)
    const c = await box.client();
    const [s] = await c.status('once');
    assert.deepEqual([s?.state, s?.desired], ['stopped', 'stopped']);
    assert.equal(ofType('once', 'spawned').length, 1);
    assert.equal(detail(ofType('once', 'exited')[0]!).outcome, 'success');
    assert.deepEqual(detail(ofType('once', 'desired').at(-1)!), { desired: 'stopped', cause: 'completed' });
    assert.equal((await box.upk(['status', 'once'])).code, 0, 'stopped is its desired state');
    // The controller recorded the buddy's desired state: a new buddy would not run it again.
    const db = box.db();
    try {
      assert.equal(db.prepare("SELECT desired FROM services WHERE name = 'once'").pluck().get(), 'stopped');
    } finally {
      db.close();
    }
  });

  it('a failed run fails upk start (exit 5), then the restart policy runs it again; upk why tells the last failure', async () => {
    const res = await box.upk(['start', 'failing']);
    assert.equal(res.code, 5, res.stdout);
    assert.match(res.stderr, /^failing: FAILED: failed: exited with code 3 after \d+ ms$/m);
    const c = await box.client();
    await box.waitFor('given up after 3 failures', async () => (await c.status('failing'))[0]?.state === 'failed', 15_000);
    assert.equal(ofType('failing', 'spawned').length, 3);
    assert.deepEqual(
      ofType('failing', 'exited').map((e) => detail(e).outcome),
      ['failure', 'failure', 'failure'],
    );
    const why = await box.upk(['why', 'failing']);
    assert.equal(why.code, 0, why.stderr);
    assert.match(why.stdout, /exited with code 3/);
    assert.match(why.stdout, /disk full/);
    const trend = await box.upk(['trend', 'failing', 'once', '--metric', 'failrate', '--since', '1h', '--bucket', '1h', '--json']);
    assert.equal(trend.code, 0, trend.stderr);
    const totals = (JSON.parse(trend.stdout) as { series: { service: string; total: number | null }[] }).series.map((s) => [
      s.service,
      s.total,
    ]);
    assert.deepEqual(totals, [
      ['failing', 100],
      ['once', 0],
    ]);
  });

  it('MaxRunTime bounds a run: it is stopped, and the run failed (timed out)', async () => {
    const res = await box.upk(['start', 'slow']);
    assert.equal(res.code, 5);
    assert.match(res.stderr, /^slow: FAILED: timed out: ran longer than MaxRunTime \(0\.5 s\)$/m);
    assert.equal(ofType('slow', 'timed_out').length, 1);
    assert.equal(detail(ofType('slow', 'exited')[0]!).outcome, 'failure');
    const c = await box.client();
    const [s] = await c.status('slow');
    assert.deepEqual([s?.state, s?.desired], ['failed', 'running'], 'MaxConsecutiveFailures 0: not run again');
    const why = await box.upk(['why', 'slow']);
    assert.match(
      why.stdout,
      /How: the job's run took longer than MaxRunTime, and its buddy stopped it after \d+ ms; it was killed by SIGTERM\./,
    );
  });

  it('Schedule @every 1s: wanted running from the start, it runs every second, scheduled between runs, the next run shown', async () => {
    await box.waitFor('4 runs', () => lines('ticker').length >= 4, 15_000);
    const times = lines('ticker').map(Number);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(
      gaps.every((g) => g > 700 && g < 1500),
      `runs ${gaps.join(', ')} ms apart`,
    );
    const spawned = ofType('ticker', 'spawned');
    assert.ok(spawned.length >= 3);
    assert.ok(spawned.every((e) => detail(e).scheduled === true));
    const c = await box.client();
    const s = await box.waitFor('ticker between runs', async () => {
      const [x] = await c.status('ticker');
      return x?.state === 'scheduled' ? x : undefined;
    });
    assert.equal(s.desired, 'running');
    assert.ok(s.nextRun && Date.parse(s.nextRun) > Date.now() - 1000, `nextRun ${String(s.nextRun)}`);
    const list = await box.upk(['list']);
    assert.match(list.stdout, /NEXT RUN/);
    assert.match(list.stdout, /^ticker +(scheduled|running) .* in \d+ms \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/m);
    const json = JSON.parse((await box.upk(['list', '--json'])).stdout) as ServiceStatus[];
    assert.equal(typeof json.find((x) => x.name === 'ticker')?.nextRun, 'string');
    assert.equal(json.find((x) => x.name === 'once')?.nextRun, undefined);
    // upk stop pauses the schedule: no run after it.
    assert.equal((await box.upk(['stop', 'ticker'])).code, 0);
    const stopped = lines('ticker').length;
    await sleep(1500);
    assert.equal(lines('ticker').length, stopped);
    assert.equal((await c.status('ticker'))[0]?.nextRun, undefined);
  });

  it('ScheduleOverlap skip: a run due while the last one runs is skipped and recorded; runs never overlap', async () => {
    const c = await box.client();
    await c.start('overlapping'); // (runs it now, returns when the run has ended: 2.2 s)
    await box.waitFor('a skipped run', () => ofType('overlapping', 'run_skipped').length >= 2, 15_000);
    await c.stop('overlapping');
    const seen = lines('overlap');
    for (let i = 0; i < seen.length; i++) assert.equal(seen[i], i % 2 === 0 ? 'start' : 'end', `run ${i} began before the last ended`);
    const skipped = detailOf({ type: 'run_skipped', detail: detail(ofType('overlapping', 'run_skipped')[0]!) }, 'run_skipped');
    assert.equal(skipped.overlap, 'skip');
    assert.match(skipped.due ?? '', /^\d{4}-\d\d-\d\dT/);
  });

  it('the schedule goes on while no controller runs: every run is recorded once it is back', async () => {
    const c = await box.client();
    await c.start('offline');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    const before = lines('offline').length;
    await box.waitFor('3 runs without a controller', () => lines('offline').length >= before + 3, 15_000);
    await box.startController();
    const c2 = await box.client();
    await c2.stop('offline');
    const runs = assertStartsRecorded(box.events('offline'), box.file('offline'));
    assert.ok(runs >= 4, `${runs} runs`);
    const exits = ofType('offline', 'exited').filter((e) => detail(e).requested === false);
    assert.ok(exits.length >= runs - 1);
    assert.ok(exits.every((e) => detail(e).outcome === 'success'));
  });

  it('CronRestart restarts a long-running service at its times, recorded with the cause', async () => {
    const c = await box.client();
    const [started] = await c.start('cronned');
    assert.equal(started?.ok, true, started?.message);
    await box.waitFor('two planned restarts', () => ofType('cronned', 'spawned').length >= 3, 15_000);
    const restarts = ofType('cronned', 'cron_restart');
    assert.ok(restarts.length >= 2);
    const spawned = ofType('cronned', 'spawned');
    assert.ok(spawned.slice(1).every((e) => detail(e).scheduled === true && detail(e).restart === false));
    assert.equal(new Set(spawned.map((e) => e.pid)).size, spawned.length, 'a new process each time');
    for (const r of restarts) assert.equal(new Date(String(detail(r).due)).getSeconds() % 2, 0);
    const [s] = await c.status('cronned');
    assert.equal(s?.desired, 'running');
    assert.ok(s?.nextRun);
    await c.stop('cronned');
  });
});
