// Health checks and limits, their pure parts: the keys' checks, a probe read from its text, counting
// into unhealthy and healthy on virtual time with a fake check, the CPU window, a stale activity file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecks } from '../../buddy/health-checks.js';
import { CpuWindow, Limits } from '../../buddy/limits.js';
import type { Input, Snapshot } from '../../buddy/machine.js';
import type { ProbeResult, RunningProbe } from '../../buddy/probe-runner.js';
import type { BuddySettings } from '../../schema/buddy-protocol.js';
import { parseBytes } from '../../schema/config/check-value.js';
import type { NewEvent } from '../../schema/event-details.js';
import { describeProbe, parseProbe } from '../../schema/probe.js';
import { HEALTH_FIELDS, readSettings } from '../../schema/run-dir-read.js';
import { buddySettings } from '../../controller/run-dir.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServiceText } from '../helpers/load-services.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

const T = { timeout: 10_000 };

describe('the keys', () => {
  const load = (t: Parameters<typeof loadServiceText>[0], keys: Record<string, unknown>) =>
    loadServiceText(t, JSON.stringify({ web: { ExecStart: 'run', ...keys } }));
  const messages = (r: ReturnType<typeof load>): string[] => r.issues.map((i) => `${i.key}: ${i.message}`);

  it('defaults, and values as written', T, (t) => {
    const [svc] = load(t, {}).services;
    assert.equal(svc!.healthCheck, null);
    assert.equal(svc!.healthInterval, 30);
    assert.equal(svc!.healthTimeout, 5);
    assert.equal(svc!.healthRetries, 3);
    assert.equal(svc!.healthRecoveries, 1);
    assert.equal(svc!.healthAction, 'restart');
    assert.equal(svc!.readyCheckInterval, 1);
    assert.equal(svc!.maxMemory, null);
    const [set] = load(t, {
      HealthCheck: ['curl', '-fs', "http://x/it's"],
      HealthAction: 'None',
      HealthInterval: '2s',
      MaxMemory: '512M',
      MaxCPU: 150,
      ActivityFile: '/tmp/beat',
      ActivityTimeout: '1m',
    }).services;
    assert.equal(set!.healthCheck, `'curl' '-fs' 'http://x/it'\\''s'`, 'a list is quoted word by word');
    assert.equal(set!.healthAction, 'none');
    assert.equal(set!.healthInterval, 2);
    assert.equal(set!.maxMemory, 512 * 1024 * 1024);
    assert.equal(set!.maxCpu, 150);
    assert.equal(set!.activityTimeout, 60);
    assert.equal(svc!.sampleInterval, 60, 'SampleInterval unset: a measurement a minute');
    assert.equal(set!.sampleInterval, 10, 'unset, with MaxMemory or MaxCPU: every 10 s, for the limits to act on');
    const [memoryOnly] = load(t, { MaxMemory: '1G' }).services;
    assert.equal(memoryOnly!.sampleInterval, 10);
    const [chosen] = load(t, { MaxMemory: '1G', SampleInterval: '30s' }).services;
    assert.equal(chosen!.sampleInterval, 30, 'a SampleInterval set is kept');
  });

  it('bad values are named with what was expected', T, (t) => {
    assert.deepEqual(messages(load(t, { HealthCheck: 'tcp://db' })), [
      'web.HealthCheck: "tcp://db": expected tcp://HOST:PORT (a port from 1 to 65535)',
    ]);
    assert.deepEqual(messages(load(t, { HealthCheck: 'http://' })), ['web.HealthCheck: "http://" is not a valid URL']);
    assert.deepEqual(messages(load(t, { HealthAction: 'reboot' })), [
      'web.HealthAction: expected one of "restart", "stop", "none", got "reboot"',
    ]);
    assert.match(messages(load(t, { HealthFailLine: 'FATAL(' }))[0]!, /^web\.HealthFailLine: not a valid regular expression "FATAL\(": /);
    for (const slow of ['(a+)+$', '(\\w*\\s?)*x', '((ab)*c){2,}'])
      assert.match(messages(load(t, { HealthFailLine: slow }))[0] ?? '', /can take exponential time/, slow);
    for (const fine of ['FATAL|out of memory', '^(error|warn)[: ]+\\w+', '[(a+)+]*', '\\(a+\\)+'])
      assert.deepEqual(messages(load(t, { HealthFailLine: fine })), [], fine);
    assert.deepEqual(messages(load(t, { MaxMemory: '12 apples' })), [
      'web.MaxMemory: expected a size in bytes: an integer ≥ 0, or a number with a unit K, M, G or T ("512M") or null, got "12 apples"',
    ]);
    assert.deepEqual(messages(load(t, { HealthRetries: 0 })), ['web.HealthRetries: expected an integer ≥ 1, got 0']);
    assert.deepEqual(messages(load(t, { MaxMemory: '1G', SampleInterval: 0 })), [
      'web.MaxMemory: MaxMemory needs measurements: SampleInterval is 0',
    ]);
    assert.deepEqual(messages(load(t, { ActivityFile: '/tmp/x' })), [
      'web.ActivityFile: ActivityFile needs an ActivityTimeout greater than 0',
    ]);
    assert.deepEqual(messages(load(t, { ActivityTimeout: 5 })), ['web.ActivityTimeout: ActivityTimeout needs an ActivityFile to watch']);
  });

  it('a buddy.json written before them reads with every check and limit off', T, (t) => {
    const svc = load(t, { HealthCheck: 'tcp://127.0.0.1:80', MaxMemory: '1G' }).services[0]!;
    const settings = buddySettings(svc, '00000000-0000-4000-8000-000000000001', '/tmp', {}, null);
    assert.equal(settings.healthCheck, 'tcp://127.0.0.1:80');
    const dir = mkdtempSync(join(tmpdir(), 'upk-health-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const older = Object.fromEntries(Object.entries(settings).filter(([k]) => !(k in HEALTH_FIELDS)));
    writeFileSync(join(dir, 'buddy.json'), JSON.stringify(older));
    assert.deepEqual(readSettings(join(dir, 'buddy.json')), { ...settings, ...HEALTH_FIELDS });
  });

  it('sizes', T, () => {
    assert.equal(parseBytes('4096'), 4096);
    assert.equal(parseBytes('1.5G'), 1.5 * 1024 ** 3);
    assert.equal(parseBytes('64 MiB'), 64 * 1024 ** 2);
    assert.equal(parseBytes('12 apples'), null);
  });
});

describe('probes', () => {
  it('read from their text, and told in words', T, () => {
    const words = (text: string): string => {
      const p = parseProbe(text);
      return 'message' in p ? `! ${p.message}` : `${p.kind}: ${describeProbe(p)}`;
    };
    assert.equal(words('http://127.0.0.1:8080/health'), 'http: GET http://127.0.0.1:8080/health');
    assert.equal(words('tcp://127.0.0.1:5432'), 'tcp: tcp 127.0.0.1:5432');
    assert.equal(words('tcp://[::1]:80'), 'tcp: tcp [::1]:80');
    assert.equal(words('tcp://db:0'), '! "tcp://db:0": expected tcp://HOST:PORT (a port from 1 to 65535)');
    assert.equal(words('pg_isready -q'), 'command: pg_isready -q');
  });
});

const SETTINGS = { ...HEALTH_FIELDS, healthCheck: 'tcp://127.0.0.1:1', healthInterval: 1, healthRetries: 3 } as unknown as BuddySettings;
const running = (pid: number, started: number): Snapshot => ({ state: 'running', pid, started }) as Snapshot;
const stopping: Snapshot = { state: 'stopping', pid: 7, started: 0 } as Snapshot;

/** HealthChecks on virtual time, with checks that answer what the test queues. */
function harness(settings: Partial<BuddySettings> = {}) {
  const clock = new VirtualClock();
  const events: NewEvent[] = [];
  const inputs: Input[] = [];
  const answers: ProbeResult[] = [];
  let runs = 0;
  let cancelled = 0;
  const run = (): RunningProbe => {
    runs += 1;
    return { result: Promise.resolve(answers.shift() ?? { ok: true, output: 'HTTP 200' }), cancel: () => void (cancelled += 1) };
  };
  const checks = new HealthChecks(
    { ...SETTINGS, ...settings },
    {
      clock,
      context: () => ({ env: {}, cwd: '/' }),
      emit: (e) => events.push(e),
      input: (i) => inputs.push(i),
      run,
    },
  );
  return { clock, events, inputs, answers, checks, runs: () => runs, cancelled: () => cancelled };
}

describe('HealthChecks', () => {
  it('HealthRetries failures in a row: unhealthy and unwell; a pass after: healthy, with HealthAction none', T, async () => {
    const h = harness({ healthAction: 'none' });
    h.checks.follow(running(7, h.clock.now()));
    await h.clock.pass(1000);
    assert.equal(h.checks.status?.status, 'healthy');
    h.answers.push(...[1, 2, 3].map(() => ({ ok: false, output: 'HTTP 500' })));
    await h.clock.pass(2000);
    assert.equal(h.checks.status?.failures, 2);
    assert.equal(h.events.length, 0);
    await h.clock.pass(1000);
    assert.deepEqual(h.events, [
      { type: 'unhealthy', pid: 7, detail: { check: 'tcp 127.0.0.1:1', failures: 3, output: 'HTTP 500', action: 'none' } },
    ]);
    assert.deepEqual(h.inputs, [], 'none: recorded only');
    await h.clock.pass(1000);
    assert.deepEqual(h.events[1], { type: 'healthy', pid: 7, detail: { check: 'tcp 127.0.0.1:1' } });
    assert.equal(h.checks.status?.status, 'healthy');
  });

  it('restart feeds the machine; a stop ends the checks and cancels one under way', T, async () => {
    const h = harness({ healthRetries: 1 });
    h.checks.follow(running(7, h.clock.now()));
    h.answers.push({ ok: false, output: 'refused' });
    await h.clock.pass(1000);
    assert.deepEqual(h.inputs, [{ kind: 'unwell', action: 'restart', cause: 'unhealthy' }]);
    h.checks.follow(stopping);
    assert.equal(h.checks.status, null);
    const runs = h.runs();
    await h.clock.pass(5000);
    assert.equal(h.runs(), runs, 'no check while stopping');
  });

  it('failures within HealthStartPeriod do not count', T, async () => {
    const h = harness({ healthRetries: 1, healthStartPeriod: 2.5 });
    h.checks.follow(running(7, h.clock.now()));
    h.answers.push({ ok: false, output: 'x' }, { ok: false, output: 'x' }, { ok: false, output: 'x' });
    await h.clock.pass(2000);
    assert.equal(h.events.length, 0);
    await h.clock.pass(1000);
    assert.equal(h.events.length, 1);
  });

  it('a line matching HealthFailLine is a failed check, across chunks', T, () => {
    const h = harness({ healthCheck: null, healthFailLine: 'FATAL|out of memory', healthRetries: 2 });
    h.checks.follow(running(7, h.clock.now()));
    h.checks.output('stdout', Buffer.from('fine\nFAT'));
    h.checks.output('stdout', Buffer.from('AL: one\n'));
    assert.equal(h.checks.status?.failures, 1);
    h.checks.output('stderr', Buffer.from('out of memory\n'));
    assert.deepEqual(h.events, [
      {
        type: 'unhealthy',
        pid: 7,
        detail: { check: 'output /FATAL|out of memory/', failures: 2, output: 'out of memory', action: 'restart' },
      },
    ]);
  });

  it('ReadyCheck runs at once while starting, and its first pass is the ready input', T, async () => {
    const h = harness({ healthCheck: null, readyCheck: 'tcp://127.0.0.1:1', readyCheckInterval: 0.5 });
    h.answers.push({ ok: false, output: 'refused' });
    h.checks.follow({ state: 'starting', pid: 9, started: h.clock.now() } as Snapshot);
    await h.clock.pass(0);
    assert.deepEqual(h.inputs, []);
    await h.clock.pass(500);
    assert.deepEqual(h.inputs, [{ kind: 'ready', how: 'probe' }]);
    await h.clock.pass(2000);
    assert.equal(h.runs(), 2, 'no more once ready');
  });
});

describe('limits', () => {
  it('CpuWindow: the mean once MaxCPUWindow (60 s here, then 20 s) is covered', T, () => {
    const w = new CpuWindow();
    for (let i = 1; i < 6; i++) assert.equal(w.add(i * 10_000, 10_000, 5000, 60_000), null);
    assert.equal(w.add(60_000, 10_000, 5000, 60_000), 50);
    assert.equal(w.add(70_000, 10_000, 17_000, 60_000), 70, 'the oldest measurement leaves the window');
    assert.equal(w.add(80_000, 10_000, 3000, 20_000), 100, 'a shorter window: the last two measurements');
  });

  it('MaxMemory once per pass with action none; a stale ActivityFile', T, async () => {
    const clock = new VirtualClock();
    const events: NewEvent[] = [];
    const inputs: Input[] = [];
    let mtime: number | null = null;
    const limits = new Limits(
      { ...SETTINGS, maxMemory: 1000, maxMemoryAction: 'none', activityFile: '/x', activityTimeout: 2 },
      {
        clock,
        emit: (e) => events.push(e),
        input: (i) => inputs.push(i),
        mtime: () => mtime,
      },
    );
    const started = clock.now();
    limits.follow(running(7, started));
    limits.measured(2000, 0, 1000);
    limits.measured(3000, 0, 1000);
    assert.deepEqual(events, [{ type: 'limit_exceeded', pid: 7, detail: { limit: 'MaxMemory', value: 2000, max: 1000, action: 'none' } }]);
    await clock.pass(1500);
    mtime = clock.now();
    await clock.pass(1500);
    assert.equal(events.length, 1, 'changed 1.5 s in');
    await clock.pass(1000);
    assert.equal(events.length, 2);
    assert.deepEqual(events[1]!.detail, { limit: 'ActivityTimeout', value: 2.5, max: 2, action: 'restart' });
    assert.deepEqual(inputs, [{ kind: 'unwell', action: 'restart', cause: 'limit' }]);
  });
});
