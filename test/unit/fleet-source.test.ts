// The local side of the fleet export of client requests: each is read when it begins and again when
// it finishes (migration 014), so a request that runs for hours holds back no other; each
// stored row has its uid (the key in PostgreSQL), the rows of before migration 012 too. Runs and usage
// records (migration 013): a run's uid is its start event's key, the same when the runs are rebuilt,
// and its counter rises at each change; the counters never go back below the saved position.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditStore } from '../../controller/audit-store.js';
import { FleetSource } from '../../controller/fleet-source.js';
import { migrate, readMigrations } from '../../controller/migrations.js';

const T0 = Date.UTC(2026, 5, 1);

describe('fleet source', { timeout: 10_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'upk-fleetsrc-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('client requests: sent when they begin, and again when they finish, in the order they changed', () => {
    const file = join(dir, 'requests.db');
    const store = new AuditStore(file);
    const ask = (request: string, t: number): number =>
      store.beginRequest({ client: 'upk', clientPid: 1, clientUser: 'me', request, serviceUuid: null, params: {} }, t);
    const a = ask('start', T0);
    const b = ask('action', T0 + 1); // a custom action that runs for hours
    const c = ask('restart', T0 + 2);
    store.finishRequest(a, true, 'ok');
    store.finishRequest(c, true, 'ok'); // finished before b, which is older
    store.close();
    const db = new Database(file);
    const source = new FleetSource(db);
    const rows = source.requestsAfter(0, 10);
    assert.deepEqual(
      rows.map((r) => [r.request, r.id, r.finished === null]),
      [
        ['action', 2, true],
        ['start', 4, false],
        ['restart', 5, false],
      ],
      'b as it began; a and c as they finished: nothing waits for b',
    );
    assert.ok(
      rows.every((r) => /^[0-9a-f]{32}$/.test(r.uid)),
      'each row has its uid',
    );
    assert.equal(new Set(rows.map((r) => r.uid)).size, 3);
    db.prepare('UPDATE client_requests SET finished = ?, ok = 1 WHERE id = ?').run(T0 + 5, b);
    assert.deepEqual(
      source.requestsAfter(5, 10).map((r) => [r.request, r.id, r.finished]),
      [['action', 6, T0 + 5]],
      'b again once finished',
    );
    db.close();
  });

  it('012: the rows of before get a uid each', () => {
    const db = new Database(join(dir, 'v11.db'));
    migrate(
      db,
      readMigrations().filter((m) => m.version <= 11),
    );
    db.prepare(`INSERT INTO config_changes (time, service, change, trigger) VALUES (?, 'web', 'added', 'start')`).run(T0);
    db.prepare(`INSERT INTO config_changes (time, service, change, trigger) VALUES (?, 'db', 'added', 'start')`).run(T0);
    db.prepare(`INSERT INTO client_requests (time, client, request, finished, ok) VALUES (?, 'upk', 'start', ?, 1)`).run(T0, T0);
    assert.deepEqual(
      migrate(
        db,
        readMigrations().filter((m) => m.version <= 12),
      ),
      [12],
    );
    migrate(db);
    const source = new FleetSource(db);
    const changes = source.changesAfter(0, 10);
    assert.equal(new Set(changes.map((r) => r.uid)).size, 2);
    assert.ok([...changes, ...source.requestsAfter(0, 10)].every((r) => /^[0-9a-f]{32}$/.test(r.uid)));
    db.close();
  });

  it('013: runs keyed by their start event and sent again at each change; usage records in the order stored', () => {
    const db = new Database(join(dir, 'runs.db'));
    migrate(db);
    const uuid = '0123456789abcdef0123456789abcdef';
    const instance = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
    db.prepare(`INSERT INTO services (uuid, name, config, created, modified) VALUES (?, 'web', '{}', ?, ?)`).run(uuid, T0, T0);
    const buddy = db
      .prepare(`INSERT INTO buddies (instance, service_uuid, pid, started, seen) VALUES (?, ?, 1, ?, ?)`)
      .run(instance, uuid, T0, T0).lastInsertRowid;
    const event = (seq: number, type: string): number =>
      Number(
        db
          .prepare(`INSERT INTO events (service_uuid, buddy_id, seq, time, type) VALUES (?, ?, ?, ?, ?)`)
          .run(uuid, buddy, seq, T0 + seq, type).lastInsertRowid,
      );
    const run = (startEvent: number, started: number): number =>
      Number(
        db
          .prepare(`INSERT INTO runs (service_uuid, buddy_id, pid, started, cause, start_event) VALUES (?, ?, 7, ?, 'start', ?)`)
          .run(uuid, buddy, started, startEvent).lastInsertRowid,
      );
    const source = new FleetSource(db);
    const spawned = event(5, 'spawned');
    const first = run(spawned, T0 + 5);
    const second = run(event(9, 'spawned'), T0 + 9);
    let rows = source.runsAfter(0, 10);
    assert.deepEqual(
      rows.map((r) => [r.uid, r.id]),
      [
        [`${instance}:5`, 1],
        [`${instance}:9`, 2],
      ],
    );
    db.prepare(`UPDATE runs SET ended = ?, outcome = 'failed', code = 3 WHERE id = ?`).run(T0 + 8, first);
    rows = source.runsAfter(2, 10);
    assert.deepEqual(
      rows.map((r) => [r.uid, r.id, r.outcome, r.ended]),
      [[`${instance}:5`, 3, 'failed', T0 + 8]],
      'the changed run again, with a higher counter',
    );
    db.prepare(`UPDATE runs SET repaired = ? WHERE id = ?`).run(T0 + 9, first);
    assert.deepEqual(
      source.runsAfter(3, 10).map((r) => [r.id, r.repaired]),
      [[4, T0 + 9]],
    );
    assert.equal(source.runsAfter(4, 10).length, 0, 'nothing else changed');
    void second;
    // A rebuild: every run deleted and stored again. Same uids; counters above the saved position.
    source.save('runs', 'db-1', 4);
    db.prepare('DELETE FROM runs').run();
    run(spawned, T0 + 5);
    const again = source.runsAfter(source.position('runs', 'db-1'), 10);
    assert.deepEqual(
      again.map((r) => [r.uid, r.id]),
      [[`${instance}:5`, 5]],
    );

    const sample = (seq: number, time: number): void => {
      db.prepare(
        `INSERT INTO samples (buddy_id, seq, time, wall_ms, cpu_ms, rss_kb, rss_max_kb, processes) VALUES (?, ?, ?, 60000, 5, 100, 120, 1)`,
      ).run(buddy, seq, time);
    };
    sample(20, T0 + 60_000);
    sample(3, T0); // buffered, older, stored later
    assert.deepEqual(
      source.samplesAfter(0, 10).map((r) => [r.seq, r.id, r.instance, r.serviceUuid, r.service]),
      [
        [20, 1, instance, uuid, 'web'],
        [3, 2, instance, uuid, 'web'],
      ],
    );
    source.save('samples', 'db-1', 2);
    db.prepare('DELETE FROM samples').run();
    sample(21, T0 + 120_000);
    assert.deepEqual(
      source.samplesAfter(source.position('samples', 'db-1'), 10).map((r) => [r.seq, r.id]),
      [[21, 3]],
      'after every record was deleted, the counter goes on above the position',
    );
    db.close();
  });
});
