// Audit queries on a large history: a database of 1,000,000 events and a month of usage records for
// 50 services, built through the AuditStore, then queried through a real controller (libclient and upk).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AuditStore, type EventBatch } from '../controller/audit-store.js';
import type { Client, TrendMetric } from '../libclient/index.js';
import { formatIssue, loadControllerConfig, loadServices } from '../schema/config/index.js';
import type { BuddyEvent } from '../schema/records.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { pastFigures } from './audit-past.js';
import { idleService, manyServices, median, percentile, sleep, UPK_PROGRAM, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 50;
const FLAPPERS = 10;
const DAYS = 30;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Minute records for the last 7 days (what the controller keeps); hourly records before. */
const MINUTE_DAYS = 7;

export const auditQueries: Benchmark = {
  name: 'audit-queries',
  title: 'Trend and event queries on 1,000,000 events and a month of usage records, 50 services',
  run: (ctx) =>
    withSandbox('audit', async (sandbox): Promise<Figure[]> => {
      const events = ctx.quick ? 200_000 : 1_000_000;
      const built = await build(sandbox, events);
      ctx.note(
        `built in ${(built.ms / 1000).toFixed(1)} s: ${built.events.toLocaleString('en-US')} events (${FLAPPERS} services crash-loop, ` +
          `${SERVICES - FLAPPERS} restart now and then), ${built.usage.toLocaleString('en-US')} usage records over ${DAYS} days; ` +
          `database ${(statSync(join(sandbox.stateDir, STATE_DIR.database)).size / 2 ** 20).toFixed(0)} MiB`,
      );
      await sandbox.startController();
      await untilPruned(sandbox);
      const client = await sandbox.connect();
      try {
        return await measure(ctx.quick, client, sandbox, ctx.note);
      } finally {
        client.close();
      }
    }),
};

/** Services that do not run: the history is made up, the controller only serves it. */
const stoppedService = () => idleService({ InitialState: 'stopped' });

async function build(sandbox: Sandbox, total: number): Promise<{ ms: number; events: number; usage: number }> {
  const t0 = performance.now();
  sandbox.writeConfig();
  sandbox.writeServices(manyServices(SERVICES, stoppedService));
  const { config, issues } = loadControllerConfig({ config: sandbox.configFile, env: process.env });
  if (!config) throw new Error(issues.map(formatIssue).join('\n'));
  const loaded = loadServices(config, process.env);
  mkdirSync(sandbox.stateDir, { recursive: true, mode: 0o700 });
  const store = new AuditStore(join(sandbox.stateDir, STATE_DIR.database));
  const now = Date.now();
  const start = now - DAYS * DAY;
  let events = 0;
  let usage = 0;
  try {
    // 80 % of the events from the crash-looping services, the rest from the others.
    const perFlapper = Math.floor((total * 0.8) / FLAPPERS);
    const perSteady = Math.floor((total - perFlapper * FLAPPERS) / (SERVICES - FLAPPERS));
    for (const [i, svc] of loaded.services.entries()) {
      const uuid = store.upsertService(svc, () => null, start).uuid;
      const instance = `bench-${i}`;
      const buddy = { serviceUuid: uuid, service: svc.id, instance, buddyId: store.buddyId(instance, uuid, 100_000 + i, start) };
      const budget = i < FLAPPERS ? perFlapper : perSteady;
      const made = history(start, now, budget, i);
      events += made.events;
      usage += made.usage;
      for (let k = 0; k < made.records.length; k += 5000) {
        store.insertEvents([{ ...buddy, events: made.records.slice(k, k + 5000) } satisfies EventBatch]);
      }
      await sleep(0); // let Ctrl-C through
    }
  } finally {
    store.close();
  }
  return { ms: performance.now() - t0, events, usage };
}

/**
 * One service's month: runs of spawned → exited → backoff (every tenth ended by a user's restart:
 * desired, stopping, signal_sent, exited, stopped), spread evenly so that they use `budget` events;
 * and its usage records, one a minute for the last 7 days and one an hour before.
 */
export function history(
  start: number,
  end: number,
  budget: number,
  index: number,
): { records: BuddyEvent[]; events: number; usage: number } {
  const records: Omit<BuddyEvent, 'seq'>[] = [];
  const perRun = 3.3; // the mean of 3 events, and 6 for every tenth run
  const runs = Math.floor(budget / perRun);
  const every = (end - start) / runs;
  let pid = 1000 + index * 1_000_000;
  let made = 0;
  for (let r = 0; r < runs && made < budget - 9; r++) {
    const t = Math.round(start + r * every);
    const up = Math.round(every * 0.9);
    pid += 1;
    records.push({ time: t, type: 'spawned', pid, detail: { restart: r % 10 !== 0 } });
    if (r % 10 === 9) {
      records.push(
        { time: t + up, type: 'desired', detail: { desired: 'running', cause: 'command' } },
        { time: t + up, type: 'stopping', pid, detail: { restart: true } },
        { time: t + up + 1, type: 'signal_sent', pid, signal: 'SIGTERM', detail: { group: true, reason: 'stop' } },
        { time: t + up + 5, type: 'exited', pid, signal: 'SIGTERM', detail: { uptimeMs: up, requested: true } },
        { time: t + up + 6, type: 'stopped', detail: {} },
      );
      made += 6;
    } else {
      records.push(
        {
          time: t + up,
          type: 'exited',
          pid,
          code: 1,
          detail: { uptimeMs: up, requested: false, lastOutput: { stdout: 'serving', stderr: `error: lost connection ${r}` } },
        },
        { time: t + up + 1, type: 'backoff', detail: { reason: 'ratelimit', delayMs: 1000, until: new Date(t + up + 1001).toISOString() } },
      );
      made += 3;
    }
  }
  let usage = 0;
  const minuteFrom = end - MINUTE_DAYS * DAY;
  const step = (t: number): number => (t < minuteFrom ? HOUR : MIN);
  for (let t = Math.ceil(start / HOUR) * HOUR; t + step(t) <= end; t += step(t)) {
    const len = step(t);
    const cpuMs = Math.round(len * (0.02 + 0.01 * ((t / len + index) % 5)));
    records.push({
      time: t + len - 1,
      type: 'usage',
      detail: {
        from: t,
        to: t + len - 1,
        cpuMs,
        rssKb: 40_000 + index * 1000,
        rssMaxKb: 45_000 + index * 1000,
        processes: 1,
        samples: len / 10_000,
      },
    });
    usage += 1;
  }
  records.sort((a, b) => a.time - b.time);
  return { records: records.map((e, i) => ({ ...e, seq: i + 1 })), events: made, usage };
}

/** The controller prunes at start (minute records older than 7 days): wait until it has. */
async function untilPruned(sandbox: Sandbox): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!/pruned the audit database/.test(readFileSync(join(sandbox.stateDir, 'controller.log'), 'utf8'))) {
    if (Date.now() > deadline) throw new Error(`the controller did not prune within 2 min:\n${sandbox.controllerLogTail()}`);
    await sleep(200);
  }
}

