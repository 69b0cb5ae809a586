// The local side of the fleet export of client requests: only finished requests before the oldest
// unfinished one are read, so the position never passes a request that may still be finished; each
// stored row has its uid (the key in PostgreSQL), the rows of before migration 012 too.
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

  it('client requests: only the finished ones before the oldest unfinished one', () => {
    const file = join(dir, 'requests.db');
    const store = new AuditStore(file);
    const ask = (request: string, t: number): number =>
      store.beginRequest({ client: 'upk', clientPid: 1, clientUser: 'me', request, serviceUuid: null, params: {} }, t);
    const a = ask('start', T0);
    const b = ask('stop', T0 + 1);
    const c = ask('restart', T0 + 2);
    store.finishRequest(a, true, 'ok');
    store.finishRequest(c, true, 'ok'); // finished before b, which is older
    store.close();
    const db = new Database(file);
    const source = new FleetSource(db);
    assert.deepEqual(
      source.requestsAfter(0, 10).map((r) => r.id),
      [a],
      'c waits for b',
    );
    db.prepare('UPDATE client_requests SET finished = ?, ok = 1 WHERE id = ?').run(T0 + 5, b);
    const rows = source.requestsAfter(a, 10);
    assert.deepEqual(
      rows.map((r) => r.id),
      [b, c],
    );
    assert.ok(
      rows.every((r) => /^[0-9a-f]{32}$/.test(r.uid)),
      'each row has its uid',
    );
    assert.notEqual(rows[0]!.uid, rows[1]!.uid);
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
    assert.deepEqual(migrate(db), [12]);
    const source = new FleetSource(db);
    const changes = source.changesAfter(0, 10);
    assert.equal(new Set(changes.map((r) => r.uid)).size, 2);
    assert.ok([...changes, ...source.requestsAfter(0, 10)].every((r) => /^[0-9a-f]{32}$/.test(r.uid)));
    db.close();
  });
});
