// The status at a past time: the pure replay (schema/status-replay.ts) on hand-written histories, each
// as the buddy's machine records it; then the store's windowed answer (schema/past-status.ts over controller/status-at-query.ts)
// against the replay of the whole history, at every moment of histories kept in a real SQLite file.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { AuditStore } from '../../controller/audit-store.js';
import { StatusAtQueries } from '../../controller/status-at-query.js';
import { pastNamed, statusAt, USAGE_LOOKBACK_MS, type PastService } from '../../schema/past-status.js';
import type { ServiceEntry } from '../../controller/service-entry.js';
import { ServiceTable } from '../../controller/service-table.js';
import { ErrorCode, UpkError } from '../../schema/errors.js';
import type { ServiceConfig } from '../../schema/config/types.js';
import { pastPolicy, replay, type PastEvent, type PastPolicy } from '../../schema/status-replay.js';
import type { BuddyEvent } from '../../schema/records.js';
import { loadServiceText } from '../helpers/load-services.js';

const T0 = Date.UTC(2026, 10, 21, 8, 3, 0);
const iso = (ms: number): string => new Date(ms).toISOString();

/** MinUptime 1 s, no health check, a long-running service. */
const POLICY: PastPolicy = {
  minUptimeMs: 1000,
  readiness: 'uptime',
  job: null,
  health: { probe: false, failLine: false, intervalMs: 10_000 },
};

type Ev = Partial<PastEvent> & Pick<PastEvent, 'type'> & { at: number };
const ev = (e: Ev): PastEvent => ({
  time: T0 + e.at,
  type: e.type,
  pid: e.pid ?? null,
  code: e.code ?? null,
  signal: e.signal ?? null,
  detail: e.detail ?? null,
});
const history = (...events: Ev[]): PastEvent[] => events.map(ev);
const at = (events: PastEvent[], ms: number, policy = POLICY) => replay(events, T0 + ms, policy);

/** The crash loop of docs/events.md ("A crash loop, as recorded"), times in ms after T0. */
const CRASH_LOOP = history(
  { at: 0, type: 'buddy_started', pid: 20104, detail: { version: '0.1.0' } },
  { at: 4042, type: 'desired', detail: { desired: 'running', cause: 'command' } },
  { at: 4046, type: 'spawned', pid: 20198, detail: { restart: false } },
  { at: 4253, type: 'exited', pid: 20198, code: 1, detail: { uptimeMs: 208, requested: false } },
  { at: 4254, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 91, until: iso(T0 + 4345) } },
  { at: 4348, type: 'spawned', pid: 20202, detail: { restart: true } },
  { at: 4554, type: 'exited', pid: 20202, code: 1, detail: { uptimeMs: 205, requested: false } },
  { at: 4554, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 94, until: iso(T0 + 4648) } },
  { at: 4650, type: 'spawned', pid: 20204, detail: { restart: true } },
  { at: 4858, type: 'exited', pid: 20204, code: 1, detail: { uptimeMs: 207, requested: false } },
  { at: 4859, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 92, until: iso(T0 + 4950) } },
  { at: 4952, type: 'spawned', pid: 20206, detail: { restart: true } },
  { at: 5159, type: 'exited', pid: 20206, code: 1, detail: { uptimeMs: 206, requested: false } },
  { at: 5159, type: 'runaway', detail: { starts: 4, windowMs: 4000, until: iso(T0 + 8045) } },
  { at: 5159, type: 'backoff', detail: { reason: 'runaway', delayMs: 2886, until: iso(T0 + 8045) } },
  { at: 8048, type: 'spawned', pid: 20211, detail: { restart: true } },
  { at: 8254, type: 'exited', pid: 20211, code: 1, detail: { uptimeMs: 206, requested: false } },
  { at: 8255, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 94, until: iso(T0 + 8348) } },
  { at: 8349, type: 'spawned', pid: 20214, detail: { restart: true } },
  { at: 8553, type: 'exited', pid: 20214, code: 1, detail: { uptimeMs: 203, requested: false } },
  { at: 8553, type: 'failed', detail: { failures: 6 } },
);

