// The buddy's runtime on virtual time, with a fake service: the policies the supervisor carries out
// through timers (MinUptime, KillTimeout's escalation, the group watch, a restart after a backoff),
// each decided without waiting. The real processes are the integration tests' (stop-and-crash).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EventQueue } from '../../buddy/event-queue.js';
import { JournalFile } from '../../buddy/journal-file.js';
import type { ScriptChild } from '../../buddy/spawn-script.js';
import { Supervisor, type SupervisorWorld } from '../../buddy/supervisor.js';
import type { BuddySettings } from '../../schema/buddy-protocol.js';
import { ADOPTION_FIELDS, HEALTH_FIELDS, READINESS_FIELDS, SCHEDULE_FIELDS } from '../../schema/run-dir-read.js';
import type { BuddyEvent } from '../../schema/records.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

const root = mkdtempSync(join(tmpdir(), 'upk-sup-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Above the kernel's largest pid (2^22): /proc never shows such a process. */
const FIRST_PID = 4_194_400;

const settingsFor = (dir: string, s: Partial<BuddySettings>): BuddySettings => ({
  settingsVersion: 1,
  service: 'web',
  uuid: '00000000-0000-4000-8000-000000000001',
  killTimeout: 2,
  maxConsecutiveFailures: -1,
  userMaxRestarts: -1,
  userRestartWindow: 60,
  userRateLimit: 5,
  randomizeRateLimit: false,
  minUptime: 1,
  ...READINESS_FIELDS,
  ...SCHEDULE_FIELDS,
  ...ADOPTION_FIELDS,
  ringbufferSize: 256,
  reconnectRetries: 0,
  journalMaxEvents: 0,
  controllerEndpoint: null,
  logMaxSize: 0,
  logKeep: 0,
  logTimestamps: false,
  sampleInterval: 0,
  ...HEALTH_FIELDS,
  customActions: [],
  startCommand: null,
  stopSignal: null,
  pipeStdout: false,
  pipeStderr: false,
  redirectStdout: null,
  redirectStderr: null,
  environment: {},
  environmentFiles: [],
  workingDirectory: dir,
  uid: null,
  gid: null,
  ...s,
});

class FakeChild extends EventEmitter implements ScriptChild {
  constructor(readonly pid: number) {
    super();
  }
}

/**
 * A service that never runs: its start script's process, its group, and what the supervisor did to
 * it, with the virtual time of each.
 */
class FakeService {
  /** The start script's process runs. */
  running = false;
  /** Times the supervisor said no earlier run of the service is known. */
  noEarlierRuns = 0;
  /** Something of the service is left (its process, or what it started in its group). */
  alive = false;
  /** The signal that ends it: SIGTERM for an obedient service, SIGKILL for one that ignores SIGTERM. */
  diesOn: 'SIGTERM' | 'SIGKILL' = 'SIGTERM';
  readonly starts: number[] = [];
  /** What each start ran: scripts/start, or the program of startCommand (`direct`). */
  readonly ran: string[] = [];
  readonly signals: { signal: string; at: number }[] = [];
  private child: FakeChild | null = null;
  private nextPid = FIRST_PID;

  constructor(private readonly clock: VirtualClock) {}

  world(): Partial<SupervisorWorld> {
    return {
      clock: this.clock,
      spawn: (script, _args, _stdio, _ctx, direct) => {
        const child = new FakeChild(this.nextPid++);
        if (script.endsWith('/start') || direct === true) {
          this.ran.push(direct === true ? script : 'scripts/start');
          this.starts.push(this.clock.now());
          this.child = child;
          this.running = this.alive = true;
        } else setImmediate(() => child.emit('exit', 0, null)); // the stop script: done at once
        return child;
      },
      processes: {
        noEarlierRun: () => void this.noEarlierRuns++,
        starting: (env) => env,
        adopted: () => undefined,
        signal: (_pgid, signal) => {
          this.signals.push({ signal, at: this.clock.now() });
          const group = this.alive;
          if (signal === this.diesOn || signal === 'SIGKILL') {
            this.alive = false;
            // Its exit reaches the buddy a moment later, as Node reports one.
            const child = this.child;
            if (this.running) setImmediate(() => child?.emit('exit', null, signal));
            this.running = false;
          }
          return { group, escaped: [] };
        },
        gone: () => !this.alive,
        spare: () => undefined,
        signalPrevious: () => ({ group: false, escaped: [] }),
        previousGone: () => true,
      },
    };
  }

  /** The start script's process exits; `lingering`: something it started stays in the group. */
  exit(code: number, lingering = false): void {
    this.running = false;
    this.alive = lingering;
    this.child?.emit('exit', code, null);
  }
}

let runs = 0;
function harness(s: Partial<BuddySettings> = {}, firstHere = false) {
  const dir = join(root, String(runs++));
  mkdirSync(join(dir, 'log'), { recursive: true });
  const identity = { instance: 'i', uuid: 'u', service: 'web', pid: 1, started: 'x' };
  const queue = new EventQueue(256, new JournalFile(join(dir, 'journal'), { journal: 1, ...identity }), 0);
  const clock = new VirtualClock();
  const service = new FakeService(clock);
  const supervisor = new Supervisor(dir, settingsFor(dir, s), queue, { instance: 'i', started: 0 }, () => undefined, service.world());
  supervisor.open(null, firstHere);
  const t0 = clock.now();
  return {
    supervisor,
    service,
    clock,
    /** Virtual ms since the harness began. */
    since: (at: number) => at - t0,
    events: (): BuddyEvent[] => queue.peek(1000),
    /** Start the service and keep it up for MinUptime: running. */
    async running(): Promise<void> {
      const up = supervisor.command('start');
      clock.advance(1000);
      assert.equal((await up).message, 'running');
    },
    /** Wait until the stop script's run is over (its output pipe is real: its end comes from the kernel). */
    async actionsDone(): Promise<void> {
      for (let i = 0; i < 1000 && supervisor.actionsRunning; i++) await new Promise((r) => setTimeout(r, 1));
      assert.equal(supervisor.actionsRunning, false);
    },
    close: () => supervisor.close(),
  };
}

const signalsSent = (events: BuddyEvent[]) =>
  events.filter((e) => e.type === 'signal_sent').map((e) => `${e.signal} ${String(e.detail?.reason)}`);

describe('supervisor on virtual time', { timeout: 5000 }, () => {
  it('only a run directory without a status tells the service processes that no earlier run is known', () => {
    for (const [firstHere, told] of [
      [true, 1],
      [false, 0],
    ] as const) {
      const h = harness({}, firstHere);
      assert.equal(h.service.noEarlierRuns, told);
      h.close();
    }
  });

  it('a start is answered once the service has been up for MinUptime, not before', async () => {
    const h = harness({ minUptime: 3 });
    let answered = false;
    const up = h.supervisor.command('start');
    void up.then(() => (answered = true));
    assert.deepEqual(h.service.starts.map(h.since), [0], 'spawned at once');
    h.clock.advance(2999);
    await new Promise((r) => setImmediate(r));
    assert.equal(answered, false, 'not yet up for MinUptime');
    assert.equal(h.supervisor.status().state, 'starting');
    h.clock.advance(1);
    const outcome = await up;
    assert.deepEqual([outcome.ok, outcome.message, outcome.status.state], [true, 'running', 'running']);
    h.close();
  });

  it('startCommand is exec’d directly where PATH is set or the program is a path; without PATH /bin/sh searches its own list', async () => {
    const ran = async (s: Partial<BuddySettings>): Promise<string[]> => {
      const h = harness(s);
      await h.running();
      h.close();
      return h.service.ran;
    };
    assert.deepEqual(await ran({ startCommand: ['web'], environment: { PATH: '/usr/bin:/bin' } }), ['web']);
    assert.deepEqual(await ran({ startCommand: ['/opt/web'], environment: {} }), ['/opt/web']);
    assert.deepEqual(await ran({ startCommand: ['web'], environment: {} }), ['scripts/start']);
    assert.deepEqual(await ran({ startCommand: null, environment: { PATH: '/usr/bin:/bin' } }), ['scripts/start']);
  });

  it('KillTimeout: a service that ignores SIGTERM gets SIGKILL KillTimeout later, after the stop script had its KillTimeout', async () => {
    const h = harness({ killTimeout: 2 });
    await h.running();
    h.service.diesOn = 'SIGKILL';
    const stopAt = h.clock.now();
    const down = h.supervisor.command('stop');
    h.clock.advance(1999);
    assert.equal(h.service.signals.length, 0, 'the stop script has KillTimeout to stop the service');
    h.clock.advance(1);
    h.clock.advance(1999);
    assert.deepEqual(
      h.service.signals.map((s) => [s.signal, s.at - stopAt]),
      [['SIGTERM', 2000]],
    );
    h.clock.advance(1);
    assert.deepEqual(
      h.service.signals.map((s) => [s.signal, s.at - stopAt]),
      [
        ['SIGTERM', 2000],
        ['SIGKILL', 4000],
      ],
    );
    const outcome = await down;
    assert.equal(outcome.ok, true);
    assert.equal(outcome.status.state, 'stopped');
    assert.deepEqual(signalsSent(h.events()), ['SIGTERM escalation', 'SIGKILL escalation']);
    const exited = h.events().find((e) => e.type === 'exited');
    assert.equal(exited?.signal, 'SIGKILL');
    await h.actionsDone();
    assert.equal(h.clock.untilNext, null, 'no timer left behind');
    h.close();
  });

  it('a service that obeys SIGTERM never gets SIGKILL: the kill timer goes with its group', async () => {
    const h = harness({ killTimeout: 2 });
    await h.running();
    const down = h.supervisor.command('stop');
    h.clock.advance(2000);
    assert.equal((await down).message, 'stopped');
    h.clock.advance(60_000);
    assert.deepEqual(
      h.service.signals.map((s) => s.signal),
      ['SIGTERM'],
    );
    await h.actionsDone();
    assert.equal(h.clock.untilNext, null, 'no timer left behind');
    h.close();
  });

  it('a negative KillTimeout waits as long for SIGTERM and never sends SIGKILL', async () => {
    const h = harness({ killTimeout: -2 });
    await h.running();
    h.service.diesOn = 'SIGKILL';
    void h.supervisor.command('stop');
    h.clock.advance(3_600_000);
    assert.deepEqual(
      h.service.signals.map((s) => s.signal),
      ['SIGTERM'],
    );
    assert.equal(h.supervisor.status().state, 'stopping');
    h.close();
  });

  it('a crash is restarted after the rate limit, counted from the last start', async () => {
    const h = harness({ userRateLimit: 5 });
    await h.running();
    h.service.exit(1);
    assert.equal(h.supervisor.status().state, 'backoff');
    const backoff = h.events().find((e) => e.type === 'backoff');
    assert.equal(backoff?.detail?.delayMs, 4000, 'five seconds after the start, one of which it ran');
    h.clock.advance(3999);
    assert.equal(h.service.starts.length, 1);
    h.clock.advance(1);
    assert.deepEqual(h.service.starts.map(h.since), [0, 5000]);
    assert.equal(h.supervisor.status().restarts, 1);
    h.close();
  });

  it('what a crashed service leaves in its group gets SIGTERM at once and is watched until gone; then the restart comes', async () => {
    const h = harness({ userRateLimit: 0, killTimeout: 2 });
    await h.running();
    const crashAt = h.clock.now();
    h.service.diesOn = 'SIGKILL';
    h.service.exit(1, true);
    assert.deepEqual(
      h.service.signals.map((s) => [s.signal, s.at - crashAt]),
      [['SIGTERM', 0]],
    );
    assert.equal(h.supervisor.status().state, 'stopping');
    h.clock.advance(20);
    h.service.alive = false; // the leftover ends by itself; the watch looks at 5, 15, 35 ms (5 ms, doubling)
    h.clock.advance(14);
    assert.equal(h.service.starts.length, 1, 'not yet looked again');
    h.clock.advance(1);
    assert.deepEqual(
      h.service.starts.map((at) => at - crashAt),
      [-1000, 35],
      'restarted once the group was seen gone',
    );
    assert.deepEqual(signalsSent(h.events()), ['SIGTERM cleanup']);
    h.close();
  });

  it('a leftover that ignores SIGTERM gets SIGKILL KillTimeout after the crash', async () => {
    const h = harness({ userRateLimit: 0, killTimeout: 2 });
    await h.running();
    const crashAt = h.clock.now();
    h.service.diesOn = 'SIGKILL';
    h.service.exit(1, true);
    h.clock.advance(2000);
    assert.deepEqual(
      h.service.signals.map((s) => [s.signal, s.at - crashAt]),
      [
        ['SIGTERM', 0],
        ['SIGKILL', 2000],
      ],
    );
    h.clock.advance(100); // the watch looks at most every 100 ms
    assert.equal(h.service.starts.length, 2, 'restarted once the group was gone');
    h.close();
  });
});
