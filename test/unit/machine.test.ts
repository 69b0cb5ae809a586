// The buddy's state machine, state by state, on virtual time (no processes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Machine, type Effect, type Input, type MachinePolicy } from '../../buddy/machine.js';
import { detailOf } from '../../schema/event-details.js';

const policy = (p: Partial<MachinePolicy> = {}): MachinePolicy => ({
  killTimeoutMs: 10_000,
  maxConsecutiveFailures: -1,
  minUptimeMs: 1000,
  rateLimitMs: 1000,
  randomize: false,
  maxRestarts: 10,
  windowMs: 60_000,
  readiness: 'uptime',
  startTimeoutMs: 0,
  maxRunTimeMs: 0,
  ...p,
});

/** A machine on virtual time: `feed` dispatches at the current time and returns the effects. */
function harness(p: Partial<MachinePolicy> = {}) {
  let now = 1_000_000;
  const m = new Machine(policy(p), now, () => 0.5);
  return {
    m,
    advance(ms: number) {
      now += ms;
    },
    feed(input: Input): Effect[] {
      return m.dispatch(input, now);
    },
    get now() {
      return now;
    },
  };
}

const kinds = (effects: Effect[]): string[] => effects.map((e) => (e.kind === 'emit' ? `emit:${e.event.type}` : e.kind));
const settled = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: 'settle' }> => e.kind === 'settle');

/** Start and reach `running` (spawned, then up for MinUptime). */
function running(h: ReturnType<typeof harness>, pid = 100): void {
  h.feed({ kind: 'start' });
  h.feed({ kind: 'spawned', pid });
  h.advance(1000);
  h.feed({ kind: 'timer', timer: 'uptime' });
  assert.equal(h.m.snapshot().state, 'running');
}

describe('machine: stopped', { timeout: 5000 }, () => {
  it('start spawns and waits for MinUptime before answering', () => {
    const h = harness();
    assert.deepEqual(kinds(h.feed({ kind: 'start' })), ['emit:desired', 'spawn']);
    assert.equal(h.m.snapshot().state, 'starting');
    const spawned = h.feed({ kind: 'spawned', pid: 42 });
    assert.deepEqual(kinds(spawned), ['emit:spawned', 'set_timer']);
    assert.equal(h.m.snapshot().pid, 42);
    h.advance(1000);
    const up = h.feed({ kind: 'timer', timer: 'uptime' });
    assert.deepEqual(
      settled(up).map((s) => [s.want, s.ok]),
      [['up', true]],
    );
    assert.equal(h.m.snapshot().state, 'running');
  });

  it('MinUptime 0 answers at once', () => {
    const h = harness({ minUptimeMs: 0 });
    h.feed({ kind: 'start' });
    const e = h.feed({ kind: 'spawned', pid: 1 });
    assert.equal(h.m.snapshot().state, 'running');
    assert.equal(settled(e)[0]?.ok, true);
  });

  it('stop when stopped answers at once', () => {
    const h = harness();
    const e = h.feed({ kind: 'stop' });
    assert.deepEqual(
      settled(e).map((s) => [s.want, s.ok]),
      [['down', true]],
    );
  });

  it('shutdown when stopped exits', () => {
    const h = harness();
    assert.ok(kinds(h.feed({ kind: 'shutdown' })).includes('exit'));
  });

  it('ignores stale timers and exits', () => {
    const h = harness();
    assert.deepEqual(h.feed({ kind: 'timer', timer: 'restart' }), []);
    assert.deepEqual(h.feed({ kind: 'exited', code: 0, signal: null }), []);
  });
});

describe('machine: running', { timeout: 5000 }, () => {
  it('an exit cleans the group, then restarts at once when the rate limit allows', () => {
    const h = harness();
    running(h);
    h.advance(5000);
    const exit = h.feed({ kind: 'exited', code: 3, signal: null });
    assert.deepEqual(kinds(exit), ['clear_timer', 'emit:exited', 'watch_group']);
    assert.equal(h.m.snapshot().state, 'stopping');
    assert.deepEqual(h.m.snapshot().lastExit?.code, 3);
    const gone = h.feed({ kind: 'group_gone' });
    assert.ok(kinds(gone).includes('spawn'));
    assert.equal(h.m.snapshot().restarts, 1);
    assert.equal(h.m.snapshot().failures, 0, 'a run longer than MinUptime is not a failure');
  });

  it('what an exited service left in its group gets SIGTERM, then SIGKILL after KillTimeout', () => {
    const h = harness({ killTimeoutMs: 2000 });
    running(h, 77);
    h.feed({ kind: 'exited', code: 1, signal: null });
    const alive = h.feed({ kind: 'group_alive' });
    assert.deepEqual(
      alive.filter((e) => e.kind === 'signal_group'),
      [{ kind: 'signal_group', pgid: 77, signal: 'SIGTERM', reason: 'cleanup' }],
    );
    h.advance(2000);
    const kill = h.feed({ kind: 'timer', timer: 'kill' });
    assert.deepEqual(kill, [{ kind: 'signal_group', pgid: 77, signal: 'SIGKILL', reason: 'escalation' }]);
    assert.ok(kinds(h.feed({ kind: 'group_gone' })).includes('spawn'));
  });

  it('an early exit is a failure and answers the start with it', () => {
    const h = harness();
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 5 });
    h.advance(10);
    const e = h.feed({ kind: 'exited', code: 127, signal: null });
    const s = settled(e);
    assert.equal(s[0]?.ok, false);
    assert.match(s[0].message, /code 127 after 10 ms/);
    assert.equal(h.m.snapshot().failures, 1);
  });

  it('stop runs the stop script, SIGTERM to the group at KillTimeout, SIGKILL at twice that', () => {
    const h = harness({ killTimeoutMs: 3000 });
    running(h, 9);
    const stop = h.feed({ kind: 'stop' });
    assert.deepEqual(kinds(stop), ['emit:desired', 'settle', 'clear_timer', 'emit:stopping', 'run_stop_script', 'set_timer']);
    assert.deepEqual(
      stop.find((e) => e.kind === 'set_timer'),
      { kind: 'set_timer', timer: 'term', at: h.now + 3000 },
    );
    h.advance(3000);
    const term = h.feed({ kind: 'timer', timer: 'term' });
    assert.deepEqual(term[0], { kind: 'signal_group', pgid: 9, signal: 'SIGTERM', reason: 'escalation' });
    assert.deepEqual(term[1], { kind: 'set_timer', timer: 'kill', at: h.now + 3000 });
    h.advance(3000);
    assert.deepEqual(h.feed({ kind: 'timer', timer: 'kill' })[0], {
      kind: 'signal_group',
      pgid: 9,
      signal: 'SIGKILL',
      reason: 'escalation',
    });
    h.feed({ kind: 'exited', code: null, signal: 'SIGKILL' });
    const gone = h.feed({ kind: 'group_gone' });
    assert.deepEqual(
      settled(gone).map((s) => [s.want, s.ok]),
      [['down', true]],
    );
    assert.equal(h.m.snapshot().state, 'stopped');
  });

  it('a negative KillTimeout never sends SIGKILL', () => {
    const h = harness({ killTimeoutMs: -2000 });
    running(h, 9);
    const stop = h.feed({ kind: 'stop' });
    assert.deepEqual(
      stop.find((e) => e.kind === 'set_timer'),
      { kind: 'set_timer', timer: 'term', at: h.now + 2000 },
    );
    h.advance(2000);
    const term = h.feed({ kind: 'timer', timer: 'term' });
    assert.deepEqual(kinds(term), ['signal_group']);
  });

  it('KillTimeout 0 sends SIGTERM and SIGKILL at once', () => {
    const h = harness({ killTimeoutMs: 0 });
    running(h, 9);
    const sig = h
      .feed({ kind: 'stop' })
      .filter((e) => e.kind === 'signal_group')
      .map((e) => (e as { signal: string }).signal);
    assert.deepEqual(sig, ['SIGTERM', 'SIGKILL']);
  });

  it('when the main process exits after the stop script, the rest of the group gets SIGTERM at once', () => {
    const h = harness();
    running(h, 9);
    h.feed({ kind: 'stop' });
    const exit = h.feed({ kind: 'exited', code: 0, signal: null });
    assert.deepEqual(kinds(exit), ['clear_timer', 'emit:exited', 'watch_group']);
    const alive = h.feed({ kind: 'group_alive' });
    assert.deepEqual(alive[0], { kind: 'signal_group', pgid: 9, signal: 'SIGTERM', reason: 'stop' });
  });

  it('restart stops, then starts afresh', () => {
    const h = harness();
    running(h, 9);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'exited', code: 0, signal: null });
    const gone = h.feed({ kind: 'group_gone' });
    assert.ok(kinds(gone).includes('spawn'));
    assert.equal(h.m.snapshot().restarts, 0, 'a user restart is not an automatic restart');
    assert.equal(h.m.snapshot().desired, 'running');
  });

  it('a stop while a start is pending fails the start', () => {
    const h = harness();
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 3 });
    const stop = h.feed({ kind: 'stop' });
    assert.deepEqual(
      settled(stop).map((s) => [s.want, s.ok]),
      [['up', false]],
    );
  });
});

