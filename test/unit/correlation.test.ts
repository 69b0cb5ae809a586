// What fails together (docs/correlation.md): the statistic on histories computed by hand, first the
// pure functions (schema/correlation-math.ts), then the same figures read from a real SQLite file
// through the store (controller/correlation.ts), one service's correlations and the fleet-wide pairs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuditStore } from '../../controller/audit-store.js';
import { binomialTail, chanceOf, episodeOnsets, figures, median, together } from '../../schema/correlation-math.js';
import { strongestCorrelation } from '../../controller/correlation.js';
import type { CorrelationAsk } from '../../schema/correlation-rank.js';
import { describeCorrelation } from '../../libclient/correlation-words.js';
import { correlationValidators, isSignificant } from '../../schema/correlation-protocol.js';
import { ErrorCode } from '../../schema/errors.js';
import type { BuddyEvent } from '../../schema/records.js';

const S = 1000;
/** Equal to 12 decimal places: the figures are sums of a few floating-point terms. */
const near = (actual: number | null, expected: number, what: string): void =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} instead of ${expected}`);

describe('the statistic, by hand (times in s, window ±10 s, range [0, 1000 s])', () => {
  const range = { from: 0, to: 1000 * S };
  const w = 10 * S;
  const A = [100, 300, 500, 700].map((t) => t * S);

  it("k of n, the offsets and their median: B's events at 95, 305, 600, 702 s", () => {
    const B = [95, 305, 600, 702].map((t) => t * S);
    // 100: 95 is 5 s before (counted); 300: 305 is 5 s after; 500: nothing within [490, 510]
    // (600 is 100 s away); 700: 702 is 2 s after. k = 3, offsets −5, +5, +2 s: median +2 s.
    assert.deepEqual(together(A, B, w), [-5 * S, 5 * S, 2 * S]);
    // p: the windows [85, 105], [295, 315], [590, 610], [692, 712] are apart and within the range:
    // 4 × 20 s = 80 s of 1000 s, p = 0.08.
    near(chanceOf(B, w, range), 0.08, 'p');
    const f = figures(A, B, w, range);
    assert.equal(f.failures, 4);
    assert.equal(f.together, 3);
    assert.equal(f.medianOffsetMs, 2 * S);
    // expected = n p = 4 × 0.08 = 0.32; lift = (k / n) / p = 0.75 / 0.08 = 9.375.
    near(f.expected, 0.32, 'expected');
    near(f.lift, 9.375, 'lift');
    // P(X ≥ 3 | 4, 0.08) = C(4,3) 0.08³ 0.92 + 0.08⁴ = 4 × 0.000512 × 0.92 + 0.00004096
    //                     = 0.00188416 + 0.00004096 = 0.00192512.
    near(f.score, 0.00192512, 'score');
    assert.equal(isSignificant(f), true);
  });

  it('p: overlapping windows count once, the range cuts them, events outside it count only within w', () => {
    // −8 s: [−18, 2]; 5 s: [−5, 15]; 12 s: [2, 22]; together [−18, 22], within the range [0, 22]: 22 s.
    // 995 s: [985, 1005], within the range [985, 1000]: 15 s. 1015 s: [1005, 1025], outside: 0.
    // p = (22 + 15) / 1000 = 0.037.
    near(
      chanceOf(
        [-8, 5, 12, 995, 1015].map((t) => t * S),
        w,
        range,
      ),
      0.037,
      'p',
    );
    // Nothing, and an empty range.
    assert.equal(chanceOf([], w, range), 0);
    assert.equal(chanceOf([5 * S], w, { from: 10, to: 10 }), 1, 'an empty range is no evidence: P = 1, never "significant"');
  });

  it('p is 1 at most: events every 10 s cover the whole range; then any k is chance (P = 1)', () => {
    const dense = Array.from({ length: 101 }, (_, i) => i * 10 * S);
    assert.equal(chanceOf(dense, w, range), 1);
    const f = figures(A, dense, w, range);
    assert.equal(f.together, 4);
    assert.equal(f.lift, 1);
    assert.equal(f.score, 1);
    assert.equal(f.medianOffsetMs, 0);
  });

  it('the nearest event counts (the earlier of two as near), and only within the window', () => {
    // 100 s: 95 and 105 are both 5 s away: the earlier, −5 s. 300 s: 289 is 11 s away, outside ±10 s.
    assert.deepEqual(
      together(
        [100 * S, 300 * S],
        [95, 105, 289].map((t) => t * S),
        w,
      ),
      [-5 * S],
    );
    // Exactly w away counts.
    assert.deepEqual(together([100 * S], [110 * S], w), [10 * S]);
    assert.equal(median([]), null);
    assert.equal(median([3, -1, 2, 10]), 2.5);
  });

  it('the binomial tail P(X ≥ k)', () => {
    // n = 2, p = 0.5: P(X ≥ 1) = 1 − 0.25; P(X ≥ 2) = 0.25.
    near(binomialTail(2, 1, 0.5), 0.75, 'P(X ≥ 1 | 2, 0.5)');
    near(binomialTail(2, 2, 0.5), 0.25, 'P(X ≥ 2 | 2, 0.5)');
    assert.equal(binomialTail(2, 0, 0.3), 1);
    assert.equal(binomialTail(2, 3, 0.3), 0);
    assert.equal(binomialTail(5, 1, 0), 0);
    assert.equal(binomialTail(5, 5, 1), 1);
    // n = 10,000, p = 0.5: P(X ≥ 5000) = 1/2 + P(X = 5000)/2 ≈ 0.5 + 0.0079786/2 = 0.503989 (no
    // underflow of 0.5^10000).
    assert.ok(Math.abs(binomialTail(10_000, 5000, 0.5) - 0.503989) < 1e-5, String(binomialTail(10_000, 5000, 0.5)));
    const tiny = binomialTail(10_000, 300, 0.01);
    assert.ok(tiny > 0 && tiny < 1e-40, String(tiny));
  });

  it('too few failures mean nothing: n < 3, or k < 2, is never significant', () => {
    assert.equal(isSignificant({ failures: 2, together: 2, score: 0.0001 }), false);
    assert.equal(isSignificant({ failures: 10, together: 1, score: 0.0001 }), false);
    assert.equal(isSignificant({ failures: 3, together: 2, score: 0.049 }), true);
    assert.equal(isSignificant({ failures: 3, together: 2, score: 0.05 }), false);
  });
});

type Ev = Omit<BuddyEvent, 'seq'>;
const T0 = Date.UTC(2026, 0, 5, 0, 0);
const at = (s: number): number => T0 + s * S;
const spawned = (s: number, pid: number, restart: boolean): Ev => ({ time: at(s), type: 'spawned', pid, detail: { restart } });
const exited = (s: number, pid: number, requested = false): Ev => ({
  time: at(s),
  type: 'exited',
  pid,
  code: requested ? null : 1,
  signal: requested ? 'SIGTERM' : null,
  detail: { requested, uptimeMs: 0 },
});

/**
 * The history of the store tests, from 0 to 1000 s (times in s):
 *   web    fails at 100, 300, 500, 700 (restarted 1 s after each).
 *   db     starts at 0; fails at 95, 600, 702; restarted at 97, 603, 704.
 *   cache  starts at 0; unhealthy at 298 (action none); configuration changed at 299; stopped at
 *          502 (an exit asked for), started again at 503.
 */
class History {
  readonly dir = mkdtempSync(join(tmpdir(), 'upk-correlate-'));
  readonly store = new AuditStore(join(this.dir, 'upkeeper.db'));
  private readonly sql = new Database(join(this.dir, 'upkeeper.db'));
  readonly uuids = new Map<string, string>();

  constructor() {
    const add = (name: string, events: Ev[]): void => {
      const uuid = `00000000-0000-4000-8000-00000000000${this.uuids.size + 1}`;
      this.uuids.set(name, uuid);
      this.sql
        .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, ?, '{}', 'running', ?, ?)`)
        .run(uuid, name, T0, T0);
      const buddyId = this.store.buddyId(`buddy-${name}`, uuid, 1, T0);
      const numbered = events.sort((a, b) => a.time - b.time).map((e, i) => ({ ...e, seq: i + 1 }));
      this.store.insertEvents([{ serviceUuid: uuid, service: name, instance: `buddy-${name}`, buddyId, events: numbered }]);
    };
    add('web', [spawned(0, 1, false), ...[100, 300, 500, 700].flatMap((t, i) => [exited(t, 1 + i), spawned(t + 1, 2 + i, true)])]);
    add('db', [
      spawned(0, 11, false),
      exited(95, 11),
      spawned(97, 12, true),
      exited(600, 12),
      spawned(603, 13, true),
      exited(702, 13),
      spawned(704, 14, true),
    ]);
    add('cache', [
      spawned(0, 21, false),
      {
        time: at(298),
        type: 'unhealthy',
        pid: 21,
        detail: { check: 'tcp 127.0.0.1:6379', failures: 3, output: 'refused', action: 'none' },
      },
      exited(502, 21, true),
      spawned(503, 22, false),
    ]);
    const cache = this.uuids.get('cache')!;
    this.store.recordChanges(
      [{ service: 'cache', uuid: cache, change: 'changed', message: 'ExecStart', keys: ['ExecStart'] }],
      'reload',
      at(299),
    );
  }

  subject(name: string) {
    return { id: name, uuids: [this.uuids.get(name)!] };
  }

  ask(over: Partial<CorrelationAsk> = {}): CorrelationAsk {
    // Since an hour before the history: the range begins where the history kept does, at 0.
    return { windowMs: 10 * S, since: at(-3600), until: at(1000), failures: 100, limit: 20, ...over };
  }

  close(): void {
    this.sql.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('correlations read from the audit database (the history of class History, window ±10 s)', { timeout: 10_000 }, () => {
  let h: History;
  before(() => (h = new History()));
  after(() => h.close());

  it("web's failures against every kind of the others' events, ranked", () => {
    const r = h.store.correlations.around(h.subject('web'), h.store.correlations.subjects(), h.ask(), new Set(['db']));
    assert.equal(r.service, 'web');
    assert.equal(r.failures, 4);
    assert.equal(r.tooFew, false);
    assert.equal(r.since, new Date(at(0)).toISOString(), 'the range begins where the history does');
    assert.equal(r.until, new Date(at(1000)).toISOString());
    const rows = r.correlations.map((c) => [c.other, c.kind, c.together, c.failures]);
    assert.deepEqual(rows, [
      ['db', 'failed', 2, 4],
      ['db', 'restarted', 2, 4],
      ['cache', 'stopped', 1, 4],
      ['cache', 'unhealthy', 1, 4],
      ['cache', 'config', 1, 4],
      ['cache', 'restarted', 1, 4],
    ]);
    const [dbFailed, dbRestarted, cacheStopped, cacheUnhealthy, cacheConfig, cacheRestarted] = r.correlations;
    // db failed (95, 600, 702): 100 ← 95 (−5 s), 700 ← 702 (+2 s); 300 and 500 have none. k = 2,
    // median offset −1.5 s. p = ([85,105] + [590,610] + [692,712]) / 1000 = 60 / 1000 = 0.06.
    // P(X ≥ 2 | 4, 0.06) = 1 − 0.94⁴ − 4 × 0.06 × 0.94³ = 1 − 0.78074896 − 0.19934016 = 0.01991088.
    near(dbFailed!.chance, 0.06, 'db failed p');
    near(dbFailed!.score, 0.01991088, 'db failed P');
    near(dbFailed!.expected, 0.24, 'db failed expected');
    near(dbFailed!.lift, 0.5 / 0.06, 'db failed lift');
    assert.equal(dbFailed!.medianOffsetMs, -1.5 * S);
    assert.equal(dbFailed!.prerequisite, true);
    assert.equal(dbFailed!.significant, true);
    // db restarted (0, 97, 603, 704): 100 ← 97 (−3 s), 700 ← 704 (+4 s): k = 2, median +0.5 s.
    // p = ([0,10], cut by the range, + [87,107] + [593,613] + [694,714]) / 1000 = 70 / 1000 = 0.07.
    // P(X ≥ 2 | 4, 0.07) = 1 − 0.93⁴ − 4 × 0.07 × 0.93³ = 1 − 0.74805201 − 0.22521996 = 0.02672803.
    near(dbRestarted!.chance, 0.07, 'db restarted p');
    near(dbRestarted!.score, 0.02672803, 'db restarted P');
    assert.equal(dbRestarted!.medianOffsetMs, 0.5 * S);
    // cache stopped (502), unhealthy (298), config (299): one each, 500 ← +2 s, 300 ← −2 s and −1 s;
    // p = 20 / 1000 = 0.02 each; P(X ≥ 1 | 4, 0.02) = 1 − 0.98⁴ = 1 − 0.92236816 = 0.07763184; lift
    // 0.25 / 0.02 = 12.5. Equal figures: in the order of the kinds.
    for (const [c, offset] of [
      [cacheStopped, 2],
      [cacheUnhealthy, -2],
      [cacheConfig, -1],
    ] as const) {
      near(c!.chance, 0.02, `cache ${c!.kind} p`);
      near(c!.score, 0.07763184, `cache ${c!.kind} P`);
      near(c!.lift, 12.5, `cache ${c!.kind} lift`);
      assert.equal(c!.medianOffsetMs, offset * S);
      assert.equal(c!.significant, false, 'k = 1');
      assert.equal(c!.prerequisite, false);
    }
    // cache restarted (0, 503): 500 ← +3 s. p = ([0,10] + [493,513]) / 1000 = 0.03;
    // P(X ≥ 1 | 4, 0.03) = 1 − 0.97⁴ = 1 − 0.88529281 = 0.11470719.
    near(cacheRestarted!.chance, 0.03, 'cache restarted p');
    near(cacheRestarted!.score, 0.11470719, 'cache restarted P');
    // One 5 s before, one 2 s after: the median (−1.5 s) would say "before" of both; the words say each side.
    assert.deepEqual([dbFailed!.before, dbFailed!.after], [1, 1]);
    assert.equal(describeCorrelation(dbFailed!), 'db failed near 2 of the last 4 failures of web (1 before, 1 after)');
    assert.equal(
      describeCorrelation(dbFailed!, { chance: true }),
      'db failed near 2 of the last 4 failures of web (1 before, 1 after; db is a prerequisite; 0.24 expected by chance, P = 0.02)',
    );
    assert.deepEqual([cacheUnhealthy!.before, cacheUnhealthy!.after], [1, 0]);
    assert.equal(describeCorrelation(cacheUnhealthy!), 'cache was unhealthy 2 s before 1 of the last 4 failures of web');
  });

  it('failures closer than the window to the one before them are one episode, counted once, at its first', () => {
    // web failed at 100, 300, 500 and 700. Window ±200 s: each is at most 200 s after the one before, so
    // one episode, counted at 100: n = 1. Window ±199 s: four episodes, n = 4.
    assert.deepEqual(episodeOnsets([at(100), at(300), at(500), at(700)], 200 * S), [at(100)]);
    assert.deepEqual(episodeOnsets([at(0), at(10), at(40), at(100), at(130), at(130)], 30 * S), [at(0), at(100)]);
    const one = h.store.correlations.around(h.subject('web'), h.store.correlations.subjects(), h.ask({ windowMs: 200 * S }));
    assert.deepEqual([one.failures, one.tooFew], [1, true]);
    const four = h.store.correlations.around(h.subject('web'), h.store.correlations.subjects(), h.ask({ windowMs: 199 * S }));
    assert.equal(four.failures, 4);
    // Fleet-wide, db's failures (95, 600, 702) at ±200 s: 600 and 702 one episode: db counts 2, web 1.
    const fleet = h.store.correlations.fleet(h.store.correlations.subjects(), h.ask({ windowMs: 200 * S }));
    assert.equal(fleet.failures, 1 + 2); // web 1, db 2 (cache's exit was asked for: no failure)
  });

  it('the last n failures: the range begins at the oldest counted', () => {
    // web's last 2 failures: 500 and 700; the range [500, 1000]. db failed: 600, 702 → [590,610] +
    // [692,712] = 40 s of 500 s, p = 0.08; 700 ← 702: k = 1 of 2; P(X ≥ 1 | 2, 0.08) = 1 − 0.92² = 0.1536.
    const r = h.store.correlations.around(h.subject('web'), h.store.correlations.subjects(), h.ask({ failures: 2 }));
    assert.equal(r.failures, 2);
    assert.equal(r.tooFew, true);
    assert.equal(r.since, new Date(at(500)).toISOString());
    const dbFailed = r.correlations.find((c) => c.other === 'db' && c.kind === 'failed')!;
    near(dbFailed.chance, 0.08, 'p');
    near(dbFailed.score, 0.1536, 'P');
    assert.equal(dbFailed.together, 1);
    assert.equal(dbFailed.failures, 2);
    assert.equal(describeCorrelation(dbFailed), 'db failed 2 s after 1 of the last 2 failures of web');
  });

  it('fleet-wide: the pairs whose failures co-occur, the stronger direction of each', () => {
    const r = h.store.correlations.fleet(h.store.correlations.subjects(), h.ask());
    assert.equal(r.service, null);
    assert.equal(r.failures, 7, 'web 4 + db 3');
    assert.equal(r.tooFew, false);
    // web → db: k = 2 of 4, p = 0.06, P = 0.01991088 (above). db → web: db's failures 95 (web's 100,
    // +5 s), 600 (none within [590, 610]), 702 (700, −2 s): k = 2 of 3; web's windows [90,110],
    // [290,310], [490,510], [690,710]: p = 80 / 1000 = 0.08; P(X ≥ 2 | 3, 0.08) = 3 × 0.08² × 0.92 +
    // 0.08³ = 0.017664 + 0.000512 = 0.018176: the stronger. cache never failed: no pair.
    assert.equal(r.correlations.length, 1);
    const [pair] = r.correlations;
    assert.deepEqual([pair!.service, pair!.other, pair!.kind, pair!.together, pair!.failures], ['db', 'web', 'failed', 2, 3]);
    near(pair!.chance, 0.08, 'p');
    near(pair!.score, 0.018176, 'P');
    near(pair!.lift, 2 / 3 / 0.08, 'lift');
    assert.equal(pair!.medianOffsetMs, 1.5 * S);
  });

  it('why: the strongest significant correlation up to the failure', () => {
    const c = strongestCorrelation(h.store.correlations, h.subject('web'), at(700), 10 * S, new Set(['db']))!;
    assert.deepEqual([c.other, c.kind, c.together, c.failures, c.significant], ['db', 'failed', 2, 4, true]);
    // A window of 1 s: nothing within it, nothing named.
    assert.equal(strongestCorrelation(h.store.correlations, h.subject('web'), at(700), S, new Set()), null);
  });

  it('the request is checked: a window, an ISO 8601 since, until after since', () => {
    const ok = correlationValidators.correlate({ windowMs: 30_000, since: '2026-01-05T00:00:00Z', service: 'web', failures: 1e9 });
    assert.deepEqual(ok, { windowMs: 30_000, since: '2026-01-05T00:00:00Z', service: 'web', failures: 10_000 });
    for (const bad of [
      { since: '2026-01-05T00:00:00Z' },
      { windowMs: 0, since: '2026-01-05T00:00:00Z' },
      { windowMs: 86_400_001, since: '2026-01-05T00:00:00Z' },
      { windowMs: 1000, since: 'yesterday' },
      { windowMs: 1000, since: '2026-01-05T00:00:00Z', until: '2026-01-04T00:00:00Z' },
      { windowMs: 1000, since: '2026-01-05T00:00:00Z', until: '2026-01-05T00:00:00Z' },
      { windowMs: 1000, since: '2026-01-05T00:00:00Z', service: '' },
    ]) {
      assert.throws(() => correlationValidators.correlate(bad), { code: ErrorCode.BAD_REQUEST }, JSON.stringify(bad));
    }
  });
});
