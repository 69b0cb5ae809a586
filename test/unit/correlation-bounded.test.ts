// What fails together, in memory bounded whatever the history holds (docs/correlation.md, "How it is
// read from the database"): the streaming forms of the statistic (Chance, Together, FiguresSum) give
// what the array forms give; the store gives, on a random history with many more failures than it
// counts, exactly what the implementation that read every time into arrays gave (kept below as the
// oracle); and its heap does not grow with another service's 200,000 failures.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { AuditStore } from '../../controller/audit-store.js';
import { Chance, FiguresSum, Together, chanceOf, episodeOnsets, figures, strongerFirst, together } from '../../schema/correlation-math.js';
import type { Subject } from '../../controller/correlation.js';
import { ranked, resultOf, type CorrelationAsk } from '../../schema/correlation-rank.js';
import {
  CORRELATION_KINDS,
  CORRELATION_MIN_FAILURES,
  isSignificant,
  type Correlation,
  type CorrelationKind,
  type CorrelationResult,
} from '../../schema/correlation-protocol.js';
import { isoTime } from '../../schema/records.js';

/** A small seeded generator (mulberry32): the same history on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the statistic, one time at a time, is the statistic of the list', () => {
  it('Chance, Together and FiguresSum against chanceOf, together and figures, on random times (ties, duplicates, outside the range)', () => {
    const next = random(7);
    for (let round = 0; round < 500; round++) {
      const grid = 1 + Math.floor(next() * 5); // coarse times: ties and duplicates
      const span = 50 + Math.floor(next() * 200);
      const at = (): number => Math.floor(next() * span) * grid - 20;
      const times = Array.from({ length: Math.floor(next() * 60) }, at).sort((a, b) => a - b);
      const w = Math.floor(next() * 12);
      const from = Math.floor(next() * 40);
      const range = { from, to: from + Math.floor(next() * span * grid) };
      const failures = Array.from(
        { length: Math.floor(next() * 30) },
        () => range.from + Math.floor(next() * (range.to - range.from + 1)),
      ).sort((a, b) => a - b);
      const chance = new Chance(w, range);
      const near = new Together(failures, w);
      const sum = new FiguresSum(failures, w, range);
      for (const t of times) {
        chance.add(t);
        near.add(t);
        sum.add(t);
      }
      const what = JSON.stringify({ times, w, range, failures });
      assert.equal(chance.value(), chanceOf(times, w, range), what);
      assert.deepEqual(near.offsets(), together(failures, times, w), what);
      assert.deepEqual(sum.figures(), figures(failures, times, w, range), what);
    }
  });
});

// ---- The oracle: the store as it was before it was bounded (every time of the range read into arrays) ----

interface HealthRow {
  uuid: string;
  time: number;
  type: 'unhealthy' | 'limit_exceeded' | 'start_timeout';
  action: string | null;
}
type Times = Record<CorrelationKind, number[]>;

class ArrayCorrelations {
  constructor(private readonly db: Database.Database) {}

  around(subject: Subject, others: Subject[], ask: CorrelationAsk): CorrelationResult {
    const from = Math.max(ask.since, this.oldest() ?? ask.since);
    const health = this.health(from - ask.windowMs, ask.until + ask.windowMs);
    const { failures, range } = lastFailures(
      this.failures(subject.uuids, from, ask.until, health),
      ask.failures,
      ask.windowMs,
      from,
      ask.until,
    );
    const result = resultOf(subject.id, ask, range, failures.length);
    if (failures.length === 0) return result;
    const own = new Set(subject.uuids);
    const rows: Correlation[] = [];
    for (const other of others.filter((o) => !o.uuids.some((u) => own.has(u)))) {
      const times = this.times(other.uuids, range.from - ask.windowMs, range.to + ask.windowMs, health);
      for (const kind of CORRELATION_KINDS) {
        const f = figures(failures, times[kind], ask.windowMs, range);
        if (f.together > 0) rows.push(row(subject.id, other.id, kind, f));
      }
    }
    result.correlations = ranked(rows).slice(0, ask.limit);
    return result;
  }

  fleet(subjects: Subject[], ask: CorrelationAsk): CorrelationResult {
    const from = Math.max(ask.since, this.oldest() ?? ask.since);
    const health = this.health(from - ask.windowMs, ask.until + ask.windowMs);
    const all = subjects.map((s) => ({ ...s, times: this.failures(s.uuids, from - ask.windowMs, ask.until + ask.windowMs, health) }));
    const failing = all
      .map((s) => ({ ...s, ...lastFailures(s.times, ask.failures, ask.windowMs, from, ask.until) }))
      .filter((s) => s.failures.length > 0);
    const best = new Map<string, Correlation>();
    for (const a of failing) {
      for (const b of all) {
        if (b.id === a.id) continue;
        const f = figures(a.failures, b.times, ask.windowMs, a.range);
        if (f.together === 0) continue;
        const pair = [a.id, b.id].sort().join('\n');
        const known = best.get(pair);
        if (!known || strongerFirst(f, known) < 0) best.set(pair, row(a.id, b.id, 'failed', f));
      }
    }
    const counted = failing.reduce((sum, s) => sum + s.failures.length, 0);
    const earliest = Math.min(ask.until, ...failing.map((s) => s.range.from));
    const result = resultOf(null, ask, { from: earliest, to: ask.until }, counted);
    result.tooFew = !failing.some((s) => s.failures.length >= CORRELATION_MIN_FAILURES);
    result.correlations = ranked([...best.values()]).slice(0, ask.limit);
    return result;
  }

  private oldest(): number | null {
    return this.db.prepare<[], number | null>('SELECT min(time) FROM events').pluck().get() ?? null;
  }

  private health(from: number, to: number): Map<string, HealthRow[]> {
    const byUuid = new Map<string, HealthRow[]>();
    const rows = this.db
      .prepare<[number, number], HealthRow>(
        `SELECT service_uuid AS uuid, time, type, json_extract(detail, '$.action') AS action FROM events
         WHERE type IN ('unhealthy', 'limit_exceeded', 'start_timeout') AND time >= ? AND time <= ?`,
      )
      .all(from, to);
    for (const r of rows) {
      const list = byUuid.get(r.uuid);
      if (list) list.push(r);
      else byUuid.set(r.uuid, [r]);
    }
    return byUuid;
  }

  private column(sql: string, uuid: string, from: number, to: number): number[] {
    return this.db.prepare<[string, number, number], number>(sql).pluck().all(uuid, from, to);
  }

  private failures(uuids: string[], from: number, to: number, health: Map<string, HealthRow[]>): number[] {
    const out: number[] = [];
    for (const uuid of uuids) {
      out.push(
        ...this.column(
          `SELECT ended FROM runs WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND outcome IN ('failed', 'spawn_failed')`,
          uuid,
          from,
          to,
        ),
      );
      for (const h of health.get(uuid) ?? []) {
        if (h.time >= from && h.time <= to && (h.type === 'start_timeout' || h.action === 'restart' || h.action === 'stop'))
          out.push(h.time);
      }
    }
    return out.sort((a, b) => a - b);
  }

  private times(uuids: string[], from: number, to: number, health: Map<string, HealthRow[]>): Times {
    const t: Times = { failed: this.failures(uuids, from, to, health), restarted: [], stopped: [], unhealthy: [], config: [] };
    for (const uuid of uuids) {
      t.restarted.push(
        ...this.column(
          `SELECT started FROM runs WHERE service_uuid = ? AND started >= ? AND started <= ? AND cause IN ('start', 'restart') AND outcome IS NOT 'spawn_failed'`,
          uuid,
          from,
          to,
        ),
      );
      t.stopped.push(
        ...this.column(
          `SELECT ended FROM runs WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND outcome = 'stopped'`,
          uuid,
          from,
          to,
        ),
      );
      t.config.push(
        ...this.column(
          `SELECT time FROM config_changes WHERE service_uuid = ? AND time >= ? AND time <= ? AND change = 'changed'`,
          uuid,
          from,
          to,
        ),
      );
      for (const h of health.get(uuid) ?? []) if (h.type !== 'start_timeout' && h.time >= from && h.time <= to) t.unhealthy.push(h.time);
    }
    for (const kind of CORRELATION_KINDS) t[kind].sort((a, b) => a - b);
    return t;
  }
}

function lastFailures(
  times: number[],
  n: number,
  windowMs: number,
  from: number,
  to: number,
): { failures: number[]; range: { from: number; to: number } } {
  const onsets = episodeOnsets(
    times.filter((t) => t >= from && t <= to),
    windowMs,
  );
  const failures = onsets.slice(-n);
  return { failures, range: { from: onsets.length > n ? failures[0]! : from, to } };
}

function row(service: string, other: string, kind: CorrelationKind, f: ReturnType<typeof figures>): Correlation {
  const c: Correlation = { service, other, kind, prerequisite: false, ...f, significant: false };
  c.significant = isSignificant(c);
  return c;
}

// ---- Histories written straight into a real database ----

const T0 = Date.UTC(2026, 0, 5);
const S = 1000;

/** A database with the store's schema, and a connection of its own to write the rows the test needs. */
class Db {
  readonly dir = mkdtempSync(join(tmpdir(), 'upk-correlate-bounded-'));
  readonly store = new AuditStore(join(this.dir, 'upkeeper.db'));
  readonly sql = new Database(join(this.dir, 'upkeeper.db'));
  private seq = 0;