describe('machine: restart policy', { timeout: 5000 }, () => {
  it('waits out the rate limit in backoff', () => {
    const h = harness({ rateLimitMs: 1000 });
    running(h, 9); // started at t0, running at t0+1000
    h.feed({ kind: 'exited', code: 1, signal: null });
    assert.ok(kinds(h.feed({ kind: 'group_gone' })).includes('spawn'), 'a second after the start: allowed');
    h.feed({ kind: 'spawned', pid: 10 });
    h.advance(100);
    h.feed({ kind: 'exited', code: 1, signal: null });
    const gone = h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().state, 'backoff');
    const timer = gone.find((e) => e.kind === 'set_timer') as { at: number };
    assert.equal(timer.at, h.now + 900);
    assert.equal(h.m.snapshot().hold?.reason, 'ratelimit');
    h.advance(900);
    assert.ok(kinds(h.feed({ kind: 'timer', timer: 'restart' })).includes('spawn'));
  });

  it('RandomizeRateLimit adds up to half of the rate limit', () => {
    const h = harness({ rateLimitMs: 1000, randomize: true, minUptimeMs: 0 }); // random() = 0.5 → +25 %
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 1 });
    h.feed({ kind: 'exited', code: 1, signal: null });
    const gone = h.feed({ kind: 'group_gone' });
    assert.equal((gone.find((e) => e.kind === 'set_timer') as { at: number }).at, h.now + 1250);
  });

  it('more than UserMaxRestarts starts within the window is a runaway: held until a start leaves it', () => {
    const h = harness({ rateLimitMs: 0, maxRestarts: 2, windowMs: 10_000, minUptimeMs: 0 });
    const t0 = h.now;
    h.feed({ kind: 'start' });
    for (let i = 0; i < 2; i++) {
      h.feed({ kind: 'spawned', pid: 10 + i });
      h.advance(100);
      h.feed({ kind: 'exited', code: 1, signal: null });
      assert.ok(kinds(h.feed({ kind: 'group_gone' })).includes('spawn'), `restart ${i + 1} is allowed`);
    }
    h.feed({ kind: 'spawned', pid: 12 });
    h.advance(100);
    h.feed({ kind: 'exited', code: 1, signal: null });
    const held = h.feed({ kind: 'group_gone' });
    assert.deepEqual(kinds(held), ['clear_timer', 'clear_timer', 'emit:runaway', 'emit:backoff', 'set_timer']);
    assert.equal((held.at(-1) as { at: number }).at, t0 + 10_000, 'until the first start leaves the window');
    assert.equal(h.m.snapshot().hold?.reason, 'runaway');
  });

  it('MaxConsecutiveFailures failures in a row give up; a user start resets', () => {
    const h = harness({ rateLimitMs: 0, maxConsecutiveFailures: 3, maxRestarts: -1 });
    h.feed({ kind: 'start' });
    let last: Effect[] = [];
    for (let i = 0; i < 3; i++) {
      h.feed({ kind: 'spawned', pid: 10 + i });
      h.advance(10);
      h.feed({ kind: 'exited', code: 2, signal: null });
      last = h.feed({ kind: 'group_gone' });
    }
    assert.equal(h.m.snapshot().state, 'failed');
    assert.ok(kinds(last).includes('emit:failed'));
    assert.equal(h.m.snapshot().desired, 'running', 'still wanted: status shows it is not in its desired state');
    h.feed({ kind: 'start' });
    assert.equal(h.m.snapshot().state, 'starting');
    assert.equal(h.m.snapshot().failures, 0);
  });

  it('a run that stays up for MinUptime resets the failure count', () => {
    const h = harness({ rateLimitMs: 0, maxConsecutiveFailures: 2 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 1 });
    h.advance(10);
    h.feed({ kind: 'exited', code: 1, signal: null });
    h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().failures, 1);
    h.feed({ kind: 'spawned', pid: 2 });
    h.advance(1000);
    h.feed({ kind: 'timer', timer: 'uptime' });
    assert.equal(h.m.snapshot().failures, 0);
  });

  it('MaxConsecutiveFailures 0 never restarts automatically', () => {
    const h = harness({ maxConsecutiveFailures: 0 });
    running(h, 9);
    h.feed({ kind: 'exited', code: 0, signal: null });
    h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().state, 'failed');
  });

  it('a spawn that fails counts as a failure', () => {
    const h = harness({ maxConsecutiveFailures: 1 });
    h.feed({ kind: 'start' });
    const e = h.feed({ kind: 'spawn_failed', error: 'EACCES' });
    assert.ok(kinds(e).includes('emit:spawn_failed'));
    assert.equal(h.m.snapshot().state, 'failed');
  });
});