describe('the replay of a service history (status-at.ts)', { timeout: 10_000 }, () => {
  it('a crash loop: restarts, failures in a row, the hold, the last exit, given up', () => {
    const before = at(CRASH_LOOP, 4000);
    assert.equal(before.state, 'stopped');
    assert.equal(before.desired, 'stopped');
    assert.equal(before.buddyPid, 20104);
    const first = at(CRASH_LOOP, 4100);
    assert.deepEqual([first.state, first.pid, first.started, first.restarts, first.failures], ['starting', 20198, T0 + 4046, 0, 0]);
    assert.equal(first.desired, 'running');
    const held = at(CRASH_LOOP, 4300);
    assert.equal(held.state, 'backoff');
    assert.deepEqual(held.hold, { reason: 'ratelimit', until: iso(T0 + 4345) });
    assert.deepEqual(held.lastExit, { code: 1, signal: null, at: iso(T0 + 4253) });
    assert.deepEqual([held.pid, held.started, held.restarts, held.failures], [null, null, 0, 1]);
    const second = at(CRASH_LOOP, 4400);
    assert.deepEqual([second.state, second.pid, second.restarts, second.failures, second.hold], ['starting', 20202, 1, 1, null]);
    const runaway = at(CRASH_LOOP, 6000);
    assert.deepEqual([runaway.state, runaway.hold?.reason, runaway.restarts, runaway.failures], ['backoff', 'runaway', 3, 4]);
    const end = at(CRASH_LOOP, 9000);
    assert.deepEqual([end.state, end.since, end.restarts, end.failures, end.pid], ['failed', T0 + 8553, 5, 6, null]);
    assert.deepEqual(end.lastExit, { code: 1, signal: null, at: iso(T0 + 8553) });
    assert.equal(end.hold, null);
  });

  it('running once up for MinUptime (no event says so): an exit at that very millisecond still counts as a failure', () => {
    const run = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 10, type: 'desired', detail: { desired: 'running', cause: 'command' } },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false } },
    );
    assert.equal(at(run, 1009).state, 'starting');
    const up = at(run, 1010);
    assert.deepEqual([up.state, up.since, up.started], ['running', T0 + 1010, T0 + 10]);
    const early = [...run, ev({ at: 1010, type: 'exited', pid: 100, code: 2, detail: { uptimeMs: 1000, requested: false } })];
    assert.deepEqual([at(early, 1011).state, at(early, 1011).failures], ['stopping', 1]);
    const late = [...run, ev({ at: 5000, type: 'exited', pid: 100, code: 2, detail: { uptimeMs: 4990, requested: false } })];
    assert.equal(at(late, 5001).failures, 0, 'an exit after it ran is no failure');
  });

  it('a stop, a shutdown (the desired state of record stays), and a new buddy that adopts or begins afresh', () => {
    const h = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 10, type: 'desired', detail: { desired: 'running', cause: 'command', by: 'controller' } },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false } },
      { at: 3000, type: 'exited', pid: 100, code: 1, detail: { uptimeMs: 2990, requested: false } },
      { at: 3001, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 9, until: iso(T0 + 3010) } },
      { at: 3010, type: 'spawned', pid: 101, detail: { restart: true } },
      // The buddy is lost (SIGKILL); a new one adopts the process: its restarts carry on, its last exit is gone.
      { at: 9000, type: 'buddy_started', pid: 8 },
      { at: 9001, type: 'adopted', pid: 101, detail: { startedAt: iso(T0 + 3010), desired: 'running' } },
      { at: 9001, type: 'desired', detail: { desired: 'running', cause: 'adopted' } },
      { at: 12_000, type: 'desired', detail: { desired: 'stopped', cause: 'shutdown' } },
      { at: 12_000, type: 'stopping', pid: 101, detail: { restart: false } },
      { at: 12_005, type: 'exited', pid: 101, signal: 'SIGTERM', detail: { uptimeMs: 8995, requested: true } },
      { at: 12_006, type: 'stopped' },
      { at: 12_007, type: 'buddy_exiting', pid: 8, detail: { reason: 'shutdown' } },
      { at: 20_000, type: 'buddy_started', pid: 9 },
    );
    const adopted = at(h, 10_000);
    assert.deepEqual(
      [adopted.state, adopted.pid, adopted.started, adopted.restarts, adopted.lastExit, adopted.buddyPid],
      ['running', 101, T0 + 3010, 1, null, 8],
    );
    const stopping = at(h, 12_002);
    assert.deepEqual([stopping.state, stopping.desired, stopping.pid], ['stopping', 'running', 101]);
    const down = at(h, 15_000);
    assert.deepEqual([down.state, down.desired, down.pid, down.buddyPid, down.since], ['stopped', 'running', null, null, T0 + 12_006]);
    assert.deepEqual(down.lastExit, { code: null, signal: 'SIGTERM', at: iso(T0 + 12_005) });
    const fresh = at(h, 20_001);
    assert.deepEqual([fresh.state, fresh.restarts, fresh.lastExit, fresh.buddyPid, fresh.desired], ['stopped', 0, null, 9, 'running']);
  });

  it('a user stop and start begin the counts afresh; a health check that fails and recovers', () => {
    const health: PastPolicy = { ...POLICY, health: { probe: true, failLine: false, intervalMs: 2000 } };
    const h = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false } },
      { at: 5000, type: 'unhealthy', pid: 100, detail: { check: 'test -f ok', failures: 3, output: 'no file', action: 'none' } },
      { at: 8000, type: 'healthy', pid: 100, detail: { check: 'test -f ok' } },
      { at: 9000, type: 'unhealthy', pid: 100, detail: { check: 'test -f ok', failures: 3, output: 'gone', action: 'restart' } },
      { at: 9000, type: 'stopping', pid: 100, detail: { restart: false } },
      { at: 9003, type: 'exited', pid: 100, signal: 'SIGTERM', detail: { uptimeMs: 8993, requested: true } },
      { at: 9004, type: 'spawned', pid: 101, detail: { restart: true } },
    );
    assert.equal(at(h, 1000, health).health?.status, 'starting');
    assert.equal(at(h, 2010, health).health?.status, 'healthy', 'a passing check records nothing: healthy once one has run');
    assert.deepEqual(at(h, 6000, health).health, { status: 'unhealthy', failures: 3, lastCheck: iso(T0 + 5000), lastOutput: 'no file' });
    assert.equal(at(h, 6000, health).state, 'running');
    assert.deepEqual(at(h, 8500, health).health, { status: 'healthy', failures: 0, lastCheck: iso(T0 + 8000), lastOutput: 'no file' });
    const restarted = at(h, 9500, health);
    assert.deepEqual([restarted.state, restarted.restarts, restarted.failures, restarted.health?.status], ['starting', 1, 1, 'starting']);
    assert.deepEqual([at(h, 10_005, health).state, at(h, 10_005, health).failures], ['running', 0]);
    assert.equal(at(h, 6000).health, null, 'no health without a check');
    const stopped = history(
      ...h.map((e) => ({ ...e, at: e.time - T0 })),
      { at: 11_000, type: 'desired', detail: { desired: 'stopped', cause: 'command' } },
      { at: 11_000, type: 'stopping', pid: 101, detail: { restart: false } },
      { at: 11_002, type: 'exited', pid: 101, signal: 'SIGTERM', detail: { uptimeMs: 1998, requested: true } },
      { at: 11_003, type: 'stopped' },
      { at: 12_000, type: 'desired', detail: { desired: 'running', cause: 'command' } },
      { at: 12_000, type: 'spawned', pid: 102, detail: { restart: false } },
    );
    const again = at(stopped, 12_500, health);
    assert.deepEqual([again.restarts, again.failures, again.pid, again.health?.status], [0, 0, 102, 'starting']);
    assert.equal(at(stopped, 11_500, health).health, null, 'no health while stopped');
  });

  it('readiness by signal, a start that cannot execute, StartTimeout', () => {
    const signal: PastPolicy = { ...POLICY, readiness: 'signal' };
    const h = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 10, type: 'spawn_failed', detail: { error: 'spawn EACCES', restart: false } },
      { at: 11, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 990, until: iso(T0 + 1001) } },
      { at: 1002, type: 'spawned', pid: 100, detail: { restart: true } },
      { at: 6002, type: 'start_timeout', pid: 100, detail: { timeoutMs: 5000 } },
      { at: 6002, type: 'stopping', pid: 100, detail: { restart: false } },
      { at: 6004, type: 'exited', pid: 100, signal: 'SIGTERM', detail: { uptimeMs: 5002, requested: true } },
      { at: 6005, type: 'spawned', pid: 101, detail: { restart: true } },
      { at: 6500, type: 'ready', pid: 101, detail: { how: 'notify', afterMs: 495 } },
    );
    const failed = at(h, 500, signal);
    assert.deepEqual([failed.state, failed.failures, failed.lastExit], ['backoff', 1, { code: null, signal: null, at: iso(T0 + 10) }]);
    assert.deepEqual([at(h, 5000, signal).state, at(h, 5000, signal).failures], ['starting', 1], 'not ready: MinUptime does not count');
    assert.deepEqual([at(h, 6100, signal).failures, at(h, 6100, signal).restarts], [2, 2]);
    const ready = at(h, 6600, signal);
    assert.deepEqual([ready.state, ready.since, ready.failures], ['running', T0 + 6500, 0]);
  });

  it('a scheduled job waits between runs; a run that fails counts', () => {
    const job: PastPolicy = { ...POLICY, job: { scheduled: true } };
    const h = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false, scheduled: true } },
      { at: 500, type: 'exited', pid: 100, code: 0, detail: { uptimeMs: 490, requested: false, outcome: 'success' } },
      { at: 60_000, type: 'spawned', pid: 101, detail: { restart: false, scheduled: true } },
      { at: 60_200, type: 'exited', pid: 101, code: 3, detail: { uptimeMs: 200, requested: false, outcome: 'failure' } },
      { at: 60_201, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 800, until: iso(T0 + 61_001) } },
    );
    assert.equal(at(h, 100, job).state, 'running', 'a job runs from its start');
    assert.deepEqual([at(h, 1000, job).state, at(h, 1000, job).failures], ['scheduled', 0]);
    assert.deepEqual([at(h, 60_500, job).state, at(h, 60_500, job).failures], ['backoff', 1]);
  });

  it("a scheduled job wanted running before its first run: scheduled from its buddy's start, as the buddy said", () => {
    const job: PastPolicy = { ...POLICY, job: { scheduled: true } };
    const h = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 5, type: 'desired', detail: { desired: 'running', cause: 'command' } },
      { at: 3_600_000, type: 'spawned', pid: 100, detail: { restart: false, scheduled: true } },
    );
    assert.deepEqual([at(h, 3, job).state, at(h, 1000, job).state, at(h, 1000, job).desired], ['stopped', 'scheduled', 'running']);
    assert.equal(at(h, 3_600_001, job).state, 'running');
    assert.equal(at(h, 1000, POLICY).state, 'stopped', 'a service without a Schedule: nothing says it started');
  });

  it('an overlap restart whose new run fails: the old run is the service again', () => {
    const h = history(
      { at: 0, type: 'buddy_started', pid: 7 },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false } },
      { at: 5000, type: 'spawned', pid: 101, detail: { restart: false, replaces: 100 } },
      { at: 5100, type: 'exited', pid: 101, code: 1, detail: { uptimeMs: 100, requested: false } },
      { at: 5101, type: 'overlap_abandoned', pid: 100 },
    );
    const kept = at(h, 6000);
    assert.deepEqual([kept.state, kept.pid, kept.started, kept.failures], ['running', 100, T0 + 10, 0]);
  });

  it("the policy of a configuration: MinUptime, readiness, a job, the health check's interval", (t: TestContext) => {
    const loaded = loadServiceText(
      t,
      JSON.stringify({
        web: { ExecStart: 'sleep 1', MinUptime: 2.5, HealthCheck: 'true', HealthInterval: 7 },
        ready: { ExecStart: 'sleep 1', ReadyLine: 'up' },
        nightly: { ExecStart: 'true', Type: 'oneshot', Schedule: '@every 1h' },
      }),
    );
    const by = (id: string) => pastPolicy(loaded.services.find((s) => s.id === id)!);
    assert.deepEqual(by('web'), {
      minUptimeMs: 2500,
      readiness: 'uptime',
      job: null,
      health: { probe: true, failLine: false, intervalMs: 7000 },
    });
    assert.equal(by('ready').readiness, 'signal');
    assert.deepEqual(by('nightly').job, { scheduled: true });
  });
});

