// Runs and trends from known event sequences, stored in a real SQLite file, against figures computed by hand.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuditStore } from '../../controller/audit-store.js';
import type { TrendMetric, TrendQuery } from '../../schema/client-protocol.js';
import type { BuddyEvent, UsageDetail } from '../../schema/records.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 5, 0, 0);
const NOW = T0 + 4 * HOUR;

type Ev = Omit<BuddyEvent, 'seq'>;

class Fixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'upk-trend-'));
  readonly store = new AuditStore(join(this.dir, 'upkeeper.db'));
  /** The test's own connection to the file: rows the store has no method for. */
  readonly sql = new Database(join(this.dir, 'upkeeper.db'));
  private seqs = new Map<number, number>();

  service(name: string): string {
    const uuid = `00000000-0000-4000-8000-${String(this.seqs.size + Math.floor(Math.random() * 1e6)).padStart(12, '0')}`;
    this.sql
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, ?, '{}', 'running', ?, ?)`)
      .run(uuid, name, T0, T0);
    return uuid;
  }

  buddy(uuid: string, instance: string): number {
    return this.store.buddyId(instance, uuid, 1, T0);
  }

  /** Store events of one buddy, numbered after the ones it stored before. */
  add(uuid: string, buddyId: number, events: Ev[]): void {
    let seq = this.seqs.get(buddyId) ?? 0;
    const numbered = events.map((e) => ({ ...e, seq: ++seq }));
    this.seqs.set(buddyId, seq);
    this.store.insertEvents([{ serviceUuid: uuid, service: 'x', instance: 'i', buddyId, events: numbered }]);
  }

  trend(uuid: string, metric: TrendMetric, bucketMs = HOUR, since = T0, until = NOW) {
    const q: TrendQuery = { metric, bucketMs, since: new Date(since).toISOString(), until: new Date(until).toISOString() };
    return this.store.trends.trend(q, [{ id: 'web', uuids: [uuid], knownFrom: T0 }], NOW).series[0]!;
  }

  runs(uuid: string) {
    return this.sql
      .prepare('SELECT pid, started, ended, cause, outcome, code, signal FROM runs WHERE service_uuid = ? ORDER BY started, id')
      .all(uuid);
  }

  close(): void {
    this.sql.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const at = (m: number): number => T0 + m * MIN;
const spawned = (m: number, pid: number, restart: boolean): Ev => ({ time: at(m), type: 'spawned', pid, detail: { restart } });
const exited = (m: number, pid: number, how: { code?: number; signal?: string }, requested = false): Ev => ({
  time: at(m),
  type: 'exited',
  pid,
  code: how.code ?? null,
  signal: how.signal ?? null,
  detail: { requested, uptimeMs: 0 },
});
const usage = (toMinute: number, d: Partial<UsageDetail>): Ev => ({
  time: at(toMinute),
  type: 'usage',
  detail: { from: at(toMinute - 1), to: at(toMinute), cpuMs: 0, rssKb: 0, rssMaxKb: 0, processes: 1, samples: 6, ...d },
});

describe('trends from a known history (by hand: 4 one-hour buckets)', { timeout: 10_000 }, () => {
  const f = new Fixture();
  let web = '';
  before(() => {
    web = f.service('web');
    const b = f.buddy(web, 'b1');
    f.add(web, b, [
      { time: at(0), type: 'buddy_started', pid: 1 },
      spawned(10, 100, false),
      usage(20, { cpuMs: 30_000, rssKb: 1000, rssMaxKb: 1500 }), // 50 % over its minute
      usage(30, { cpuMs: 6_000, rssKb: 3000, rssMaxKb: 3000 }), // 10 %
      exited(40, 100, { code: 1 }), // failure 1
      spawned(41, 101, true), // repaired after 1 min
      exited(70, 101, { signal: 'SIGKILL' }), // failure 2
      { time: at(75), type: 'spawn_failed', detail: { error: 'EACCES', restart: true } }, // failure 3
      spawned(80, 102, true), // repairs failure 2 (10 min) and 3 (5 min)
      exited(150, 102, { code: 0 }, true), // a stop
      spawned(170, 103, false), // runs on until now (4 h)
    ]);
  });
  after(() => f.close());

  it("the store's counters for metrics: events stored (usage records apart), CPU ms of the usage records by service, each once", () => {
    assert.equal(f.store.stored.events, 9, 'the 11 records less the 2 usage records');
    assert.equal(f.store.stored.cpuMs.get(web), 36_000);
    // Sent again (a buddy that was not acknowledged): stored once, counted once.
    const b = f.buddy(web, 'b1');
    f.store.insertEvents([
      { serviceUuid: web, service: 'web', instance: 'b1', buddyId: b, events: [{ ...usage(20, { cpuMs: 30_000 }), seq: 3 }] },
    ]);
    assert.equal(f.store.stored.cpuMs.get(web), 36_000);
    assert.equal(f.store.stored.events, 9);
  });

  it('the runs table: one row per run, with cause and outcome', () => {
    assert.deepEqual(
      f.runs(web).map((r) => ({ ...(r as object) })),
      [
        { pid: 100, started: at(10), ended: at(40), cause: 'start', outcome: 'failed', code: 1, signal: null },
        { pid: 101, started: at(41), ended: at(70), cause: 'restart', outcome: 'failed', code: null, signal: 'SIGKILL' },
        { pid: null, started: at(75), ended: at(75), cause: 'restart', outcome: 'spawn_failed', code: null, signal: null },
        { pid: 102, started: at(80), ended: at(150), cause: 'restart', outcome: 'stopped', code: 0, signal: null },
        { pid: 103, started: at(170), ended: null, cause: 'start', outcome: null, code: null, signal: null },
      ],
    );
  });

  const values = (metric: TrendMetric, bucket = HOUR) => {
    const s = f.trend(web, metric, bucket);
    return { points: s.points.map((p) => p.value), total: s.total, max: s.max, flapping: s.flapping };
  };

  it('restarts: automatic starts, counted when they begin (a start that could not execute too)', () => {
    assert.deepEqual(values('restarts'), { points: [1, 2, 0, 0], total: 3, max: undefined, flapping: null });
  });

  it('failures: exits nobody asked for, and starts that could not execute, counted when they end', () => {
    assert.deepEqual(values('failures').points, [1, 2, 0, 0]);
    assert.equal(values('failures').total, 3);
  });

  it('uptime: the share of each bucket some run of it was up', () => {
    // 0-60: 10→40 and 41→60 = 49 min; 60-120: 60→70 and 80→120 = 50; 120-180: 120→150 and 170→180 = 40; 180-240: 60.
    const pct = (min: number, of = 60) => Math.round((min / of) * 100 * 1000) / 1000;
    assert.deepEqual(values('uptime').points, [pct(49), pct(50), pct(40), 100]);
    assert.equal(values('uptime').total, pct(199, 240));
  });

  it('MTBF: up time over failures, in seconds; no failure, no value', () => {
    assert.deepEqual(values('mtbf').points, [49 * 60, (50 * 60) / 2, null, null]);
    assert.equal(values('mtbf').total, Math.round(((199 * 60) / 3) * 1000) / 1000);
  });

  it('MTTR: from each failure to the next run that did start, in seconds', () => {
    assert.deepEqual(values('mttr').points, [60, (600 + 300) / 2, null, null]);
    assert.equal(values('mttr').total, (60 + 600 + 300) / 3);
  });

  it('cpu and rss: from the usage records, weighted by the time they cover', () => {
    assert.deepEqual(values('cpu').points, [30, null, null, null]); // 36 s of CPU over 2 min
    const rss = values('rss');
    assert.deepEqual(rss.points, [2000 * 1024, null, null, null]);
    assert.equal(rss.max, 3000 * 1024);
    // Buckets of 30 minutes come from the minute records: the 20th minute's record, then the 30th's.
    assert.deepEqual(values('cpu', 30 * MIN).points, [50, 10, null, null, null, null, null, null]);
  });

  it('buckets shorter than an hour count the runs themselves, and agree with the hourly sums', () => {
    // 30-minute buckets: 0-30: 10→30 = 20 min; 30-60: 30→40 and 41→60 = 29; 60-90: 60→70 and 80→90 = 20;
    // 90-120, 120-150: 30 each; 150-180: 170→180 = 10; then 30 and 30.
    const pct = (min: number) => Math.round((min / 30) * 100 * 1000) / 1000;
    assert.deepEqual(values('uptime', 30 * MIN).points, [20, 29, 20, 30, 30, 10, 30, 30].map(pct));
    assert.deepEqual(values('restarts', 30 * MIN).points, [0, 1, 2, 0, 0, 0, 0, 0]);
    assert.deepEqual(values('failures', 30 * MIN).points, [0, 1, 2, 0, 0, 0, 0, 0]);
    assert.deepEqual(values('mttr', 30 * MIN).points, [null, 60, 450, null, null, null, null, null]);
    for (const metric of ['restarts', 'failures', 'uptime', 'mtbf', 'mttr'] as const) {
      assert.equal(values(metric, 30 * MIN).total, values(metric).total, `${metric} over the whole range`);
    }
  });

  it('a range that ends before now and not on the hour is not read from the hourly sums', () => {
    // 60-90: 60→70 and 80→90 = 20 of 30 minutes.
    const pct = (min: number, of: number) => Math.round((min / of) * 100 * 1000) / 1000;
    assert.deepEqual(
      f.trend(web, 'uptime', HOUR, T0, at(90)).points.map((p) => p.value),
      [pct(49, 60), pct(20, 30)],
    );
    assert.deepEqual(
      f.trend(web, 'restarts', HOUR, T0, at(78)).points.map((p) => p.value),
      [1, 1],
    );
  });

  it('before the service was known (created, or its history pruned) a bucket has no value', () => {
    const s = f.trend(web, 'restarts', HOUR, T0 - 2 * HOUR);
    assert.deepEqual(
      s.points.map((p) => p.value),
      [null, null, 1, 2, 0, 0],
    );
    assert.deepEqual(
      f
        .trend(web, 'uptime', HOUR, T0 - 2 * HOUR)
        .points.slice(0, 2)
        .map((p) => p.value),
      [null, null],
    );
  });

  it("the last sequence number of a buddy counts its usage records too (a controller's starting point)", () => {
    const b = f.buddy(web, 'b1');
    assert.equal(f.store.lastSeq(b), 11);
    const other = f.buddy(web, 'b-events-only');
    f.add(web, other, [{ time: at(1), type: 'buddy_started', pid: 9 }]);
    assert.equal(f.store.lastSeq(other), 1, 'a buddy with events and no usage record');
  });

  it('a range of more than 1000 buckets is refused', () => {
    assert.throws(() => f.trend(web, 'restarts', MIN, T0 - 30 * HOUR), /2040 buckets of 1m: at most 1000/);
  });
});

describe('flapping', { timeout: 10_000 }, () => {
  const f = new Fixture();
  after(() => f.close());

  it('five automatic restarts within ten minutes flag the service; fewer do not', () => {
    const flappy = f.service('flappy');
    const b = f.buddy(flappy, 'fb');
    f.add(flappy, b, [spawned(0, 1, false)]);
    for (let i = 0; i < 6; i++) f.add(flappy, b, [exited(20 + i * 1.5, 1 + i, { code: 1 }), spawned(20 + i * 1.5 + 0.1, 2 + i, true)]);
    const s = f.trend(flappy, 'restarts');
    assert.deepEqual(s.flapping, { restarts: 6, windowMs: 10 * MIN, at: new Date(at(20.1)).toISOString(), runaways: 0 });

    const calm = f.service('calm');
    const c = f.buddy(calm, 'cb');
    f.add(calm, c, [spawned(0, 50, false)]);
    for (let i = 0; i < 4; i++) f.add(calm, c, [exited(20 + i * 30, 50 + i, { code: 1 }), spawned(20 + i * 30 + 1, 51 + i, true)]);
    assert.equal(f.trend(calm, 'restarts').flapping, null);
  });

  it('a runaway hold flags the service too', () => {
    const held = f.service('held');
    const b = f.buddy(held, 'hb');
    f.add(held, b, [spawned(0, 70, false), { time: at(5), type: 'runaway', detail: { starts: 11 } }]);
    assert.deepEqual(f.trend(held, 'failures').flapping, {
      restarts: 0,
      windowMs: 10 * MIN,
      at: new Date(at(5)).toISOString(),
      runaways: 1,
    });
  });
});

describe('runs across buddies', { timeout: 10_000 }, () => {
  const f = new Fixture();
  after(() => f.close());

  it('a run whose buddy died with it ends at its last usage record; a late journal puts the true end in', () => {
    const svc = f.service('db');
    const b1 = f.buddy(svc, 'db1');
    f.add(svc, b1, [spawned(10, 200, false), usage(30, { cpuMs: 1000 })]);
    const b2 = f.buddy(svc, 'db2');
    f.add(svc, b2, [{ time: at(100), type: 'buddy_started', pid: 2 }]);
    assert.deepEqual(f.runs(svc)[0], {
      pid: 200,
      started: at(10),
      ended: at(30),
      cause: 'start',
      outcome: 'lost',
      code: null,
      signal: null,
    });
    f.add(svc, b2, [spawned(101, 201, false)]);
    // The first buddy's journal, taken in later, knows how its service ended.
    f.add(svc, b1, [exited(35, 200, { code: 2 })]);
    assert.deepEqual(f.runs(svc).slice(0, 1), [
      { pid: 200, started: at(10), ended: at(35), cause: 'start', outcome: 'failed', code: 2, signal: null },
    ]);
  });

  it('a run adopted by a new buddy goes on', () => {
    const svc = f.service('api');
    const b1 = f.buddy(svc, 'api1');
    f.add(svc, b1, [spawned(10, 300, false)]);
    const b2 = f.buddy(svc, 'api2');
    f.add(svc, b2, [
      { time: at(50), type: 'buddy_started', pid: 3 },
      { time: at(50), type: 'adopted', pid: 300, detail: { startedAt: new Date(at(10)).toISOString() } },
    ]);
    f.add(svc, b2, [exited(90, 300, {}, false)]);
    assert.deepEqual(f.runs(svc), [
      { pid: 300, started: at(10), ended: at(90), cause: 'start', outcome: 'failed', code: null, signal: null },
    ]);
  });

  it('a failure that began and ended in the same millisecond is not its own recovery', () => {
    const svc = f.service('instant');
    const b = f.buddy(svc, 'in1');
    f.add(svc, b, [spawned(10, 400, false), exited(10, 400, { code: 1 })]);
    const runs = () =>
      f.sql.prepare('SELECT repaired FROM runs WHERE service_uuid = ? ORDER BY id').all(svc) as { repaired: number | null }[];
    assert.deepEqual(runs(), [{ repaired: null }]);
    f.add(svc, b, [spawned(11, 401, true)]);
    assert.deepEqual(runs()[0], { repaired: at(11) });
  });

  it('an adoption stored after a later start is a run that was lost', () => {
    const svc = f.service('late');
    const b1 = f.buddy(svc, 'late1');
    f.add(svc, b1, [spawned(50, 500, false)]);
    const b2 = f.buddy(svc, 'late2');
    f.add(svc, b2, [{ time: at(20), type: 'adopted', pid: 499, detail: { startedAt: new Date(at(5)).toISOString() } }]);
    const open = f.sql.prepare('SELECT count(*) AS n FROM runs WHERE service_uuid = ? AND ended IS NULL').get(svc) as { n: number };
    assert.equal(open.n, 1, 'only the latest run is open');
  });

  it('rebuilding the runs from the events gives the same rows', () => {
    const all = () => [
      f.sql
        .prepare(
          'SELECT service_uuid, buddy_id, pid, started, ended, cause, outcome, code, signal, repaired FROM runs ORDER BY service_uuid, started, id',
        )
        .all(),
      f.sql.prepare('SELECT * FROM run_hours ORDER BY service_uuid, hour').all(),
    ];
    const before = all();
    assert.ok(before[0]!.length >= 3 && before[1]!.length >= 2);
    f.store.transaction(() => f.store.runs.rebuild());
    assert.deepEqual(all(), before);
  });
});