describe('machine: backoff and failed', { timeout: 5000 }, () => {
  function backoff() {
    const h = harness({ rateLimitMs: 5000 });
    running(h, 9);
    h.feed({ kind: 'exited', code: 1, signal: null });
    h.feed({ kind: 'group_gone' });
    h.feed({ kind: 'spawned', pid: 10 });
    h.advance(10);
    h.feed({ kind: 'exited', code: 1, signal: null });
    h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().state, 'backoff');
    return h;
  }

  it('stop in backoff cancels the restart', () => {
    const h = backoff();
    const e = h.feed({ kind: 'stop' });
    assert.ok(e.some((x) => x.kind === 'clear_timer' && x.timer === 'restart'));
    assert.equal(h.m.snapshot().state, 'stopped');
    assert.equal(h.m.snapshot().hold, null);
  });

  it('a user start in backoff starts at once', () => {
    const h = backoff();
    assert.ok(kinds(h.feed({ kind: 'start' })).includes('spawn'));
  });

  it('stop in failed goes to stopped', () => {
    const h = harness({ maxConsecutiveFailures: 0, minUptimeMs: 0 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 1 });
    h.feed({ kind: 'exited', code: 1, signal: null });
    h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().state, 'failed');
    h.feed({ kind: 'stop' });
    assert.equal(h.m.snapshot().state, 'stopped');
    assert.equal(h.m.snapshot().desired, 'stopped');
  });
});

describe('machine: stopping', { timeout: 5000 }, () => {
  it('a start during a stop starts again once the group is gone', () => {
    const h = harness();
    running(h, 9);
    const stopEffects = h.feed({ kind: 'stop' });
    assert.equal(settled(stopEffects).length, 1); // the pending start answer, if any, is failed
    h.feed({ kind: 'start' });
    h.feed({ kind: 'exited', code: 0, signal: null });
    const gone = h.feed({ kind: 'group_gone' });
    assert.ok(kinds(gone).includes('spawn'));
    assert.deepEqual(
      settled(gone).map((s) => [s.want, s.ok]),
      [['down', true]],
    );
  });

  it('shutdown during a stop exits when the group is gone', () => {
    const h = harness();
    running(h, 9);
    h.feed({ kind: 'stop' });
    h.feed({ kind: 'shutdown' });
    h.feed({ kind: 'exited', code: 0, signal: null });
    assert.ok(kinds(h.feed({ kind: 'group_gone' })).includes('exit'));
  });
});

describe('machine: adoption', { timeout: 5000 }, () => {
  it('a stopped machine adopts a running process and supervises it', () => {
    const h = harness({ rateLimitMs: 0 });
    const e = h.feed({ kind: 'adopted', pid: 55, startedAt: h.now - 60_000, restarts: 4, desired: 'running' });
    assert.deepEqual(kinds(e), ['emit:adopted', 'emit:desired']);
    const s = h.m.snapshot();
    assert.deepEqual([s.state, s.desired, s.pid, s.restarts, s.started], ['running', 'running', 55, 4, h.now - 60_000]);
    const exit = h.feed({ kind: 'exited', code: null, signal: null, unknown: true });
    const exited = exit.find((x) => x.kind === 'emit' && x.event.type === 'exited') as Extract<Effect, { kind: 'emit' }>;
    assert.equal(detailOf(exited.event, 'exited').unknown, true);
    assert.ok(kinds(h.feed({ kind: 'group_gone' })).includes('spawn'), 'restarts by policy');
  });

  it('a process adopted before it was ready stays starting until its signal, StartTimeout counted from its start', () => {
    const h = harness({ readiness: 'signal', startTimeoutMs: 30_000 });
    const e = h.feed({ kind: 'adopted', pid: 55, startedAt: h.now - 10_000, restarts: 0, desired: 'running', starting: true });
    const timer = e.find((x) => x.kind === 'set_timer');
    assert.deepEqual(timer?.kind === 'set_timer' ? [timer.timer, timer.at] : null, ['start', h.now + 20_000]);
    assert.equal(h.m.snapshot().state, 'starting');
    h.advance(2000);
    const ready = h.feed({ kind: 'ready', how: 'ReadyFd' });
    const event = ready.find((x) => x.kind === 'emit' && x.event.type === 'ready');
    assert.equal(event?.kind === 'emit' ? detailOf(event.event, 'ready').afterMs : null, 12_000);
    assert.equal(h.m.snapshot().state, 'running');
    // Never signalled: StartTimeout applies, as it would have for the lost buddy.
    const late = harness({ readiness: 'signal', startTimeoutMs: 30_000 });
    late.feed({ kind: 'adopted', pid: 56, startedAt: late.now - 10_000, restarts: 0, desired: 'running', starting: true });
    late.advance(20_000);
    assert.ok(kinds(late.feed({ kind: 'timer', timer: 'start' })).includes('emit:start_timeout'));
  });

  it('a process adopted within its MinUptime is running once MinUptime has passed since its start', () => {
    const h = harness({ minUptimeMs: 5000 });
    const e = h.feed({ kind: 'adopted', pid: 55, startedAt: h.now - 2000, restarts: 0, desired: 'running', starting: true });
    const timer = e.find((x) => x.kind === 'set_timer');
    assert.deepEqual(timer?.kind === 'set_timer' ? [timer.timer, timer.at] : null, ['uptime', h.now + 3000]);
    assert.equal(h.m.snapshot().state, 'starting');
    h.advance(3000);
    h.feed({ kind: 'timer', timer: 'uptime' });
    assert.equal(h.m.snapshot().state, 'running');
    const old = harness({ minUptimeMs: 5000 });
    old.feed({ kind: 'adopted', pid: 57, startedAt: old.now - 6000, restarts: 0, desired: 'running', starting: true });
    assert.equal(old.m.snapshot().state, 'running', 'MinUptime over already');
  });

  it('a run still starting when its readiness changes waits for the new one, counted from its start', () => {
    // MinUptime to a signal: no longer running at MinUptime; StartTimeout from its start.
    const h = harness({ minUptimeMs: 5000 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 70 });
    h.advance(1000);
    const e = h.feed({ kind: 'policy', policy: policy({ minUptimeMs: 5000, readiness: 'signal', startTimeoutMs: 10_000 }) });
    const timer = e.find((x) => x.kind === 'set_timer');
    assert.deepEqual(timer?.kind === 'set_timer' ? [timer.timer, timer.at] : null, ['start', h.now + 9000]);
    h.advance(4000);
    h.feed({ kind: 'timer', timer: 'uptime' });
    assert.equal(h.m.snapshot().state, 'starting', 'MinUptime no longer makes it running');
    h.feed({ kind: 'ready', how: 'ReadyLine' });
    assert.equal(h.m.snapshot().state, 'running');
    // A signal to MinUptime: running once MinUptime has passed since its start (at once if it has).
    const g = harness({ readiness: 'signal', startTimeoutMs: 0 });
    g.feed({ kind: 'start' });
    g.feed({ kind: 'spawned', pid: 71 });
    g.advance(3000);
    g.feed({ kind: 'policy', policy: policy({ minUptimeMs: 1000 }) });
    assert.equal(g.m.snapshot().state, 'running');
    // A running run is not touched.
    const r = harness();
    running(r, 72);
    assert.deepEqual(r.feed({ kind: 'policy', policy: policy({ readiness: 'signal', startTimeoutMs: 1000 }) }), []);
    assert.equal(r.m.snapshot().state, 'running');
  });

  it('adoption is ignored unless stopped', () => {
    const h = harness();
    running(h, 9);
    assert.deepEqual(h.feed({ kind: 'adopted', pid: 55, startedAt: 0, restarts: 0, desired: 'running' }), []);
    assert.equal(h.m.snapshot().pid, 9);
  });

  it('a stop the lost buddy had begun is carried on, not reversed', () => {
    const h = harness({ killTimeoutMs: 1000 });
    const e = h.feed({ kind: 'adopted', pid: 55, startedAt: h.now - 1000, restarts: 0, desired: 'stopped' });
    assert.deepEqual(kinds(e), ['emit:adopted', 'clear_timer', 'emit:stopping', 'run_stop_script', 'set_timer']);
    assert.equal(h.m.snapshot().desired, 'stopped');
    h.feed({ kind: 'exited', code: null, signal: null, unknown: true });
    h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().state, 'stopped');
  });
});