// ---- the store's answer: a short window and what was true before it, against the whole replay ----------

type Stored = Omit<BuddyEvent, 'seq' | 'time'> & { at: number };

class Fixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'upk-statusat-'));
  readonly store = new AuditStore(join(this.dir, 'upkeeper.db'));
  /** The test's own connection to the file. */
  readonly sql = new Database(join(this.dir, 'upkeeper.db'));
  private readonly seqs = new Map<number, number>();
  readonly all = new Map<string, PastEvent[]>();

  add(uuid: string, instance: string, events: Stored[]): void {
    const buddyId = this.store.buddyId(instance, uuid, 1, T0);
    let seq = this.seqs.get(buddyId) ?? 0;
    const numbered = events.map(({ at: t, ...e }) => ({ ...e, time: T0 + t, seq: ++seq }));
    this.seqs.set(buddyId, seq);
    this.store.insertEvents([{ serviceUuid: uuid, service: 'x', instance, buddyId, events: numbered }]);
    const list = this.all.get(uuid) ?? [];
    for (const e of numbered) {
      if (e.type === 'usage') continue;
      list.push({
        time: e.time,
        type: e.type,
        pid: e.pid ?? null,
        code: e.code ?? null,
        signal: e.signal ?? null,
        detail: e.detail ?? null,
      });
    }
    this.all.set(
      uuid,
      list.sort((a, b) => a.time - b.time),
    );
  }

  close(): void {
    this.sql.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A crash loop of `n` runs that each exit before MinUptime (1 s), every `every` ms, from `from`. */
function earlyCrashes(from: number, n: number, every: number, firstByUser: boolean, pid0: number): Stored[] {
  const out: Stored[] = [];
  for (let i = 0; i < n; i++) {
    const t = from + i * every;
    out.push(
      { at: t, type: 'spawned', pid: pid0 + i, detail: { restart: !(firstByUser && i === 0) } },
      { at: t + 300, type: 'exited', pid: pid0 + i, code: 1, detail: { uptimeMs: 300, requested: false } },
      { at: t + 301, type: 'backoff', detail: { reason: 'ratelimit', delayMs: every - 301, until: iso(T0 + t + every) } },
    );
  }
  return out;
}

/** The store's answer against the replay of the whole history, at every event's time and around it; how many moments. */
async function sameAsWholeReplay(f: Fixture, past: PastService, svc: ServiceConfig): Promise<number> {
  const events = f.all.get(past.uuid)!;
  const policy = pastPolicy(svc);
  const moments = new Set<number>();
  for (const e of events) for (const d of [-1, 0, 1, 400, 999]) moments.add(e.time + d);
  for (const m of [...moments].sort((a, b) => a - b)) {
    const whole = replay(events, m, policy, { desired: svc.initialState, restarts: 0, failures: 0, lastExit: null, buddyPid: null });
    const got = await f.store.pastStatus.statusAt(past, m);
    const want = {
      state: whole.state,
      desired: whole.desired,
      pid: whole.pid,
      buddyPid: whole.buddyPid,
      started: whole.started === null ? null : iso(whole.started),
      since: whole.since === null ? null : iso(whole.since),
      restarts: whole.restarts,
      failures: whole.failures,
      lastExit: whole.lastExit,
      hold: whole.hold,
      health: whole.health,
    };
    const fields = Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof typeof got]]));
    assert.deepEqual(fields, want, `${past.id} at +${m - T0} ms`);
  }
  return moments.size;
}