async function timed(n: number, run: () => Promise<unknown>): Promise<number[]> {
  await run(); // warm the caches once
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Wall time of a whole upk command, in an environment without NODE_OPTIONS and NODE_EXTRA_CA_CERTS (which alone add ~30 ms here). */
function upkWall(sandbox: Sandbox, args: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, UPKEEPER_CONFIG: sandbox.configFile };
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [UPK_PROGRAM, ...args], { env }, (err) => (err ? reject(err) : resolve(performance.now() - t0)));
  });
}

async function measure(quick: boolean, client: Client, sandbox: Sandbox, note: (line: string) => void): Promise<Figure[]> {
  const N = quick ? 5 : 20;
  const figures: Figure[] = [];
  const week = new Date(Date.now() - 7 * DAY);
  const metrics: TrendMetric[] = ['restarts', 'failures', 'uptime', 'mtbf', 'mttr', 'cpu', 'rss'];
  let slowest = { metric: '', p50: 0 };
  for (const metric of metrics) {
    const t = await timed(N, () => client.trend({ metric, bucket: '1h', since: week }));
    const p50 = median(t);
    if (p50 > slowest.p50) slowest = { metric, p50 };
    figures.push({
      label: `trend ${metric}, 50 services, 7 d in 1 h buckets, p50`,
      value: p50,
      unit: 'ms',
      n: N,
      target: { op: '<=', value: 100 },
    });
  }
  note(`slowest trend over 7 days: ${slowest.metric}, p50 ${slowest.p50.toFixed(1)} ms`);
  const month = await timed(N, () => client.trend({ metric: 'uptime', bucket: '1d', since: new Date(Date.now() - DAYS * DAY) }));
  figures.push({
    label: 'trend uptime, 50 services, 30 d in 1 d buckets, p50',
    value: median(month),
    unit: 'ms',
    n: N,
    target: { op: '<=', value: 100 },
  });
  const minutes = await timed(N, () => client.trend({ metric: 'cpu', bucket: '15m', since: new Date(Date.now() - DAY) }));
  figures.push({
    label: 'trend cpu, 50 services, 24 h in 15 min buckets (minute records), p50',
    value: median(minutes),
    unit: 'ms',
    n: N,
    target: { op: '<=', value: 100 },
  });
  const upMinutes = await timed(N, () => client.trend({ metric: 'uptime', bucket: '15m', since: new Date(Date.now() - DAY) }));
  figures.push({
    label: 'trend uptime, 50 services, 24 h in 15 min buckets (runs), p50',
    value: median(upMinutes),
    unit: 'ms',
    n: N,
    target: { op: '<=', value: 100 },
  });
  const fine = await timed(N, () => client.trend({ metric: 'rss', bucket: '10m', since: new Date(Date.now() - 6.9 * DAY) }));
  figures.push({
    label: 'trend rss, 50 services, 6.9 d in 10 min buckets (every minute record), p50',
    value: median(fine),
    unit: 'ms',
    n: N,
  });
  const one = await timed(N, () => client.trend({ services: 'svc-01', metric: 'restarts', bucket: '1h', since: week }));
  figures.push({ label: 'trend restarts, 1 crash-looping service, 7 d, p50', value: median(one), unit: 'ms', n: N });

  const hourAgo = () => new Date(Date.now() - HOUR);
  const recent = await timed(N, () => client.events({ since: hourAgo(), limit: 100 }));
  figures.push({
    label: 'events --since 1h (newest 100), libclient round trip, p50',
    value: median(recent),
    unit: 'ms',
    n: N,
    target: { op: '<=', value: 50 },
  });
  figures.push({ label: 'events --since 1h, libclient round trip, p95', value: percentile(recent, 95), unit: 'ms', n: N });
  const grep = await timed(N, () => client.events({ since: hourAgo(), text: 'lost connection 7', limit: 100 }));
  figures.push({ label: 'events --since 1h --grep TEXT, p50', value: median(grep), unit: 'ms', n: N });
  const why = await timed(N, () => client.why('svc-01'));
  figures.push({ label: 'why, a crash-looping service, p50', value: median(why), unit: 'ms', n: N });
  figures.push(...(await pastFigures(N, client, note)));

  // What fails together (upk correlate) over the month: around a crash-looping service's last 100
  // failures (the default); around every failure of a service that restarts now and then (its 30
  // days, ~1,360 failures: every run of the other 49 services read); fleet-wide.
  const monthAgo = new Date(Date.now() - DAYS * DAY);
  const correlate = await timed(N, () => client.correlate({ service: 'svc-01', since: monthAgo }));
  figures.push({
    label: 'correlate svc-01 (crash-looping), 30 d, ±30 s, its last 100 failures, p50',
    value: median(correlate),
    unit: 'ms',
    n: N,
    target: { op: '<=', value: 300 },
  });
  const wholeMonth = await timed(N, () => client.correlate({ service: 'svc-20', since: monthAgo, failures: 10_000 }));
  figures.push({
    label: 'correlate svc-20, 30 d, ±30 s, all its failures (the whole month), p50',
    value: median(wholeMonth),
    unit: 'ms',
    n: N,
  });
  const fleet = await timed(N, () => client.correlate({ since: monthAgo }));
  figures.push({ label: 'correlate fleet-wide (every pair of 50 services), 30 d, ±30 s, p50', value: median(fleet), unit: 'ms', n: N });

  const walls = quick ? 3 : 10;
  const upkEvents: number[] = [];
  const upkTrend: number[] = [];
  const upkVersion: number[] = [];
  for (let i = 0; i < walls; i++) {
    upkEvents.push(await upkWall(sandbox, ['events', '--since', '1h']));
    upkTrend.push(await upkWall(sandbox, ['trend', '--since', '7d', '--bucket', '1h', '--json']));
    upkVersion.push(await upkWall(sandbox, ['--version']));
  }
  figures.push({
    label: 'upk events --since 1h, whole command (process start to exit), p50',
    value: median(upkEvents),
    unit: 'ms',
    n: walls,
  });
  figures.push({ label: 'upk trend --since 7d --bucket 1h, whole command, p50', value: median(upkTrend), unit: 'ms', n: walls });
  figures.push({ label: 'upk --version: Node start-up and loading upk alone, p50', value: median(upkVersion), unit: 'ms', n: walls });
  return figures;
}