describe('machine: readiness, health and limits', { timeout: 5000 }, () => {
  const types = (effects: Effect[]): string[] => effects.flatMap((e) => (e.kind === 'emit' ? [e.event.type] : []));

  it('with signalled readiness it is starting until it says it is ready, then running; MinUptime does not count', () => {
    const h = harness({ readiness: 'signal', startTimeoutMs: 5000 });
    h.feed({ kind: 'start' });
    assert.deepEqual(kinds(h.feed({ kind: 'spawned', pid: 7 })), ['emit:spawned', 'set_timer']);
    h.advance(1000);
    assert.deepEqual(h.feed({ kind: 'timer', timer: 'uptime' }), []);
    assert.equal(h.m.snapshot().state, 'starting');
    h.advance(500);
    const e = h.feed({ kind: 'ready', how: 'notify' });
    assert.deepEqual(kinds(e), ['clear_timer', 'emit:ready', 'settle']);
    const ready = e.find((x) => x.kind === 'emit');
    assert.deepEqual(ready?.kind === 'emit' ? ready.event.detail : null, { how: 'notify', afterMs: 1500 });
    assert.equal(h.m.snapshot().state, 'running');
    assert.deepEqual(h.feed({ kind: 'ready', how: 'notify' }), [], 'told again: nothing');
  });

  it('a ready signal means nothing under MinUptime readiness', () => {
    const h = harness();
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 7 });
    assert.deepEqual(h.feed({ kind: 'ready', how: 'ReadyLine' }), []);
    assert.equal(h.m.snapshot().state, 'starting');
  });

  it('not ready within StartTimeout: a failure; the start fails, it is stopped, and restarted by the policy', () => {
    const h = harness({ readiness: 'signal', startTimeoutMs: 2000 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 7 });
    h.advance(2000);
    const e = h.feed({ kind: 'timer', timer: 'start' });
    assert.deepEqual(types(e), ['start_timeout', 'stopping']);
    assert.deepEqual(
      settled(e).map((s) => [s.want, s.ok, s.message]),
      [['up', false, 'not ready within StartTimeout (2 s)']],
    );
    assert.equal(h.m.snapshot().failures, 1);
    h.feed({ kind: 'exited', code: null, signal: 'SIGTERM' });
    const gone = h.feed({ kind: 'group_gone' });
    assert.equal(h.m.snapshot().desired, 'running');
    assert.ok(kinds(gone).includes('spawn') || h.m.snapshot().state === 'backoff', 'restarted by the policy');
  });

  it('unwell, restart: a failure, stopped, then restarted by the policy (MaxConsecutiveFailures counts it)', () => {
    const h = harness({ maxConsecutiveFailures: 1 });
    running(h);
    const e = h.feed({ kind: 'unwell', action: 'restart', cause: 'unhealthy' });
    assert.deepEqual(types(e), ['stopping']);
    assert.equal(h.m.snapshot().desired, 'running');
    h.feed({ kind: 'exited', code: 0, signal: null });
    const gone = h.feed({ kind: 'group_gone' });
    assert.deepEqual(types(gone), ['failed'], 'one failure is MaxConsecutiveFailures 1: given up');
  });

  it('unwell, stop: wanted stopped, cause unhealthy or limit', () => {
    const h = harness();
    running(h);
    const e = h.feed({ kind: 'unwell', action: 'stop', cause: 'limit' });
    assert.deepEqual(types(e), ['desired', 'stopping']);
    const d = e.find((x) => x.kind === 'emit');
    assert.deepEqual(d?.kind === 'emit' ? d.event.detail : null, { desired: 'stopped', cause: 'limit' });
  });

  it('MaxRunTime: a run longer is timed out and stopped; a run that ended before never is', () => {
    const h = harness({ maxRunTimeMs: 60_000 });
    h.feed({ kind: 'start' });
    assert.deepEqual(kinds(h.feed({ kind: 'spawned', pid: 7 })), ['emit:spawned', 'set_timer', 'set_timer']);
    h.advance(60_000);
    const e = h.feed({ kind: 'timer', timer: 'runtime' });
    assert.deepEqual(types(e), ['timed_out', 'desired', 'stopping']);
    assert.equal(h.m.snapshot().desired, 'stopped');
    const g = harness({ maxRunTimeMs: 60_000 });
    running(g);
    g.feed({ kind: 'stop' });
    g.feed({ kind: 'exited', code: 0, signal: null });
    g.feed({ kind: 'group_gone' });
    assert.deepEqual(g.feed({ kind: 'timer', timer: 'runtime' }), [], 'a stale timer does nothing');
  });

  it('MaxRunTime counts from the start of an adopted process: a new buddy stops one that has run too long', () => {
    const h = harness({ maxRunTimeMs: 60_000 });
    const e = h.feed({ kind: 'adopted', pid: 9, startedAt: h.now - 50_000, restarts: 0, desired: 'running' });
    const timer = e.find((x) => x.kind === 'set_timer');
    assert.deepEqual(timer?.kind === 'set_timer' ? [timer.timer, timer.at] : null, ['runtime', h.now + 10_000]);
    const late = harness({ maxRunTimeMs: 60_000 });
    const f = late.feed({ kind: 'adopted', pid: 9, startedAt: late.now - 90_000, restarts: 0, desired: 'running' });
    const at = f.find((x) => x.kind === 'set_timer');
    assert.equal(at?.kind === 'set_timer' ? at.at : null, late.now, 'over already: now');
  });
});