describe('the status at a time from the store (status-at-query.ts)', { timeout: 60_000 }, () => {
  it('equals the replay of the whole history at every moment: crash loops, stops, user starts, buddies that adopt or not', async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const loaded = loadServiceText(
      t,
      JSON.stringify({ web: { ExecStart: 'sleep 1', MinUptime: 1, HealthCheck: 'true', HealthInterval: 5 } }),
    );
    const svc = loaded.services[0]!;
    const uuid = f.store.upsertService(svc, () => null, T0).uuid;
    f.add(uuid, 'b1', [
      { at: 0, type: 'buddy_started', pid: 11, detail: { version: '1' } },
      { at: 5, type: 'desired', detail: { desired: 'running', cause: 'command', by: 'controller' } },
      ...earlyCrashes(10, 30, 1000, true, 1000), // 30 failures in a row: failures and restarts carried over many runs
      { at: 30_500, type: 'spawned', pid: 2000, detail: { restart: true } },
      { at: 40_000, type: 'unhealthy', pid: 2000, detail: { check: 'true', failures: 3, output: 'x', action: 'restart' } },
      { at: 40_000, type: 'stopping', pid: 2000, detail: { restart: false } },
      { at: 40_002, type: 'exited', pid: 2000, signal: 'SIGTERM', detail: { uptimeMs: 9502, requested: true } },
      { at: 40_003, type: 'spawned', pid: 2001, detail: { restart: true } },
      {
        at: 40_100,
        type: 'usage',
        detail: { from: T0 + 40_003, to: T0 + 40_100, cpuMs: 50, rssKb: 2048, rssMaxKb: 2048, processes: 1, samples: 1 },
      },
      { at: 40_303, type: 'exited', pid: 2001, code: 1, detail: { uptimeMs: 300, requested: false } },
      { at: 40_304, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 699, until: iso(T0 + 41_003) } },
      ...earlyCrashes(41_003, 4, 1000, false, 3000),
      { at: 50_000, type: 'desired', detail: { desired: 'stopped', cause: 'command', by: 'controller' } },
      { at: 50_001, type: 'stopped' },
    ]);
    // A user start, then the buddy is lost; the next adopts the run, the one after that begins afresh.
    f.add(uuid, 'b1', [
      { at: 60_000, type: 'desired', detail: { desired: 'running', cause: 'command', by: 'controller' } },
      ...earlyCrashes(60_000, 4, 1000, true, 4000),
      { at: 64_000, type: 'spawned', pid: 5000, detail: { restart: true } },
    ]);
    f.add(uuid, 'b2', [
      { at: 70_000, type: 'buddy_started', pid: 12, detail: { version: '1' } },
      { at: 70_001, type: 'adopted', pid: 5000, detail: { startedAt: iso(T0 + 64_000), desired: 'running' } },
      { at: 75_000, type: 'exited', pid: 5000, code: null, signal: null, detail: { uptimeMs: 11_000, requested: false, unknown: true } },
      { at: 75_001, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 499, until: iso(T0 + 75_500) } },
      ...earlyCrashes(75_500, 3, 1000, false, 6000),
      { at: 78_500, type: 'desired', detail: { desired: 'stopped', cause: 'shutdown' } },
      { at: 78_500, type: 'stopped' },
      { at: 78_600, type: 'buddy_exiting', pid: 12, detail: { reason: 'shutdown' } },
    ]);
    f.add(uuid, 'b3', [
      { at: 90_000, type: 'buddy_started', pid: 13, detail: { version: '1' } },
      { at: 90_010, type: 'spawned', pid: 7000, detail: { restart: false } },
      { at: 90_400, type: 'exited', pid: 7000, code: 4, detail: { uptimeMs: 390, requested: false } },
      { at: 90_401, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 599, until: iso(T0 + 91_000) } },
      ...earlyCrashes(91_000, 3, 1000, false, 8000),
    ]);
    const past = f.store.pastStatus.servicesAt(T0 + 1).find((p) => p.uuid === uuid)!;
    assert.ok((await sameAsWholeReplay(f, past, svc)) > 300);
    const crashing = await f.store.pastStatus.statusAt(past, T0 + 29_500);
    assert.deepEqual([crashing.restarts, crashing.failures], [29, 30], 'the window is short: the counts come from before it');
    const usage = (await f.store.pastStatus.statusAt(past, T0 + 40_200)).usage;
    assert.deepEqual(usage, { cpu: 51.5, rss: 2048 * 1024, processes: 1, at: iso(T0 + 40_100) });
    assert.equal((await f.store.pastStatus.statusAt(past, T0 + 41_500)).usage, null, 'a usage record of an earlier run is not shown');
  });

  it('the same for a service ready by a signal (StartTimeout, a crash after it was ready) and for a job', async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const loaded = loadServiceText(
      t,
      JSON.stringify({
        signalled: { ExecStart: 'sleep 1', ReadyLine: 'up', StartTimeout: 2 },
        nightly: { ExecStart: 'true', Type: 'oneshot', Schedule: '@every 10s' },
      }),
    );
    const [signalled, nightly] = ['signalled', 'nightly'].map((id) => loaded.services.find((s) => s.id === id)!);
    const su = f.store.upsertService(signalled!, () => null, T0).uuid;
    const ju = f.store.upsertService(nightly!, () => null, T0).uuid;
    const timedOut = (t0: number, pid: number, restart: boolean): Stored[] => [
      { at: t0, type: 'spawned', pid, detail: { restart } },
      { at: t0 + 2000, type: 'start_timeout', pid, detail: { timeoutMs: 2000 } },
      { at: t0 + 2000, type: 'stopping', pid, detail: { restart: false } },
      { at: t0 + 2003, type: 'exited', pid, signal: 'SIGTERM', detail: { uptimeMs: 2003, requested: true } },
      { at: t0 + 2004, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 100, until: iso(T0 + t0 + 2104) } },
    ];
    f.add(su, 's1', [
      { at: 0, type: 'buddy_started', pid: 21, detail: { version: '1' } },
      { at: 1, type: 'desired', detail: { desired: 'running', cause: 'command' } },
      ...timedOut(10, 100, false),
      ...timedOut(2200, 101, true),
      ...timedOut(4400, 102, true),
      { at: 6600, type: 'spawned', pid: 103, detail: { restart: true } },
      { at: 7000, type: 'ready', pid: 103, detail: { how: 'ReadyLine', afterMs: 400 } },
      { at: 9000, type: 'exited', pid: 103, code: 1, detail: { uptimeMs: 2400, requested: false } },
      { at: 9001, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 99, until: iso(T0 + 9100) } },
      ...timedOut(9100, 104, true),
      ...timedOut(11_300, 105, true),
      { at: 13_500, type: 'spawned', pid: 106, detail: { restart: true } },
      { at: 13_600, type: 'exited', pid: 106, code: 1, detail: { uptimeMs: 100, requested: false } },
      { at: 13_601, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 99, until: iso(T0 + 13_700) } },
      { at: 13_700, type: 'spawned', pid: 107, detail: { restart: true } },
    ]);
    const run = (t0: number, pid: number, outcome: 'success' | 'failure', restart = false): Stored[] => [
      { at: t0, type: 'spawned', pid, detail: restart ? { restart: true } : { restart: false, scheduled: true } },
      {
        at: t0 + 200,
        type: 'exited',
        pid,
        code: outcome === 'success' ? 0 : 1,
        detail: { uptimeMs: 200, requested: false, outcome },
      },
      ...(outcome === 'failure'
        ? [{ at: t0 + 201, type: 'backoff' as const, detail: { reason: 'ratelimit', delayMs: 799, until: iso(T0 + t0 + 1000) } }]
        : []),
    ];
    f.add(ju, 'j1', [
      { at: 0, type: 'buddy_started', pid: 22, detail: { version: '1' } },
      { at: 1, type: 'desired', detail: { desired: 'running', cause: 'command' } },
      ...run(10, 200, 'success'),
      ...run(10_000, 201, 'failure'),
      ...run(11_000, 202, 'failure', true),
      ...run(12_000, 203, 'failure', true),
      ...run(13_000, 204, 'success', true),
      ...run(20_000, 205, 'failure'),
      ...run(21_000, 206, 'failure', true),
    ]);
    const all = f.store.pastStatus.servicesAt(T0 + 1);
    assert.ok(
      (await sameAsWholeReplay(
        f,
        all.find((p) => p.uuid === su)!,
        signalled!,
      )) > 100,
    );
    assert.ok(
      (await sameAsWholeReplay(
        f,
        all.find((p) => p.uuid === ju)!,
        nightly!,
      )) > 50,
    );
    const late = await f.store.pastStatus.statusAt(
      all.find((p) => p.uuid === su)!,
      T0 + 13_800,
    );
    assert.deepEqual([late.restarts, late.failures], [7, 3], 'two start timeouts and a crash before it was ready');
  });

  it('a window too long for its limits: the last run alone, then its first events and its newest', async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const loaded = loadServiceText(
      t,
      JSON.stringify({ web: { ExecStart: 'sleep 1', MinUptime: 1, HealthCheck: 'true', HealthInterval: 5 } }),
    );
    const svc = loaded.services[0]!;
    const uuid = f.store.upsertService(svc, () => null, T0).uuid;
    const flaps = (from: number, n: number, pid: number): Stored[] =>
      Array.from({ length: n }, (_, i): Stored =>
        i % 2 === 0
          ? { at: from + i * 100, type: 'unhealthy', pid, detail: { check: 'true', failures: 3, output: `bad ${i}`, action: 'none' } }
          : { at: from + i * 100, type: 'healthy', pid, detail: { check: 'true' } },
      );
    f.add(uuid, 'b1', [
      { at: 0, type: 'buddy_started', pid: 11, detail: { version: '1' } },
      { at: 5, type: 'desired', detail: { desired: 'running', cause: 'command' } },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false } },
      { at: 310, type: 'exited', pid: 100, code: 1, detail: { uptimeMs: 300, requested: false } },
      { at: 311, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 689, until: iso(T0 + 1000) } },
      { at: 1000, type: 'spawned', pid: 101, detail: { restart: true } },
      ...flaps(10_000, 301, 101),
      { at: 50_000, type: 'exited', pid: 101, code: 2, detail: { uptimeMs: 49_000, requested: false } },
      { at: 50_001, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 999, until: iso(T0 + 51_000) } },
      { at: 51_000, type: 'spawned', pid: 102, detail: { restart: true } },
      ...flaps(60_000, 200, 102),
    ]);
    const narrow = new StatusAtQueries(f.sql, { max: 50, head: 5 });
    const past = narrow.servicesAt(T0 + 1)[0]!;
    const events = f.all.get(uuid)!;
    const policy = pastPolicy(svc);
    let compared = 0;
    for (const e of events) {
      for (const m of [e.time, e.time + 50]) {
        const whole = replay(events, m, policy, { desired: 'stopped', restarts: 0, failures: 0, lastExit: null, buddyPid: null });
        const got = await narrow.statusAt(past, m);
        const fields = [got.state, got.pid, got.restarts, got.failures, got.lastExit, got.health];
        assert.deepEqual(
          fields,
          [whole.state, whole.pid, whole.restarts, whole.failures, whole.lastExit, whole.health],
          `at +${m - T0} ms`,
        );
        compared += 1;
      }
    }
    assert.ok(compared > 1000);
    const late = await narrow.statusAt(past, T0 + 80_000);
    assert.deepEqual([late.state, late.pid, late.restarts, late.health?.status], ['running', 102, 2, 'healthy']);
  });

  it('which services existed then, by the configuration changes; names; a time to come', async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const loaded = loadServiceText(
      t,
      JSON.stringify({ web: { ExecStart: 'sleep 1', StartPriority: 1 }, api: { ExecStart: 'sleep 1', Instances: 2 } }),
    );
    for (const svc of loaded.services) f.store.upsertService(svc, () => null, T0);
    const web = f.store.servicesNamed('web')[0]!.uuid;
    f.store.recordChanges([{ service: 'web', uuid: web, change: 'added', message: 'InitialState stopped' }], 'start', T0);
    f.store.recordChanges(
      [{ service: 'web', uuid: web, change: 'changed', message: 'MinUptime: 1 → 2; in force now' }],
      'reload',
      T0 + 1000,
    );
    f.store.recordChanges([{ service: 'web', uuid: web, change: 'removed', message: 'stopped and removed' }], 'remove', T0 + 5000);
    const ids = (m: number) => f.store.pastStatus.servicesAt(T0 + m).map((s) => s.id);
    assert.deepEqual(ids(-1), [], 'nothing before it was recorded');
    assert.deepEqual(ids(2000), ['web', 'api@1', 'api@2'], 'StartPriority first, then by id');
    assert.deepEqual(ids(6000), ['api@1', 'api@2'], 'removed then');
    const [then] = f.store.pastStatus.servicesAt(T0 + 2000);
    assert.deepEqual(
      { ...then!.change, applied: then!.change?.applied?.id },
      {
        time: iso(T0 + 1000),
        change: 'changed',
        trigger: 'reload',
        detail: 'MinUptime: 1 → 2; in force now',
        keys: [],
        applied: 'web',
      },
    );
    assert.deepEqual(
      (await statusAt(f.store.pastStatus, T0 + 2000, ['api'], T0 + 10_000)).services.map((s) => s.name),
      ['api@1', 'api@2'],
      'the name of a service with Instances means each',
    );
    assert.equal((await statusAt(f.store.pastStatus, T0 + 2000, ['all'], T0 + 10_000)).services.length, 3);
    await assert.rejects(statusAt(f.store.pastStatus, T0 + 6000, ['web'], T0 + 10_000), /no service named "web" existed at/);
    await assert.rejects(statusAt(f.store.pastStatus, T0 + 20_000, undefined, T0 + 10_000), /is yet to come/);
  });

  it("judges the past by the configuration in force then, not today's (and by today's for a change recorded before 007)", async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const load = (minUptime: number, description: string) =>
      loadServiceText(
        t,
        JSON.stringify({
          web: { ExecStart: 'sleep 1', MinUptime: minUptime, ShortDescription: description, StartPriority: 1 },
          old: { ExecStart: 'sleep 1' },
        }),
      ).services;
    const [web1, old] = load(1, 'first');
    const uuid = f.store.upsertService(web1!, () => null, T0).uuid;
    const oldUuid = f.store.upsertService(old!, () => null, T0).uuid;
    f.store.recordChanges([{ service: 'web', uuid, change: 'added', message: 'InitialState stopped' }], 'start', T0);
    f.add(uuid, 'b1', [
      { at: 0, type: 'buddy_started', pid: 11, detail: { version: '1' } },
      { at: 5, type: 'desired', detail: { desired: 'running', cause: 'command', by: 'controller' } },
      { at: 10, type: 'spawned', pid: 100, detail: { restart: false } },
    ]);
    // Reloaded later: MinUptime 1 → 30, another description.
    const [web2] = load(30, 'second');
    f.store.upsertService(web2!, () => null, T0 + 100_000);
    f.store.recordChanges(
      [{ service: 'web', uuid, change: 'changed', message: 'MinUptime, ShortDescription', keys: ['MinUptime', 'ShortDescription'] }],
      'reload',
      T0 + 100_000,
    );
    const at = async (m: number) => (await statusAt(f.store.pastStatus, T0 + m, ['web'], T0 + 200_000)).services[0]!;
    const then = await at(5_000);
    assert.equal(then.state, 'running', 'up 5 s with MinUptime 1 then (30 now): it was running');
    assert.equal(then.description, 'first');
    assert.equal(then.config?.applied?.minUptime, 1);
    assert.deepEqual(then.config?.keys, []);
    const now = await at(150_000);
    assert.deepEqual([now.state, now.description, now.config?.applied?.minUptime], ['running', 'second', 30]);
    assert.deepEqual(now.config?.keys, ['MinUptime', 'ShortDescription']);
    // A change recorded before migration 007 (no configuration, no keys): judged by the configuration of now.
    f.sql
      .prepare('INSERT INTO config_changes (time, service_uuid, service, change, trigger, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(T0, oldUuid, 'old', 'added', 'start', 'InitialState stopped');
    const before007 = (await statusAt(f.store.pastStatus, T0 + 5_000, ['old'], T0 + 200_000)).services[0]!;
    assert.deepEqual([before007.config?.keys, before007.config?.applied], [null, null]);
    assert.equal(before007.state, 'stopped');
  });

  it('historyFrom: where the events kept begin', async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const [svc] = loadServiceText(t, JSON.stringify({ web: { ExecStart: 'sleep 1' } })).services;
    const uuid = f.store.upsertService(svc!, () => null, T0).uuid;
    assert.equal((await statusAt(f.store.pastStatus, T0 + 10, undefined, T0 + 10_000)).historyFrom, null, 'no event kept');
    f.add(uuid, 'b1', [
      { at: 1000, type: 'buddy_started', pid: 11, detail: { version: '1' } },
      { at: 2000, type: 'desired', detail: { desired: 'running', cause: 'command', by: 'controller' } },
    ]);
    const r = await statusAt(f.store.pastStatus, T0 + 500, undefined, T0 + 10_000);
    assert.deepEqual([r.at, r.historyFrom], [iso(T0 + 500), iso(T0 + 1000)]);
  });

  it('usage: the last record of the run within USAGE_LOOKBACK_MS (5 minutes) before the time, none older', async (t) => {
    const f = new Fixture();
    t.after(() => f.close());
    const [svc] = loadServiceText(t, JSON.stringify({ web: { ExecStart: 'sleep 1' } })).services;
    const uuid = f.store.upsertService(svc!, () => null, T0).uuid;
    const minute = (to: number, cpuMs: number) => ({
      at: to,
      type: 'usage' as const,
      detail: { from: T0 + to - 60_000, to: T0 + to, cpuMs, rssKb: 1024, rssMaxKb: 1024, processes: 1, samples: 6 },
    });
    // A run begun at 1 s, measured for three minutes, then no more (SampleInterval 0 since, or no controller).
    f.add(uuid, 'b1', [
      { at: 0, type: 'buddy_started', pid: 11, detail: { version: '1' } },
      { at: 500, type: 'desired', detail: { desired: 'running', cause: 'command', by: 'controller' } },
      { at: 1000, type: 'spawned', pid: 100, detail: { restart: false } },
      minute(61_000, 600),
      minute(121_000, 1200),
      minute(181_000, 300),
    ]);
    const past = f.store.pastStatus.servicesAt(T0 + 1).find((p) => p.uuid === uuid)!;
    const usageAt = async (ms: number) => (await f.store.pastStatus.statusAt(past, T0 + ms)).usage;
    assert.deepEqual(await usageAt(150_000), { cpu: 2, rss: 1024 * 1024, processes: 1, at: iso(T0 + 121_000) });
    assert.deepEqual(await usageAt(181_000 + USAGE_LOOKBACK_MS), { cpu: 0.5, rss: 1024 * 1024, processes: 1, at: iso(T0 + 181_000) });
    assert.equal(await usageAt(181_001 + USAGE_LOOKBACK_MS), null, 'a record more than 5 minutes old is not the usage then');
    assert.equal(await usageAt(86_400_000), null);
    assert.equal((await f.store.pastStatus.statusAt(past, T0 + 86_400_000)).state, 'running');
  });

  it('names mean what they mean to live `status` (ServiceTable.resolve): an id first, an ambiguous bare name refused', async () => {
    // Services then, in list's order, and the same as configured services for ServiceTable.
    const ids: [id: string, instanceOf?: string, instance?: number][] = [
      ['db'],
      ['pkg::db'],
      ['a::web'],
      ['api@1', 'api', 1],
      ['api@2', 'api', 2],
      ['x::cache'],
      ['y::cache'],
      ['q::worker@1', 'q::worker', 1],
      ['q::worker@2', 'q::worker', 2],
    ];
    const configOf = ([id, instanceOf, instance]: (typeof ids)[number]) => ({
      id,
      name: id.split('::').at(-1)!,
      package: id.includes('::') ? id.split('::')[0]! : null,
      startPriority: 0,
      ...(instanceOf === undefined ? {} : { instanceOf, instance }),
    });
    const past: PastService[] = ids.map((x) => ({ uuid: x[0], id: x[0], config: configOf(x) as unknown as ServiceConfig, change: null }));
    const table = new ServiceTable();
    for (const x of ids) table.set({ config: configOf(x) } as unknown as ServiceEntry);
    const outcome = (f: () => string[]): string[] | { code: ErrorCode; message: string } => {
      try {
        return f().sort();
      } catch (err) {
        assert.ok(err instanceof UpkError);
        return { code: err.code, message: err.message };
      }
    };
    const want = {
      db: ['db'],
      'pkg::db': ['pkg::db'],
      web: ['a::web'],
      api: ['api@1', 'api@2'],
      'api@2': ['api@2'],
      worker: ['q::worker@1', 'q::worker@2'],
      'q::worker': ['q::worker@1', 'q::worker@2'],
      cache: { code: ErrorCode.AMBIGUOUS_SERVICE, message: 'cache is ambiguous: x::cache, y::cache' },
    };
    for (const [name, expected] of Object.entries(want)) {
      const live = outcome(() => table.resolve([name]).map((e) => e.config.id));
      const then = outcome(() => pastNamed(past, [name], T0).map((s) => s.id));
      assert.deepEqual(live, expected, `live ${name}`);
      assert.deepEqual(then, expected, `then ${name}`);
    }
    assert.deepEqual(
      pastNamed(past, ['db', 'all'], T0).map((s) => s.id),
      ids.map((x) => x[0]),
    );
    assert.throws(() => pastNamed(past, ['nosuch', 'db', 'gone'], T0), /no service named "nosuch", "gone" existed at/);
    // Through statusAt, as the controller answers it.
    const q = { servicesAt: () => past, statusAt: (s: PastService) => Promise.resolve({ name: s.id } as never), historyFrom: () => null };
    assert.deepEqual(
      (await statusAt(q, T0, ['db'], T0 + 1)).services.map((s) => s.name),
      ['db'],
    );
    await assert.rejects(statusAt(q, T0, ['cache'], T0 + 1), (err: UpkError) => err.code === ErrorCode.AMBIGUOUS_SERVICE);
  });
});