  /** A service (or one more uuid of an id: the one before was removed), with its buddy; returns the buddy's id. */
  service(uuid: string, name: string, removed: number | null = null): number {
    this.sql
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified, removed) VALUES (?, ?, '{}', 'running', ?, ?, ?)`)
      .run(uuid, name, T0, T0, removed);
    const buddy = this.sql.prepare(`INSERT INTO buddies (instance, service_uuid, pid, started, seen) VALUES (?, ?, 1, ?, ?)`);
    return Number(buddy.run(`buddy-${uuid}`, uuid, T0, T0).lastInsertRowid);
  }

  run(uuid: string, buddyId: number, started: number, cause: string, ended: number | null, outcome: string | null): void {
    this.sql
      .prepare(`INSERT INTO runs (service_uuid, buddy_id, pid, started, cause, ended, outcome) VALUES (?, ?, 1, ?, ?, ?, ?)`)
      .run(uuid, buddyId, started, cause, ended, outcome);
  }

  event(uuid: string, buddyId: number, time: number, type: string, detail: object | null): void {
    this.sql
      .prepare('INSERT INTO events (service_uuid, buddy_id, seq, time, type, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(uuid, buddyId, ++this.seq, time, type, detail === null ? null : JSON.stringify(detail));
  }

  change(uuid: string, name: string, time: number, change: string): void {
    this.sql
      .prepare(`INSERT INTO config_changes (time, service_uuid, service, change, trigger) VALUES (?, ?, ?, ?, 'reload')`)
      .run(time, uuid, name, change);
  }

  close(): void {
    this.sql.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('the store, bounded, gives what the arrays gave', { timeout: 30_000 }, () => {
  let db: Db;
  const SPAN = 20_000 * S;
  before(() => {
    db = new Db();
    const next = random(2026);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
    // Times on a grid of 250 ms: ties within a service and across services.
    const at = (): number => T0 + Math.floor(next() * (SPAN / 250)) * 250;
    // loop crash-loops (thousands of failures); the others fail now and then; e is two uuids (removed, then added again).
    const services: [uuid: string, name: string, runs: number, removed: number | null][] = [
      ['00000000-0000-4000-8000-000000000001', 'loop', 3000, null],
      ['00000000-0000-4000-8000-000000000002', 'web', 300, null],
      ['00000000-0000-4000-8000-000000000003', 'db', 120, null],
      ['00000000-0000-4000-8000-000000000004', 'cache', 40, null],
      ['00000000-0000-4000-8000-000000000005', 'e', 80, T0 + SPAN / 2],
      ['00000000-0000-4000-8000-000000000006', 'e', 80, null],
      ['00000000-0000-4000-8000-000000000007', 'quiet', 0, null],
    ];
    db.sql.transaction(() => {
      db.event(services[6]![0], db.service(services[6]![0], 'quiet'), T0, 'buddy_started', null);
      for (const [uuid, name, runs, removed] of services.slice(0, 6)) {
        const buddy = db.service(uuid, name, removed);
        for (let i = 0; i < runs; i++) {
          const started = at();
          const open = next() < 0.02;
          const ended = open ? null : started + pick([0, 250, 1000, 4000, 30_000]);
          const outcome = open ? null : pick(['failed', 'failed', 'failed', 'spawn_failed', 'stopped', 'stopped', 'lost']);
          db.run(uuid, buddy, started, pick(['start', 'restart', 'restart', 'adopted']), ended, outcome);
        }
        for (let i = 0; i < runs / 4; i++) {
          const type = pick(['unhealthy', 'limit_exceeded', 'start_timeout', 'healthy', 'ready']);
          db.event(uuid, buddy, at(), type, { action: pick(['restart', 'stop', 'none', null, 7]) });
        }
        for (let i = 0; i < runs / 10; i++) db.change(uuid, name, at(), pick(['changed', 'changed', 'added', 'kept']));
      }
    })();
  });
  after(() => db.close());

  it('around each service and fleet-wide: the last 1, 7, 50 and every failure, windows of 1 s to 2 min, ranges cut or not', () => {
    const oracle = new ArrayCorrelations(db.sql);
    const c = db.store.correlations;
    const subjects = c.subjects();
    assert.deepEqual(
      subjects.map((s) => [s.id, s.uuids.length]),
      [
        ['cache', 1],
        ['db', 1],
        ['e', 2],
        ['loop', 1],
        ['quiet', 1],
        ['web', 1],
      ],
    );
    let rows = 0;
    let cut = 0;
    for (const failures of [1, 7, 50, 10_000]) {
      for (const windowMs of [1 * S, 10 * S, 120 * S]) {
        for (const [since, until] of [
          [T0 - 3600 * S, T0 + SPAN + 3600 * S],
          [T0 + SPAN / 3, T0 + (SPAN * 2) / 3],
        ] as const) {
          const ask: CorrelationAsk = { windowMs, since, until, failures, limit: 1000 };
          const what = JSON.stringify({ failures, windowMs, since, until });
          for (const s of subjects) {
            const expected = oracle.around(s, subjects, ask);
            assert.deepEqual(c.around(s, subjects, ask), expected, `${s.id} ${what}`);
            rows += expected.correlations.length;
            if (expected.since !== isoTime(Math.max(since, T0))) cut++;
          }
          const expected = oracle.fleet(subjects, ask);
          assert.deepEqual(c.fleet(subjects, ask), expected, `fleet ${what}`);
          rows += expected.correlations.length;
        }
      }
    }
    // The comparison compared something: rows, and ranges cut by the last-n rule.
    assert.ok(rows > 500, `${rows} rows`);
    assert.ok(cut > 20, `${cut} ranges cut`);
  });
});

describe('memory: another service with 200,000 failures', { timeout: 60_000 }, () => {
  const N = 200_000;
  let db: Db;
  const web = { id: 'web', uuids: ['00000000-0000-4000-8000-000000000001'] };
  before(() => {
    db = new Db();
    const [webUuid, loopUuid] = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];
    const webBuddy = db.service(webUuid, 'web');
    const loopBuddy = db.service(loopUuid, 'loop');
    db.event(loopUuid, loopBuddy, T0 - S, 'buddy_started', null);
    // loop: N runs that failed, one every 2 s, each begun 1 s before (a restart). web: 100 failures over the same time.
    const many = (count: number, uuid: string, buddy: number, every: number): void => {
      db.sql
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
           INSERT INTO runs (service_uuid, buddy_id, pid, started, cause, ended, outcome) SELECT ?, ?, 1, ? + i * ?, 'restart', ? + i * ? + 1000, 'failed' FROM n`,
        )
        .run(count, uuid, buddy, T0, every, T0, every);
    };
    many(N, loopUuid, loopBuddy, 2 * S);
    many(100, webUuid, webBuddy, (N / 50) * S + 500);
  });
  after(() => db.close());

  it("the heap's peak during around and fleet stays under 1 MiB (the arrays held 200,000 times of each kind)", () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // The heap is sampled, after a full collection, after every .all() and every 10,000 rows of every .iterate().
    const proto = Object.getPrototypeOf(db.sql.prepare('SELECT 1')) as {
      all: (...a: unknown[]) => unknown;
      iterate: (...a: unknown[]) => Iterator<unknown>;
    };
    const { all, iterate } = proto;
    let peak = 0;
    let samples = 0;
    const sample = (): void => {
      gc();
      samples++;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    };
    proto.all = function (this: unknown, ...a: unknown[]) {
      const rows = all.apply(this, a);
      sample();
      return rows;
    };
    proto.iterate = function (this: unknown, ...a: unknown[]) {
      const rows = iterate.apply(this, a);
      let n = 0;
      return {
        next: () => {
          const r = rows.next();
          if (!r.done && ++n % 10_000 === 0) sample();
          return r;
        },
        return: (value?: unknown) => rows.return?.(value) ?? { done: true, value },
        [Symbol.iterator]() {
          return this;
        },
      };
    };
    try {
      const c = db.store.correlations;
      const ask: CorrelationAsk = { windowMs: 30 * S, since: T0 - 3600 * S, until: T0 + 2 * N * S, failures: 100, limit: 20 };
      for (const run of [() => c.around(web, c.subjects(), ask), () => c.fleet(c.subjects(), ask)]) {
        gc();
        const base = process.memoryUsage().heapUsed;
        peak = base;
        samples = 0;
        const r = run();
        // Fleet-wide: web's 100 failures, and loop's crash loop (a failure every 2 s, within the ±30 s) one episode.
        assert.equal(r.failures, r.service === null ? 101 : 100);
        assert.ok(peak - base < 1024 * 1024, `the heap grew by ${((peak - base) / 1048576).toFixed(2)} MiB`);
        assert.ok(samples >= 20, `${samples} samples: loop's times were read`);
      }
    } finally {
      proto.all = all;
      proto.iterate = iterate;
    }
  });
});