describe('machine: oneshot jobs, Schedule and CronRestart', { timeout: 5000 }, () => {
  const job = (p: Partial<MachinePolicy['job'] & object> = {}): Partial<MachinePolicy> => ({
    job: { scheduled: false, overlap: 'skip', ...p },
  });
  const types = (effects: Effect[]): string[] => effects.flatMap((e) => (e.kind === 'emit' ? [e.event.type] : []));
  const eventOf = (effects: Effect[], type: string) => {
    const e = effects.find((x) => x.kind === 'emit' && x.event.type === type);
    return e?.kind === 'emit' ? e.event : undefined;
  };
  /** A run that ends with `code` and whose group is then gone: the effects of both. */
  const end = (h: ReturnType<typeof harness>, code: number): Effect[] => [
    ...h.feed({ kind: 'exited', code, signal: null }),
    ...h.feed({ kind: 'group_gone' }),
  ];

  it('a run that exits 0 answers the start with success once its group is gone, and is not run again: wanted stopped, cause completed', () => {
    const h = harness(job());
    h.feed({ kind: 'start' });
    const spawned = h.feed({ kind: 'spawned', pid: 5 });
    assert.deepEqual(settled(spawned), [], 'a job is not "up": its start waits for its end');
    assert.equal(h.m.snapshot().state, 'running');
    h.advance(100_000); // (MinUptime means nothing to a job)
    const exit = h.feed({ kind: 'exited', code: 0, signal: null });
    assert.deepEqual(settled(exit), []);
    assert.equal(detailOf(eventOf(exit, 'exited') as never, 'exited').outcome, 'success');
    const gone = h.feed({ kind: 'group_gone' });
    assert.deepEqual(
      settled(gone).map((s) => [s.want, s.ok]),
      [['up', true]],
    );
    assert.match(settled(gone)[0]!.message, /^completed \(exit 0\) after 100000 ms$/);
    assert.deepEqual(eventOf(gone, 'desired')?.detail, { desired: 'stopped', cause: 'completed' });
    assert.deepEqual(types(gone), ['desired', 'stopped']);
    assert.ok(!gone.some((e) => e.kind === 'spawn'));
    assert.deepEqual([h.m.snapshot().state, h.m.snapshot().desired, h.m.snapshot().failures], ['stopped', 'stopped', 0]);
  });

  it('a run that fails answers the start with its failure, then the restart policy runs it again', () => {
    const h = harness(job());
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 5 });
    h.advance(300);
    const e = end(h, 3);
    assert.deepEqual(
      settled(e).map((s) => [s.want, s.ok, s.message]),
      [['up', false, 'failed: exited with code 3 after 300 ms']],
    );
    assert.equal(detailOf(eventOf(e, 'exited') as never, 'exited').outcome, 'failure');
    assert.deepEqual(types(e), ['exited', 'backoff'], 'held by UserRateLimit, then started again');
    assert.deepEqual([h.m.snapshot().state, h.m.snapshot().desired, h.m.snapshot().failures], ['backoff', 'running', 1]);
    h.advance(700);
    assert.deepEqual(kinds(h.feed({ kind: 'timer', timer: 'restart' })), ['spawn']);
    const again = h.feed({ kind: 'spawned', pid: 6 });
    assert.deepEqual(eventOf(again, 'spawned')?.detail, { restart: true });
    h.advance(10);
    assert.equal(settled(end(h, 0))[0]?.ok, true);
    assert.deepEqual([h.m.snapshot().state, h.m.snapshot().desired], ['stopped', 'stopped']);
  });

  it('MaxConsecutiveFailures gives a failing job up', () => {
    const h = harness({ ...job(), maxConsecutiveFailures: 1 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 5 });
    assert.deepEqual(types(end(h, 1)), ['exited', 'failed']);
    assert.equal(h.m.snapshot().state, 'failed');
  });

  it('MaxRunTime: the run fails (timed out), is stopped, and the restart policy decides; it stays wanted running', () => {
    const h = harness({ ...job(), maxRunTimeMs: 5000 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 5 });
    h.advance(5000);
    const t = h.feed({ kind: 'timer', timer: 'runtime' });
    assert.deepEqual(types(t), ['timed_out', 'stopping']);
    const exit = h.feed({ kind: 'exited', code: null, signal: 'SIGTERM' });
    assert.deepEqual(detailOf(eventOf(exit, 'exited') as never, 'exited'), { uptimeMs: 5000, requested: true, outcome: 'failure' });
    const gone = h.feed({ kind: 'group_gone' });
    assert.deepEqual(
      settled(gone).map((s) => [s.want, s.ok, s.message]),
      [['up', false, 'timed out: ran longer than MaxRunTime (5 s)']],
    );
    assert.equal(h.m.snapshot().desired, 'running');
    assert.equal(h.m.snapshot().failures, 1);
  });

  it('a start while a run goes on waits for that run and gets its outcome; a stop ends it and answers stopped', () => {
    const h = harness(job());
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 5 });
    assert.deepEqual(settled(h.feed({ kind: 'start' })), []);
    assert.deepEqual(
      settled(end(h, 0)).map((s) => s.ok),
      [true],
    );
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 6 });
    const stop = h.feed({ kind: 'stop' });
    assert.deepEqual(
      settled(stop).map((s) => [s.want, s.ok]),
      [['up', false]],
    );
    const exit = h.feed({ kind: 'exited', code: null, signal: 'SIGTERM' });
    assert.equal(
      detailOf(eventOf(exit, 'exited') as never, 'exited').outcome,
      undefined,
      'a run stopped by a user neither succeeded nor failed',
    );
  });

  it('Schedule: a reconciliation resumes the schedule without a run; each due time starts a run (spawned: scheduled); between runs it is scheduled', () => {
    const h = harness(job({ scheduled: true }));
    const resume = h.feed({ kind: 'start', byController: true, resume: true });
    assert.deepEqual(kinds(resume), ['emit:desired', 'settle']);
    assert.deepEqual([h.m.snapshot().state, h.m.snapshot().desired], ['scheduled', 'running']);
    assert.deepEqual(kinds(h.feed({ kind: 'due', at: h.now })), ['spawn']);
    assert.deepEqual(eventOf(h.feed({ kind: 'spawned', pid: 5 }), 'spawned')?.detail, { restart: false, scheduled: true });
    const gone = end(h, 0);
    assert.deepEqual(types(gone), ['exited'], 'no desired change: the schedule goes on');
    assert.deepEqual([h.m.snapshot().state, h.m.snapshot().desired], ['scheduled', 'running']);
    // A user's start runs it now, and keeps the schedule.
    assert.deepEqual(kinds(h.feed({ kind: 'start' })), ['spawn']);
    h.feed({ kind: 'spawned', pid: 6 });
    end(h, 0);
    assert.equal(h.m.snapshot().state, 'scheduled');
    // A stop pauses it: due times mean nothing until it is started again.
    assert.deepEqual(types(h.feed({ kind: 'stop' })), ['desired', 'stopped']);
    assert.deepEqual(h.feed({ kind: 'due', at: h.now }), []);
  });

  it("a reconciliation's start of a job without a Schedule runs it, and does not wait for the run's end", () => {
    const h = harness(job());
    const e = h.feed({ kind: 'start', byController: true, resume: true });
    assert.deepEqual(kinds(e), ['emit:desired', 'spawn', 'settle']);
    assert.equal(settled(e)[0]?.ok, true);
  });

  it('ScheduleOverlap skip: a run due while the last one runs is skipped and recorded', () => {
    const h = harness(job({ scheduled: true }));
    h.feed({ kind: 'start', resume: true });
    h.feed({ kind: 'due', at: h.now });
    h.feed({ kind: 'spawned', pid: 5 });
    const due = h.now + 1000;
    const skipped = h.feed({ kind: 'due', at: due });
    assert.deepEqual(eventOf(skipped, 'run_skipped'), {
      type: 'run_skipped',
      pid: 5,
      detail: { due: new Date(due).toISOString(), overlap: 'skip' },
    });
    assert.ok(!end(h, 0).some((e) => e.kind === 'spawn'));
    assert.equal(h.m.snapshot().state, 'scheduled');
  });

  it('ScheduleOverlap queue: one run waits and starts as soon as the last ends; a further one is skipped', () => {
    const h = harness(job({ scheduled: true, overlap: 'queue' }));
    h.feed({ kind: 'start', resume: true });
    h.feed({ kind: 'due', at: h.now });
    h.feed({ kind: 'spawned', pid: 5 });
    assert.deepEqual(h.feed({ kind: 'due', at: h.now }), []);
    assert.deepEqual(types(h.feed({ kind: 'due', at: h.now })), ['run_skipped']);
    const e = end(h, 1); // (even after a failure: the queued run is a fresh one)
    assert.deepEqual(kinds(e).slice(-1), ['spawn']);
    assert.deepEqual(eventOf(h.feed({ kind: 'spawned', pid: 6 }), 'spawned')?.detail, { restart: false, scheduled: true });
  });

  it('CronRestart: a long-running service wanted running is restarted at its time, recorded with the cause; not while stopped', () => {
    const h = harness();
    running(h, 7);
    const due = h.now;
    const e = h.feed({ kind: 'due', at: due });
    assert.deepEqual(types(e), ['cron_restart', 'stopping']);
    assert.deepEqual(eventOf(e, 'cron_restart')?.detail, { due: new Date(due).toISOString() });
    h.feed({ kind: 'exited', code: null, signal: 'SIGTERM' });
    assert.deepEqual(kinds(h.feed({ kind: 'group_gone' })), ['clear_timer', 'clear_timer', 'settle', 'spawn']);
    assert.deepEqual(eventOf(h.feed({ kind: 'spawned', pid: 8 }), 'spawned')?.detail, { restart: false, scheduled: true });
    assert.equal(h.m.snapshot().desired, 'running');
    const stopped = harness();
    assert.deepEqual(stopped.feed({ kind: 'due', at: stopped.now }), []);
  });
});

