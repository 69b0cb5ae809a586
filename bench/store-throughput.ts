// Events written to SQLite per second: the AuditStore alone, in poll-round batches, and end to end with a crash loop.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AuditStore, type EventBatch } from '../controller/audit-store.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { formatIssue, loadControllerConfig, loadServices } from '../schema/config/index.js';
import type { BuddyEvent } from '../schema/records.js';
import { idleService, manyServices, percentile, sleep, waitForState, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

const BUDDIES = 50;
const EVENTS_PER_BUDDY = 10;
const CRASH_LOOP_MS = 5000;
const POLLING_INTERVAL_S = 0.5;

export const storeThroughput: Benchmark = {
  name: 'store-throughput',
  title: 'Events written to SQLite per second',
  async run(ctx) {
    const total = ctx.quick ? 50_000 : 200_000;
    const store = await withSandbox('db', (sandbox) => timeStore(sandbox, total));
    ctx.note(`${store.rounds} rounds of ${BUDDIES} buddies × ${EVENTS_PER_BUDDY} events, one transaction each (synchronous = FULL)`);
    const loop = await withSandbox('loop', crashLoop);
    ctx.note(
      `crash loop: ${loop.restarts} restarts counted by the buddy in ${(loop.ms / 1000).toFixed(1)} s; ` +
        `in the database: ${loop.spawned} spawned, ${loop.exited} exited, ${loop.dropped} events_dropped events`,
    );
    const rounds = `${store.rounds} rounds`;
    const figures: Figure[] = [
      {
        label: 'AuditStore.insertEvents',
        value: store.eventsPerSecond,
        unit: 'events/s',
        n: `${total.toLocaleString('en-US')} events`,
        target: { op: '>=', value: 20_000 },
      },
      { label: `round of ${BUDDIES * EVENTS_PER_BUDDY} events, p50`, value: store.roundP50, unit: 'ms', n: rounds },
      { label: `round of ${BUDDIES * EVENTS_PER_BUDDY} events, p99`, value: store.roundP99, unit: 'ms', n: rounds },
      {
        label: 'crash loop: spawned events stored',
        value: loop.spawned / (loop.ms / 1000),
        unit: '/s',
        n: `${(loop.ms / 1000).toFixed(0)} s`,
      },
      {
        label: 'crash loop: restarts by the buddy',
        value: loop.restarts / (loop.ms / 1000),
        unit: '/s',
        n: `${(loop.ms / 1000).toFixed(0)} s`,
      },
    ];
    return figures;
  },
};

/** Insert `total` events through AuditStore, a poll round per transaction. */
async function timeStore(
  sandbox: Sandbox,
  total: number,
): Promise<{ eventsPerSecond: number; rounds: number; roundP50: number; roundP99: number }> {
  sandbox.writeConfig();
  sandbox.writeServices(manyServices(BUDDIES));
  const { config, issues } = loadControllerConfig({ config: sandbox.configFile, env: process.env });
  if (!config) throw new Error(issues.map(formatIssue).join('\n'));
  const loaded = loadServices(config, process.env);
  if (loaded.services.length !== BUDDIES) throw new Error(loaded.issues.map(formatIssue).join('\n'));

  const store = new AuditStore(join(sandbox.dir, STATE_DIR.database));
  try {
    const buddies = loaded.services.map((svc, i) => {
      const serviceUuid = store.upsertService(svc).uuid;
      const instance = randomUUID();
      return { serviceUuid, service: svc.id, instance, buddyId: store.buddyId(instance, serviceUuid, 100_000 + i, Date.now()), seq: 0 };
    });
    const rounds = Math.ceil(total / (BUDDIES * EVENTS_PER_BUDDY));
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const batches: EventBatch[] = buddies.map((b) => ({
        serviceUuid: b.serviceUuid,
        service: b.service,
        instance: b.instance,
        buddyId: b.buddyId,
        events: restartEvents(b, EVENTS_PER_BUDDY),
      }));
      const t0 = performance.now();
      store.insertEvents(batches);
      times.push(performance.now() - t0);
      if (r % 50 === 49) await sleep(0); // let Ctrl-C through
    }
    const seconds = times.reduce((a, b) => a + b, 0) / 1000;
    return {
      eventsPerSecond: (rounds * BUDDIES * EVENTS_PER_BUDDY) / seconds,
      rounds,
      roundP50: percentile(times, 50),
      roundP99: percentile(times, 99),
    };
  } finally {
    store.close();
  }
}

/** `count` events as a crash-looping service produces them: spawned, exited, spawned, … */
function restartEvents(buddy: { seq: number }, count: number): BuddyEvent[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i): BuddyEvent => {
    const seq = ++buddy.seq;
    return i % 2 === 0
      ? { seq, time: now, type: 'spawned', pid: 200_000 + seq }
      : { seq, time: now, type: 'exited', pid: 200_000 + seq - 1, code: 1, signal: null, detail: { uptimeMs: 3 } };
  });
}

/** A service that exits at once, restarted without limit for CRASH_LOOP_MS: what reaches the database. */
async function crashLoop(sandbox: Sandbox): Promise<{ ms: number; restarts: number; spawned: number; exited: number; dropped: number }> {
  sandbox.writeConfig({ pollingInterval: POLLING_INTERVAL_S });
  sandbox.writeServices({ crashloop: idleService({ ExecStart: 'false' }) });
  await sandbox.startController();
  const client = await sandbox.connect();
  let first: number, last: number, from: number, to: number;
  try {
    const restartsNow = async (): Promise<number> => (await client.status('crashloop'))[0]?.restarts ?? 0;
    while ((await restartsNow()) === 0) await sleep(20);
    from = Date.now();
    first = await restartsNow();
    await sleep(CRASH_LOOP_MS);
    to = Date.now();
    last = await restartsNow();
    await client.stop('crashloop');
    await waitForState(client, { count: 1, state: 'stopped', timeoutMs: 30_000 });
    await sleep(3 * POLLING_INTERVAL_S * 1000); // the last events reach the database
  } finally {
    client.close();
  }
  const db = new Database(join(sandbox.stateDir, STATE_DIR.database), { readonly: true, fileMustExist: true });
  try {
    const count = (type: string, all = false): number =>
      (
        db
          .prepare(`SELECT count(*) AS n FROM events WHERE type = ? ${all ? '' : 'AND time >= ? AND time < ?'}`)
          .get(...(all ? [type] : [type, from, to])) as { n: number }
      ).n;
    return {
      ms: to - from,
      restarts: last - first,
      spawned: count('spawned'),
      exited: count('exited'),
      dropped: count('events_dropped', true),
    };
  } finally {
    db.close();
  }
}
