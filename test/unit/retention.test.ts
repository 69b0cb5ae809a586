// AuditMaxAge and AuditMaxRecords on a real SQLite file: what is deleted, and what stays; with a
// FleetDatabase, what the fleet export has not sent yet stays, up to FLEET_HOLD_FACTOR × AuditMaxRecords.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditStore } from '../../controller/audit-store.js';
import { FLEET_HOLD_FACTOR } from '../../controller/retention.js';
import Database from 'better-sqlite3';
import type { BuddyEvent } from '../../schema/records.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'upk-retain-'));
  const store = new AuditStore(join(dir, 'upkeeper.db'));
  /** The test's own connection to the file: rows the store has no method for. */
  const sql = new Database(join(dir, 'upkeeper.db'));
  const uuid = '00000000-0000-4000-8000-000000000001';
  sql
    .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, 'web', '{}', 'running', ?, ?)`)
    .run(uuid, NOW - 200 * DAY, NOW);
  const buddy = store.buddyId('b', uuid, 1, NOW - 200 * DAY);
  let seq = 0;
  const add = (events: Omit<BuddyEvent, 'seq'>[]) =>
    store.insertEvents([
      { serviceUuid: uuid, service: 'web', instance: 'b', buddyId: buddy, events: events.map((e) => ({ ...e, seq: ++seq })) },
    ]);
  /** A run: spawned, a usage record and an exit, `daysAgo` days before NOW. */
  const run = (daysAgo: number, pid: number) => {
    const t = NOW - daysAgo * DAY;
    add([
      { time: t, type: 'spawned', pid, detail: { restart: true } },
      { time: t + 60_000, type: 'usage', detail: { from: t, to: t + 60_000, cpuMs: 10, rssKb: 1, rssMaxKb: 1, processes: 1, samples: 1 } },
      { time: t + 120_000, type: 'exited', pid, code: 1, detail: { requested: false } },
    ]);
  };
  const count = (table: string) => (sql.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  const close = () => {
    sql.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { store, sql, uuid, add, run, count, close };
}

describe('retention', { timeout: 10_000 }, () => {
  const fixtures: { close: () => void }[] = [];
  after(() => fixtures.forEach((f) => f.close()));

  it('AuditMaxAge: older events, runs, samples, requests and changes go; minute samples go after 7 days', async () => {
    const f = fixture();
    fixtures.push(f);
    for (const [i, days] of [120, 100, 30, 3].entries()) f.run(days, 100 + i);
    f.store.beginRequest({ client: 'upk', clientPid: 1, clientUser: 'me', request: 'start', serviceUuid: f.uuid, params: {} });
    f.sql.prepare('UPDATE client_requests SET time = ?').run(NOW - 95 * DAY);
    f.store.recordChanges([{ service: 'web', uuid: f.uuid, change: 'changed', message: 'x' }], 'reload', NOW - 1 * DAY);
    assert.deepEqual(
      [f.count('events'), f.count('runs'), f.count('run_hours'), f.count('samples'), f.count('samples_hourly')],
      [8, 4, 4, 4, 4],
    );

    const r = await f.store.retention({ maxAgeSeconds: 90 * 86400, maxRecords: null, fleet: null }, () => undefined).prune(NOW);
    // The only client request is older than the limit, but the newest row of a table stays (its id is not given again).
    assert.deepEqual(r.deleted, { events: 4, runs: 2, run_hours: 2, samples: 3, samples_hourly: 2 });
    assert.deepEqual(
      [f.count('events'), f.count('runs'), f.count('samples'), f.count('samples_hourly'), f.count('config_changes')],
      [4, 2, 1, 2, 1],
    );
    const oldest = f.sql.prepare('SELECT min(time) AS t FROM events').get() as { t: number };
    assert.equal(oldest.t, NOW - 30 * DAY);
  });

  it('AuditMaxRecords: only the newest rows stay, and runs older than the oldest event kept go with them', async () => {
    const f = fixture();
    fixtures.push(f);
    for (let i = 0; i < 10; i++) f.run(10 - i, 200 + i); // 20 events, 10 runs, a day apart
    const r = await f.store.retention({ maxAgeSeconds: null, maxRecords: 7, fleet: null }, () => undefined).prune(NOW);
    assert.equal(r.deleted.events, 13);
    assert.equal(f.count('events'), 7);
    const kept = f.sql.prepare('SELECT min(time) AS t FROM events').get() as { t: number };
    const runs = f.sql.prepare('SELECT min(started) AS t, count(*) AS n FROM runs').get() as { t: number; n: number };
    assert.ok(runs.t >= kept.t - 120_000, 'no run ended before the oldest event kept');
    assert.equal(runs.n, 4);
  });

  it('no limits: nothing is deleted but the minute samples older than 7 days', async () => {
    const f = fixture();
    fixtures.push(f);
    f.run(400, 1);
    f.run(1, 2);
    const r = await f.store.retention({ maxAgeSeconds: null, maxRecords: null, fleet: null }, () => undefined).prune(NOW);
    assert.deepEqual(r.deleted, { samples: 1 });
    assert.equal(f.count('events'), 4);
  });

  it('FleetDatabase: rows not exported yet stay, past AuditMaxRecords and AuditMaxAge, until the table holds FLEET_HOLD_FACTOR times it', async () => {
    const f = fixture();
    fixtures.push(f);
    for (let i = 0; i < 10; i++) f.run(100 - i, 300 + i); // 20 events, 10 runs, 10 usage records, older than 90 days
    const source = f.store.fleetSource();
    const limits = { maxAgeSeconds: 90 * 86400, maxRecords: 7, fleet: 'postgresql://db/fleet' };
    // Nothing exported: nothing goes (but the minute records' hourly sums, which are not exported).
    let r = await f.store.retention(limits, () => undefined).prune(NOW);
    assert.equal(r.deleted.events, undefined);
    assert.deepEqual([f.count('events'), f.count('runs'), f.count('samples')], [20, 10, 10]);
    // The export's positions: 6 events, the runs changed up to 4, the records stored up to 3.
    const firstIds = (f.sql.prepare('SELECT id FROM events ORDER BY id LIMIT 6').all() as { id: number }[]).map((e) => e.id);
    source.save('events', 'db', firstIds.at(-1)!, 'postgresql://db/fleet');
    source.save('runs', 'db', 4, 'postgresql://db/fleet');
    source.save('samples', 'db', 3, 'postgresql://db/fleet');
    r = await f.store.retention(limits, () => undefined).prune(NOW);
    assert.equal(r.deleted.events, 6, 'only the exported events go');
    assert.equal((f.sql.prepare('SELECT min(id) AS id FROM events').get() as { id: number }).id, firstIds.at(-1)! + 1);
    assert.ok(
      (f.sql.prepare('SELECT count(*) AS n FROM runs WHERE changed <= 4').get() as { n: number }).n === 0 && f.count('runs') > 0,
      'only runs exported (as they are now) go',
    );
    assert.equal((f.sql.prepare('SELECT min(stored) AS s FROM samples').get() as { s: number }).s, 4, 'only exported records go');
    // Behind by more than FLEET_HOLD_FACTOR times AuditMaxRecords: the oldest go, exported or not, and the log says so.
    const told: string[] = [];
    const small = { maxAgeSeconds: null, maxRecords: 1, fleet: 'postgresql://db/fleet' };
    assert.ok(f.count('events') > FLEET_HOLD_FACTOR * small.maxRecords);
    r = await f.store.retention(small, (m) => told.push(m)).prune(NOW);
    assert.equal(f.count('events'), 1);
    assert.ok(
      told.some((m) => /deleted unexported/.test(m) && m.includes('events')),
      told.join('\n'),
    );
  });
});