describe('machine: processes started elsewhere (PidFile, ProcessMatch, Type forking)', { timeout: 5000 }, () => {
  const emitted = (effects: Effect[], type: string) =>
    effects.flatMap((e) => (e.kind === 'emit' && e.event.type === type ? [e.event] : []))[0];

  it('a start that finds the service running takes it over instead of spawning: running at once past MinUptime', () => {
    const h = harness();
    h.feed({ kind: 'start' });
    const e = h.feed({ kind: 'adopted', pid: 300, startedAt: h.now - 60_000, restarts: 0, desired: 'running', how: 'pidfile' });
    assert.deepEqual(kinds(e), ['emit:adopted', 'settle']);
    assert.deepEqual(detailOf(emitted(e, 'adopted'), 'adopted'), {
      startedAt: new Date(h.now - 60_000).toISOString(),
      desired: 'running',
      how: 'pidfile',
    });
    assert.deepEqual(
      settled(e).map((s) => [s.want, s.ok, s.message]),
      [['up', true, 'running']],
    );
    const s = h.m.snapshot();
    assert.deepEqual([s.state, s.pid, s.started], ['running', 300, h.now - 60_000]);
    // Its exit is noticed as any adopted process's, and the restart policy applies after it.
    h.feed({ kind: 'exited', code: null, signal: null, unknown: true });
    h.advance(1000);
    assert.ok(kinds(h.feed({ kind: 'group_gone' })).includes('spawn'));
  });

  it('a process found within its MinUptime waits out MinUptime from its own start; with signalled readiness it is running at once', () => {
    const h = harness({ minUptimeMs: 5000 });
    h.feed({ kind: 'start' });
    const e = h.feed({ kind: 'adopted', pid: 301, startedAt: h.now - 2000, restarts: 0, desired: 'running', how: 'match' });
    const timer = e.find((x) => x.kind === 'set_timer');
    assert.deepEqual(timer?.kind === 'set_timer' ? [timer.timer, timer.at] : null, ['uptime', h.now + 3000]);
    assert.equal(h.m.snapshot().state, 'starting');
    const g = harness({ readiness: 'signal', startTimeoutMs: 90_000 });
    g.feed({ kind: 'start' });
    g.feed({ kind: 'adopted', pid: 302, startedAt: g.now - 10, restarts: 0, desired: 'running', how: 'match' });
    assert.equal(g.m.snapshot().state, 'running');
  });

  it("a find is ignored once a process runs, and a lost buddy's adoption is not one", () => {
    const h = harness();
    running(h, 9);
    assert.deepEqual(h.feed({ kind: 'adopted', pid: 55, startedAt: 0, restarts: 0, desired: 'running', how: 'pidfile' }), []);
    const g = harness();
    g.feed({ kind: 'start' });
    assert.deepEqual(g.feed({ kind: 'adopted', pid: 55, startedAt: 0, restarts: 0, desired: 'running' }), []);
    assert.equal(g.m.snapshot().pid, null);
  });

  it("Type forking: the process its PidFile names becomes the service; the group stays the start script's", () => {
    const h = harness({ readiness: 'signal', startTimeoutMs: 90_000, killTimeoutMs: 0 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 400 });
    const e = h.feed({ kind: 'forked', pid: 401, startedAt: h.now });
    assert.deepEqual(kinds(e), ['emit:adopted']);
    assert.equal(detailOf(emitted(e, 'adopted'), 'adopted').how, 'forked');
    assert.equal(h.m.snapshot().pid, 401);
    const ready = h.feed({ kind: 'ready', how: 'forking' });
    assert.deepEqual(
      settled(ready).map((s) => [s.want, s.ok]),
      [['up', true]],
    );
    assert.equal(h.m.snapshot().state, 'running');
    const stop = h.feed({ kind: 'stop' });
    const signals = stop.flatMap((x) => (x.kind === 'signal_group' ? [x.pgid] : []));
    assert.deepEqual(signals, [400, 400]);
    // A daemon that called setsid leads a group of its own: that one is signalled, never the exited script's.
    const d = harness({ readiness: 'signal', startTimeoutMs: 90_000, killTimeoutMs: 0 });
    d.feed({ kind: 'start' });
    d.feed({ kind: 'spawned', pid: 500 });
    d.feed({ kind: 'forked', pid: 501, startedAt: d.now, pgid: 501 });
    d.feed({ kind: 'ready', how: 'forking' });
    const own = d.feed({ kind: 'stop' }).flatMap((x) => (x.kind === 'signal_group' ? [x.pgid] : []));
    assert.deepEqual(own, [501, 501]);
  });

  it('Type forking: an exit 0 that leaves no process is a failed start that says why', () => {
    const h = harness({ readiness: 'signal', startTimeoutMs: 90_000 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 500 });
    const e = h.feed({ kind: 'exited', code: 0, signal: null, error: 'Type forking: /run/x.pid does not exist' });
    assert.deepEqual(
      settled(e).map((s) => [s.ok, s.message]),
      [[false, 'Type forking: /run/x.pid does not exist']],
    );
    assert.equal(detailOf(emitted(e, 'exited'), 'exited').error, 'Type forking: /run/x.pid does not exist');
    assert.equal(h.m.snapshot().failures, 1);
  });
});

