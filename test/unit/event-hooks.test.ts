// EventHooks on a real audit database: each event a hook wants is decided once (queued, skipped by
// MinInterval, dropped past the bound), across controllers that stop or die; real hook processes where
// the run matters, a fake spawn where only the policy does (the bounds, stopping).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuditStore } from '../../controller/audit-store.js';
import { EventHooks, HOOKS_QUEUED_MAX, HOOKS_RUNNING_MAX, hookEnvironment, wants } from '../../controller/event-hooks.js';
import type { HookCommand, HookProcess, HookProcessEnd } from '../../controller/hook-process.js';
import type { Logger } from '../../controller/log.js';
import type { EventHook } from '../../schema/config/types.js';
import type { BuddyEvent, ServiceEvent } from '../../schema/records.js';
import { REAL_CLOCK, type Clock } from '../../system/clock.js';
import { settle, VirtualClock } from '../helpers/virtual-clock.js';

const T = { timeout: 20_000 };
const QUIET: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

class Fixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'upk-hooks-'));
  readonly store = new AuditStore(join(this.dir, 'upkeeper.db'));
  private readonly sql = new Database(join(this.dir, 'upkeeper.db'));
  private seq = 0;
  private readonly buddies = new Map<string, number>();

  /** A service and its buddy; returns its uuid. */
  service(name: string): string {
    const uuid = `00000000-0000-4000-8000-${String(this.buddies.size + 1).padStart(12, '0')}`;
    this.sql
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, ?, '{}', 'running', 0, 0)`)
      .run(uuid, name);
    this.buddies.set(uuid, this.store.buddyId(`buddy-${name}`, uuid, 1, 0));
    return uuid;
  }

  /** Store events of a service (onInserted hears of them, as the controller's does). */
  add(uuid: string, service: string, events: Omit<BuddyEvent, 'seq' | 'time'>[]): void {
    const numbered = events.map((e) => ({ ...e, seq: ++this.seq, time: Date.now() }));
    this.store.insertEvents([
      { serviceUuid: uuid, service, instance: `buddy-${service}`, buddyId: this.buddies.get(uuid)!, events: numbered },
    ]);
  }

  hooks(hooks: EventHook[], options: { clock?: Clock; spawn?: (cmd: HookCommand) => HookProcess } = {}): EventHooks {
    const h = new EventHooks(
      {
        runs: this.store.hookRuns,
        events: this.store.events,
        log: QUIET,
        clock: options.clock ?? REAL_CLOCK,
        cwd: () => this.dir,
        ...(options.spawn ? { spawn: options.spawn } : {}),
      },
      hooks,
    );
    return h;
  }

  /** Outcomes of the runs, by outcome: { ok: 3, skipped: 1 }. */
  outcomes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.store.hookRuns.query({ uuids: null, limit: 10_000 })) out[r.outcome] = (out[r.outcome] ?? 0) + 1;
    return out;
  }

  close(): void {
    this.sql.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const hook = (fields: Partial<EventHook> = {}): EventHook => ({
  name: 'h',
  events: ['exited'],
  services: null,
  command: ['true'],
  minInterval: 0,
  timeout: 30,
  ...fields,
});

/** A spawn whose runs end only when the test says: `finish(i)` ends the i-th run started. */
function fakeSpawn() {
  const ends: ((end: HookProcessEnd) => void)[] = [];
  const commands: HookCommand[] = [];
  const spawn = (cmd: HookCommand): HookProcess => {
    commands.push(cmd);
    let resolve!: (end: HookProcessEnd) => void;
    const done = new Promise<HookProcessEnd>((r) => (resolve = r));
    ends.push(resolve);
    return { pid: 100_000 + ends.length, done, kill: () => undefined };
  };
  const finish = (i: number): void => ends[i]!({ outcome: 'ok', reason: null, exitCode: 0, signal: null, output: '' });
  return { spawn, commands, finish, started: () => ends.length };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('event hooks', T, () => {
  it('events a controller stored but never decided (it died) run their hooks at the next start, once; the event as JSON on stdin', async () => {
    const f = new Fixture();
    try {
      const uuid = f.service('web');
      // Stored, and the controller that stored them died before its hooks heard of them.
      f.add(uuid, 'web', [
        { type: 'spawned', pid: 11 },
        { type: 'exited', pid: 11, code: 3 },
        { type: 'exited', pid: 12, code: 4 },
      ]);
      const out = join(f.dir, 'runs');
      const script = 'printf "%s %s %s %s\\n" "$UPK_HOOK" "$UPK_EVENT_ID" "$UPK_EVENT_TYPE" "$UPK_CODE" >> "$0"; cat >> "$0.json"';
      const first = f.hooks([hook({ name: 'log', command: ['sh', '-c', script, out] })]);
      first.resume();
      await until('both runs', () => f.outcomes().ok === 2);
      await first.stop();
      const exited = f.store.events.query({ types: ['exited'] }, null);
      assert.deepEqual(
        readFileSync(out, 'utf8').trim().split('\n').sort(),
        exited.map((e) => `log ${e.id} exited ${e.code}`),
      );
      const stdin = readFileSync(`${out}.json`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ServiceEvent)
        .sort((a, b) => a.id - b.id);
      assert.deepEqual(stdin, exited);
      // The next controller: nothing is decided again, nothing runs again.
      const second = f.hooks([hook({ name: 'log', command: ['sh', '-c', script, out] })]);
      second.resume();
      assert.deepEqual(f.outcomes(), { ok: 2 });
      await second.stop();
    } finally {
      f.close();
    }
  });

  it('at most 4 run at once and 100 wait; past that a run is dropped and recorded so', async () => {
    const f = new Fixture();
    try {
      const uuid = f.service('storm');
      const fake = fakeSpawn();
      const hooks = f.hooks([hook()], { spawn: fake.spawn });
      hooks.resume();
      f.store.onInserted = (events) => hooks.dispatch(events);
      const extra = 6;
      f.add(
        uuid,
        'storm',
        Array.from({ length: HOOKS_RUNNING_MAX + HOOKS_QUEUED_MAX + extra }, (_, i) => ({ type: 'exited' as const, pid: i + 1, code: 1 })),
      );
      assert.equal(fake.started(), HOOKS_RUNNING_MAX);
      assert.deepEqual(f.outcomes(), { running: HOOKS_RUNNING_MAX, queued: HOOKS_QUEUED_MAX, dropped: extra });
      const dropped = f.store.hookRuns.query({ uuids: null, limit: 10_000 }).filter((r) => r.outcome === 'dropped');
      assert.match(dropped[0]!.reason ?? '', /100 hook runs wait already: dropped/);
      // Each run that ends frees its slot for the next one waiting.
      for (let i = 0; i < HOOKS_RUNNING_MAX + HOOKS_QUEUED_MAX; i++) {
        fake.finish(i);
        await settle(2);
      }
      assert.deepEqual(f.outcomes(), { ok: HOOKS_RUNNING_MAX + HOOKS_QUEUED_MAX, dropped: extra });
      await hooks.stop();
    } finally {
      f.close();
    }
  });

  it('MinInterval: one run per hook and service within it; the others are recorded as skipped, with why', async () => {
    const f = new Fixture();
    try {
      const a = f.service('a');
      const b = f.service('b');
      const clock = new VirtualClock(Date.now());
      const fake = fakeSpawn();
      const hooks = f.hooks([hook({ minInterval: 60 }), hook({ name: 'other', minInterval: 60 })], { clock, spawn: fake.spawn });
      hooks.resume();
      f.store.onInserted = (events) => hooks.dispatch(events);
      f.add(a, 'a', [{ type: 'exited', pid: 1, code: 1 }]);
      clock.advance(20_000);
      f.add(a, 'a', [{ type: 'exited', pid: 2, code: 1 }]);
      f.add(b, 'b', [{ type: 'exited', pid: 3, code: 1 }]);
      for (let i = 0; i < fake.started(); i++) fake.finish(i);
      await settle();
      clock.advance(40_000);
      f.add(a, 'a', [{ type: 'exited', pid: 4, code: 1 }]);
      const runs = f.store.hookRuns.query({ uuids: null, limit: 100 });
      const of = (name: string, service: string) => runs.filter((r) => r.hook === name && r.service === service).map((r) => r.outcome);
      assert.deepEqual(of('h', 'a'), ['ok', 'skipped', 'running']);
      assert.deepEqual(of('other', 'a'), ['ok', 'skipped', 'running']);
      assert.deepEqual(of('h', 'b'), ['ok']);
      const skipped = runs.find((r) => r.outcome === 'skipped');
      assert.equal(skipped?.reason, 'MinInterval 1 min: it ran for a 20 s before');
      for (let i = 0; i < fake.started(); i++) fake.finish(i);
      await settle();
      await hooks.stop();
    } finally {
      f.close();
    }
  });

  it('a stop waits for the runs in progress, then kills them (interrupted); what waits runs at the next start', async () => {
    const f = new Fixture();
    try {
      const uuid = f.service('slow');
      const clock = new VirtualClock(Date.now());
      const fake = fakeSpawn();
      const first = f.hooks([hook()], { clock, spawn: fake.spawn });
      first.resume();
      f.store.onInserted = (events) => first.dispatch(events);
      f.add(
        uuid,
        'slow',
        Array.from({ length: HOOKS_RUNNING_MAX + 2 }, (_, i) => ({ type: 'exited' as const, pid: i + 1, code: 1 })),
      );
      fake.finish(0); // one ends in time
      await settle();
      const stopped = first.stop();
      await settle();
      clock.advance(5000);
      await stopped;
      // The one that ended freed its slot: the fifth event's run started, and was killed with the rest.
      assert.deepEqual(f.outcomes(), { ok: 1, interrupted: HOOKS_RUNNING_MAX, queued: 1 });
      // Events stored while stopping are left for the next controller.
      f.add(uuid, 'slow', [{ type: 'exited', pid: 99, code: 1 }]);
      const next = fakeSpawn();
      const second = f.hooks([hook()], { spawn: next.spawn });
      second.resume();
      assert.equal(next.started(), 2, 'the run left waiting, then the event stored while stopping');
      assert.deepEqual(
        next.commands.map((c) => c.env['UPK_PID']),
        [String(HOOKS_RUNNING_MAX + 2), '99'],
      );
      next.finish(0);
      next.finish(1);
      await settle();
      assert.deepEqual(f.outcomes(), { ok: 3, interrupted: HOOKS_RUNNING_MAX });
      await second.stop();
    } finally {
      f.close();
    }
  });

  it('a hook added by a reload starts from the events stored after it', () => {
    const f = new Fixture();
    try {
      const uuid = f.service('web');
      const fake = fakeSpawn();
      const hooks = f.hooks([], { spawn: fake.spawn });
      hooks.resume();
      f.store.onInserted = (events) => hooks.dispatch(events);
      f.add(uuid, 'web', [{ type: 'exited', pid: 1, code: 1 }]);
      hooks.configure([hook()]);
      f.add(uuid, 'web', [{ type: 'exited', pid: 2, code: 1 }]);
      assert.deepEqual(
        fake.commands.map((c) => c.env['UPK_PID']),
        ['2'],
      );
    } finally {
      f.close();
    }
  });

  it('which events a hook wants, and the variables it gets', () => {
    const event: ServiceEvent = {
      id: 7,
      service: 'web@2',
      uuid: 'u',
      buddy: 'b',
      seq: 1,
      time: '2026-01-01T00:00:00.000Z',
      type: 'exited',
      pid: 42,
      code: null,
      signal: 'SIGKILL',
      detail: null,
    };
    assert.ok(wants(hook({ services: ['web'] }), event), 'the id of a service with Instances means each instance');
    assert.ok(wants(hook({ services: ['web@2'] }), event));
    assert.ok(!wants(hook({ services: ['web@1'] }), event));
    assert.ok(!wants(hook({ events: ['failed'] }), event));
    const env = hookEnvironment(hook({ name: 'n' }), event, { PATH: '/bin', UPK_CODE: 'stale' });
    assert.deepEqual(env, {
      PATH: '/bin',
      UPK_HOOK: 'n',
      UPK_EVENT_ID: '7',
      UPK_EVENT_TYPE: 'exited',
      UPK_EVENT_TIME: '2026-01-01T00:00:00.000Z',
      UPK_SERVICE: 'web@2',
      UPK_SERVICE_UUID: 'u',
      UPK_PID: '42',
      UPK_SIGNAL: 'SIGKILL',
    });
  });
});