describe('machine: upk attach', { timeout: 5000 }, () => {
  it('a process found by upk attach is taken over without a start: wanted running by the command, running by MinUptime from its own start', () => {
    const h = harness();
    const e = h.feed({
      kind: 'adopted',
      pid: 77,
      startedAt: h.now - 5000,
      restarts: 0,
      desired: 'running',
      how: 'pidfile',
      byController: true,
    });
    assert.deepEqual(kinds(e), ['emit:desired', 'emit:adopted', 'settle']);
    const [desired, adopted] = e.filter((x): x is Extract<Effect, { kind: 'emit' }> => x.kind === 'emit').map((x) => x.event);
    assert.deepEqual(desired!.detail, { desired: 'running', cause: 'command', by: 'controller' });
    assert.equal(detailOf(adopted, 'adopted').how, 'pidfile');
    assert.equal(h.m.snapshot().state, 'running');
    assert.equal(h.m.snapshot().pid, 77);
    assert.ok(!e.some((x) => x.kind === 'spawn'), 'never a start');
  });

  it('in backoff too: the restart waiting is called off', () => {
    const h = harness();
    running(h, 100);
    h.feed({ kind: 'exited', pid: 100, code: 1, signal: null });
    h.feed({ kind: 'group_gone', pgid: 100 });
    h.feed({ kind: 'spawned', pid: 101 });
    h.feed({ kind: 'exited', pid: 101, code: 1, signal: null });
    h.feed({ kind: 'group_gone', pgid: 101 });
    assert.equal(h.m.snapshot().state, 'backoff');
    const e = h.feed({ kind: 'adopted', pid: 77, startedAt: h.now - 5000, restarts: 0, desired: 'running', how: 'match' });
    assert.ok(e.some((x) => x.kind === 'clear_timer' && x.timer === 'restart'));
    assert.equal(h.m.snapshot().state, 'running');
    assert.equal(h.m.snapshot().hold, null);
  });
});

describe('machine: RestartMode overlap', { timeout: 5000 }, () => {
  const events = (effects: Effect[]) =>
    effects.filter((e): e is Extract<Effect, { kind: 'emit' }> => e.kind === 'emit').map((e) => e.event);
  const signals = (effects: Effect[]) =>
    effects
      .filter((e): e is Extract<Effect, { kind: 'signal_group' }> => e.kind === 'signal_group')
      .map((e) => `${e.signal}:${e.pgid}:${e.reason}${e.previous ? ':previous' : ''}`);

  it('starts the new run beside the old one, drains the old once the new is ready, and records both exits', () => {
    const h = harness({ overlap: true });
    running(h, 100);
    const r = h.feed({ kind: 'restart' });
    assert.deepEqual(kinds(r), ['clear_timer', 'spawn'], 'no stop: the old run keeps serving');
    assert.deepEqual(h.m.snapshot().previous, { pid: 100, pgid: 100, startedAt: h.now - 1000, draining: false });
    const s = h.feed({ kind: 'spawned', pid: 200 });
    assert.equal(detailOf(events(s)[0], 'spawned').replaces, 100);
    assert.deepEqual(signals(s), [], 'the old run is not touched while the new one starts');
    h.advance(1000);
    const up = h.feed({ kind: 'timer', timer: 'uptime' });
    assert.deepEqual(signals(up), ['SIGTERM:100:drain:previous']);
    assert.ok(up.some((e) => e.kind === 'set_timer' && e.timer === 'drain' && e.at === h.now + 10_000));
    assert.deepEqual(
      settled(up)[0],
      { kind: 'settle', want: 'up', ok: true, message: 'running' },
      'the restart is answered once the new run is ready',
    );
    assert.equal(h.m.snapshot().state, 'running');
    assert.equal(h.m.snapshot().pid, 200);
    assert.equal(h.m.snapshot().previous?.draining, true);
    const ex = h.feed({ kind: 'exited', pid: 100, code: 0, signal: null });
    const exited = events(ex)[0]!;
    assert.equal(exited.pid, 100);
    assert.deepEqual(detailOf(exited, 'exited'), { uptimeMs: 2000, requested: true, replaced: true });
    assert.ok(ex.some((e) => e.kind === 'watch_group' && e.pgid === 100 && e.previous === true));
    assert.equal(h.m.snapshot().pid, 200, 'the new run is untouched');
    const gone = h.feed({ kind: 'group_gone', pgid: 100 });
    assert.deepEqual(kinds(gone), ['clear_timer']);
    assert.equal(h.m.snapshot().previous, null);
    assert.equal(h.m.snapshot().state, 'running');
  });

  it('SIGKILLs an old run that outlives KillTimeout', () => {
    const h = harness({ overlap: true, minUptimeMs: 0 });
    running(h, 100);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    h.advance(10_000);
    assert.deepEqual(signals(h.feed({ kind: 'timer', timer: 'drain' })), ['SIGKILL:100:escalation:previous']);
    h.feed({ kind: 'exited', pid: 100, code: null, signal: 'SIGKILL' });
    h.feed({ kind: 'group_gone', pgid: 100 });
    assert.equal(h.m.snapshot().previous, null);
  });

  it('a new run that fails before it is ready is stopped, and the old run is the service again (overlap_abandoned)', () => {
    const h = harness({ overlap: true, readiness: 'signal', startTimeoutMs: 5000 });
    h.feed({ kind: 'start' });
    h.feed({ kind: 'spawned', pid: 100 });
    h.feed({ kind: 'ready', how: 'ReadyFd' });
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    h.advance(5000);
    const late = h.feed({ kind: 'timer', timer: 'start' });
    assert.equal(settled(late)[0]?.ok, false);
    assert.deepEqual(signals(late), [], 'the stop script first; the old run is not signalled');
    h.feed({ kind: 'exited', pid: 200, code: 0, signal: null });
    const gone = h.feed({ kind: 'group_gone', pgid: 200 });
    assert.deepEqual(
      events(gone).map((e) => [e.type, e.pid]),
      [['overlap_abandoned', 100]],
    );
    const snap = h.m.snapshot();
    assert.equal(snap.state, 'running');
    assert.equal(snap.pid, 100);
    assert.equal(snap.previous, null);
    // It is the service's run again: its exit is an exit like any other, restarted by the policy.
    h.feed({ kind: 'exited', pid: 100, code: 1, signal: null });
    assert.equal(h.m.snapshot().state, 'stopping');
  });

  it('a stop during the overlap stops both runs and answers once both are gone', () => {
    const h = harness({ overlap: true });
    running(h, 100);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    const stop = h.feed({ kind: 'stop' });
    assert.deepEqual(signals(stop), ['SIGTERM:100:drain:previous'], 'the old run drains at once; the new one gets its stop script');
    assert.ok(stop.some((e) => e.kind === 'run_stop_script' && e.pid === 200));
    h.feed({ kind: 'exited', pid: 200, code: 0, signal: null });
    const newGone = h.feed({ kind: 'group_gone', pgid: 200 });
    assert.deepEqual(
      settled(newGone).filter((s) => s.want === 'down'),
      [],
      'not stopped while the old run lives',
    );
    assert.equal(h.m.snapshot().state, 'stopping');
    h.feed({ kind: 'exited', pid: 100, code: 0, signal: null });
    const oldGone = h.feed({ kind: 'group_gone', pgid: 100 });
    assert.deepEqual(
      events(oldGone).map((e) => e.type),
      ['stopped'],
    );
    assert.deepEqual(
      settled(oldGone)
        .filter((s) => s.want === 'down')
        .map((s) => s.ok),
      [true],
    );
    assert.equal(h.m.snapshot().state, 'stopped');
  });

  it('a shutdown waits for a draining old run before the buddy exits', () => {
    const h = harness({ overlap: true, minUptimeMs: 0 });
    running(h, 100);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    h.feed({ kind: 'shutdown' });
    h.feed({ kind: 'exited', pid: 200, code: 0, signal: null });
    assert.ok(!h.feed({ kind: 'group_gone', pgid: 200 }).some((e) => e.kind === 'exit'));
    h.feed({ kind: 'exited', pid: 100, code: 0, signal: null });
    assert.ok(h.feed({ kind: 'group_gone', pgid: 100 }).some((e) => e.kind === 'exit'));
  });

  it('an old run that crashes while the new one starts is recorded as a failure, and nothing is kept', () => {
    const h = harness({ overlap: true });
    running(h, 100);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    const crash = h.feed({ kind: 'exited', pid: 100, code: 3, signal: null });
    assert.deepEqual(detailOf(events(crash)[0], 'exited'), { uptimeMs: 1000, requested: false, replaced: true });
    assert.equal(h.m.snapshot().state, 'starting', 'the new run goes on');
    const left = h.feed({ kind: 'group_alive', pgid: 100 });
    assert.deepEqual(signals(left), ['SIGTERM:100:cleanup:previous'], 'what it left in its group is cleaned');
    h.feed({ kind: 'group_gone', pgid: 100 });
    assert.equal(h.m.snapshot().previous, null);
  });

  it('upk restart --overlap overlaps once under stop-start; a job, or a run not yet ready, restarts by stop and start', () => {
    const h = harness();
    running(h, 100);
    assert.deepEqual(kinds(h.feed({ kind: 'restart', overlap: true })), ['clear_timer', 'spawn']);
    h.feed({ kind: 'spawned', pid: 200 });
    // Not yet ready: nothing serves that is worth keeping, so a second restart stops it first.
    const again = h.feed({ kind: 'restart', overlap: true });
    assert.ok(again.some((e) => e.kind === 'run_stop_script' && e.pid === 200));
    const plain = harness();
    running(plain, 100);
    assert.ok(
      plain.feed({ kind: 'restart' }).some((e) => e.kind === 'run_stop_script'),
      'stop-start by default',
    );
  });

  it('a second overlap restart while the old run still drains begins once it is gone', () => {
    const h = harness({ overlap: true, minUptimeMs: 0 });
    running(h, 100);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    const again = h.feed({ kind: 'restart' });
    assert.deepEqual(kinds(again), [], 'it waits');
    h.feed({ kind: 'exited', pid: 100, code: 0, signal: null });
    assert.deepEqual(kinds(h.feed({ kind: 'group_gone', pgid: 100 })), ['clear_timer', 'clear_timer', 'spawn']);
    assert.deepEqual(h.m.snapshot().previous, { pid: 200, pgid: 200, startedAt: h.now, draining: false });
    const up = h.feed({ kind: 'spawned', pid: 300 });
    assert.deepEqual(
      settled(up).map((s) => s.ok),
      [true],
      'answered once the third run is ready',
    );
  });

  it('a CronRestart due while the old run still drains waits for it too, instead of stopping the new run (no run would serve)', () => {
    const h = harness({ overlap: true, minUptimeMs: 0 });
    running(h, 100);
    h.feed({ kind: 'restart' });
    h.feed({ kind: 'spawned', pid: 200 });
    const due = h.feed({ kind: 'due', at: h.now });
    assert.deepEqual(signals(due), [], 'the new run is not stopped while the old one drains');
    assert.equal(h.m.snapshot().state, 'running');
    h.feed({ kind: 'exited', pid: 100, code: 0, signal: null });
    assert.ok(kinds(h.feed({ kind: 'group_gone', pgid: 100 })).includes('spawn'), 'the cron restart overlaps once the old run is gone');
    const up = h.feed({ kind: 'spawned', pid: 300 });
    const spawned = events(up)[0]!;
    assert.deepEqual(detailOf(spawned, 'spawned'), { restart: false, scheduled: true, replaces: 200 });
  });

  it('a new buddy that adopts a run whose overlap restart was under way drains the old run once the new is ready', () => {
    const h = harness({ overlap: true });
    const e = h.feed({
      kind: 'adopted',
      pid: 200,
      startedAt: h.now - 100,
      restarts: 0,
      desired: 'running',
      starting: true,
      previous: { pid: 100, startedAt: h.now - 5000 },
    });
    assert.deepEqual(signals(e), []);
    assert.equal(h.m.snapshot().previous?.pid, 100);
    h.advance(900);
    assert.deepEqual(signals(h.feed({ kind: 'timer', timer: 'uptime' })), ['SIGTERM:100:drain:previous']);
  });
});
