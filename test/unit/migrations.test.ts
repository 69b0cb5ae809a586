// The migrations on a real SQLite file: a database left by an older build comes out at the newest
// schema with every row (004: client_actions becomes client_requests, action_log request_log; 006:
// client_requests.requester, in request_log too; 007: config_changes.config and keys, words-only rows kept;
// 010: events_health over the health events already kept).
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditStore, INTERRUPTED_OUTCOME } from '../../controller/audit-store.js';
import { migrate, readMigrations } from '../../controller/migrations.js';

const UUID = '00000000-0000-4000-8000-000000000001';
const T0 = Date.UTC(2026, 5, 1);

/** The rows as an older migration made them: without the uid that 012 adds (random, checked in fleet-source.test) and the counter 014 adds. */
const withoutUid = (rows: unknown[]): Record<string, unknown>[] =>
  (rows as Record<string, unknown>[]).map(({ uid, changed, ...rest }) => {
    assert.match(String(uid), /^[0-9a-f]{32}$/);
    if (changed !== undefined) assert.equal(typeof changed, 'number');
    return rest;
  });

describe('migrations', { timeout: 10_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'upk-migrate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('004: the client_actions rows of a version 3 database are in client_requests and request_log', () => {
    const file = join(dir, 'v3.db');
    const old = new Database(file);
    assert.deepEqual(
      migrate(
        old,
        readMigrations().filter((m) => m.version <= 3),
      ),
      [1, 2, 3],
    );
    old
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, 'web', '{}', 'running', ?, ?)`)
      .run(UUID, T0, T0);
    const insert = old.prepare(
      `INSERT INTO client_actions (time, client, client_pid, client_user, action, service_uuid, params, finished, ok, outcome)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    insert.run(T0, 'upk', 11, 'me', 'start', UUID, '{"service":"web"}', T0 + 1500, 1, 'running');
    insert.run(
      T0 + 2000,
      'deploy',
      12,
      'me',
      'action',
      UUID,
      '{"service":"web","action":"rotate"}',
      T0 + 2100,
      0,
      'rotate exited with code 1',
    );
    insert.run(T0 + 3000, 'upk', 13, null, 'shutdown', null, '{}', null, null, null); // its controller died
    const before = old.prepare('SELECT * FROM client_actions ORDER BY id').all() as Record<string, unknown>[];
    old.close();

    const store = new AuditStore(file);
    const db = new Database(file, { readonly: true }); // the store's own connection is its own
    try {
      const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map(
        (r) => r.version,
      );
      assert.ok(versions.includes(4), `versions ${versions.join(', ')}`);
      const names = (type: string): string[] =>
        (db.prepare('SELECT name FROM sqlite_master WHERE type = ? ORDER BY name').all(type) as { name: string }[]).map((r) => r.name);
      assert.ok(names('table').includes('client_requests') && !names('table').includes('client_actions'));
      assert.ok(names('view').includes('request_log') && !names('view').includes('action_log'));
      assert.ok(names('index').includes('client_requests_by_time') && !names('index').includes('client_actions_by_time'));

      // Every row, every value, under the new column name.
      const after = withoutUid(db.prepare('SELECT * FROM client_requests ORDER BY id').all());
      assert.deepEqual(
        after,
        before.map(({ action, ...rest }) => ({ ...rest, request: action, requester: null })),
      );
      const log = db.prepare('SELECT id, client, request, service, result, outcome, seconds FROM request_log ORDER BY id').all();
      assert.deepEqual(log, [
        { id: 1, client: 'upk', request: 'start', service: 'web', result: 'ok', outcome: 'running', seconds: 1.5 },
        {
          id: 2,
          client: 'deploy',
          request: 'action',
          service: 'web',
          result: 'failed',
          outcome: 'rotate exited with code 1',
          seconds: 0.1,
        },
        { id: 3, client: 'upk', request: 'shutdown', service: null, result: 'running', outcome: null, seconds: null },
      ]);

      // The store goes on with the renamed table: the dead controller's request is completed, a new one follows.
      assert.equal(store.interruptRequests(), 1);
      const id = store.beginRequest({ client: 'upk', clientPid: 14, clientUser: 'me', request: 'stop', serviceUuid: UUID, params: {} });
      assert.equal(id, 4);
      store.finishRequest(id, true, 'stopped');
      assert.deepEqual(db.prepare('SELECT id, request, result, outcome FROM request_log WHERE id >= 3 ORDER BY id').all(), [
        { id: 3, request: 'shutdown', result: 'failed', outcome: INTERRUPTED_OUTCOME },
        { id: 4, request: 'stop', result: 'ok', outcome: 'stopped' },
      ]);
    } finally {
      db.close();
      store.close();
    }
  });

  it('006: a version 5 database gets client_requests.requester (NULL for its rows) and request_log shows it', () => {
    const file = join(dir, 'v5.db');
    const old = new Database(file);
    assert.deepEqual(
      migrate(
        old,
        readMigrations().filter((m) => m.version <= 5),
      ),
      [1, 2, 3, 4, 5],
    );
    old
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, 'web', '{}', 'running', ?, ?)`)
      .run(UUID, T0, T0);
    old
      .prepare(
        `INSERT INTO client_requests (time, client, client_pid, client_user, request, service_uuid, params, finished, ok, outcome)
         VALUES (?, 'upk serve (http)', 20, 'me', 'stop', ?, '{"service":"web"}', ?, 1, 'stopped')`,
      )
      .run(T0, UUID, T0 + 250);
    const before = old.prepare('SELECT * FROM client_requests').all() as Record<string, unknown>[];
    old.close();

    const store = new AuditStore(file);
    const db = new Database(file, { readonly: true });
    try {
      const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map(
        (r) => r.version,
      );
      assert.ok(versions.includes(6), `versions ${versions.join(', ')}`);
      assert.deepEqual(
        withoutUid(db.prepare('SELECT * FROM client_requests').all()),
        before.map((r) => ({ ...r, requester: null })),
      );
      const id = store.beginRequest({
        client: 'upk serve (http)',
        clientPid: 21,
        clientUser: 'me',
        requester: 'http 127.0.0.1:54321 (curl/8.5.0)',
        request: 'start',
        serviceUuid: UUID,
        params: { service: 'web' },
      });
      store.finishRequest(id, true, 'running');
      assert.deepEqual(db.prepare('SELECT id, client, requester, request, service, params, result FROM request_log ORDER BY id').all(), [
        { id: 1, client: 'upk serve (http)', requester: null, request: 'stop', service: 'web', params: '{"service":"web"}', result: 'ok' },
        {
          id: 2,
          client: 'upk serve (http)',
          requester: 'http 127.0.0.1:54321 (curl/8.5.0)',
          request: 'start',
          service: 'web',
          params: '{"service":"web"}',
          result: 'ok',
        },
      ]);
    } finally {
      db.close();
      store.close();
    }
  });
  it('007: a version 6 database keeps its configuration changes in words; new ones carry the configuration and keys', () => {
    const file = join(dir, 'v6.db');
    const old = new Database(file);
    assert.deepEqual(
      migrate(
        old,
        readMigrations().filter((m) => m.version <= 6),
      ),
      [1, 2, 3, 4, 5, 6],
    );
    const v1 = { id: 'web', execStart: 'sleep 1', environment: { A: '1' }, file: '/a.conf', line: 2 };
    old
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, 'web', ?, 'running', ?, ?)`)
      .run(UUID, JSON.stringify(v1), T0, T0);
    const insert = old.prepare(
      `INSERT INTO config_changes (time, service_uuid, service, change, trigger, detail) VALUES (?, ?, 'web', ?, ?, ?)`,
    );
    insert.run(T0, UUID, 'added', 'start', 'InitialState running');
    insert.run(T0 + 1000, UUID, 'changed', 'reload', 'ExecStart; ExecStart takes effect at its next start');
    const before = old.prepare('SELECT * FROM config_changes ORDER BY id').all() as Record<string, unknown>[];
    old.close();

    const store = new AuditStore(file);
    const db = new Database(file); // to stand for the controller's upsertService between changes
    try {
      const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map(
        (r) => r.version,
      );
      assert.ok(versions.includes(7), `versions ${versions.join(', ')}`);
      assert.deepEqual(
        withoutUid(db.prepare('SELECT * FROM config_changes ORDER BY id').all()),
        before.map((r) => ({ ...r, config: null, keys: null })),
        'every row kept, words only',
      );
      assert.deepEqual(db.prepare('SELECT id, change, keys, detail FROM change_log ORDER BY id').all(), [
        { id: 1, change: 'added', keys: null, detail: 'InitialState running' },
        { id: 2, change: 'changed', keys: null, detail: 'ExecStart; ExecStart takes effect at its next start' },
      ]);

      // The first change after the upgrade: its configuration and keys; the one before it is in words only.
      const v2 = { ...v1, environment: { A: '2' }, file: '/b.conf' };
      db.prepare('UPDATE services SET config = ? WHERE uuid = ?').run(JSON.stringify(v2), UUID);
      store.recordChanges(
        [{ service: 'web', uuid: UUID, change: 'changed', message: 'Environment', keys: ['Environment'] }],
        'reload',
        T0 + 2000,
      );
      const v3 = { ...v2, execStart: 'sleep 2', startScript: '#!/bin/sh\nexec sleep 2' };
      db.prepare('UPDATE services SET config = ? WHERE uuid = ?').run(JSON.stringify(v3), UUID);
      store.recordChanges(
        [{ service: 'web', uuid: UUID, change: 'changed', message: 'ExecStart', keys: ['ExecStart'] }],
        'SIGHUP',
        T0 + 3000,
      );
      store.recordChanges([{ service: 'web', uuid: UUID, change: 'removed', message: 'stopped and removed' }], 'remove', T0 + 4000);
      const rows = db.prepare('SELECT id, config, keys FROM config_changes WHERE id > 2 ORDER BY id').all();
      assert.deepEqual(rows, [
        { id: 3, config: JSON.stringify(v2), keys: '["Environment"]' },
        { id: 4, config: JSON.stringify(v3), keys: '["ExecStart"]' },
        { id: 5, config: null, keys: '[]' },
      ]);

      const history = store.configHistory.query([UUID], null, 100);
      assert.deepEqual(
        history.map((h) => ({ change: h.change, trigger: h.trigger, keys: h.keys, values: h.values, beforeRecorded: h.beforeRecorded })),
        [
          { change: 'added', trigger: 'start', keys: null, values: [], beforeRecorded: false },
          { change: 'changed', trigger: 'reload', keys: null, values: [], beforeRecorded: false },
          {
            change: 'changed',
            trigger: 'reload',
            keys: ['Environment'],
            values: [{ key: 'Environment', before: null, after: { A: '2' } }],
            beforeRecorded: false,
          },
          {
            change: 'changed',
            trigger: 'SIGHUP',
            keys: ['ExecStart'],
            // StartScript is generated from ExecStart: only the key written is named; where it is written does not count.
            values: [{ key: 'ExecStart', before: 'sleep 1', after: 'sleep 2' }],
            beforeRecorded: true,
          },
          { change: 'removed', trigger: 'remove', keys: [], values: [], beforeRecorded: false },
        ],
      );
      assert.equal(history[0]!.time, new Date(T0).toISOString());
      // since and limit: the newest that match, oldest first.
      assert.deepEqual(
        store.configHistory.query([UUID], T0 + 1000, 2).map((h) => h.id),
        [4, 5],
      );
    } finally {
      db.close();
      store.close();
    }
  });

  it('010: a version 9 database gets events_health over the health events it has; correlate counts them from it', () => {
    const file = join(dir, 'v9.db');
    const old = new Database(file);
    assert.deepEqual(
      migrate(
        old,
        readMigrations().filter((m) => m.version <= 9),
      ),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    old
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, 'web', '{}', 'running', ?, ?)`)
      .run(UUID, T0, T0);
    old.prepare(`INSERT INTO buddies (instance, service_uuid, pid, started, seen) VALUES ('b1', ?, 1, ?, ?)`).run(UUID, T0, T0);
    const insert = old.prepare('INSERT INTO events (service_uuid, buddy_id, seq, time, type, detail) VALUES (?, 1, ?, ?, ?, ?)');
    insert.run(UUID, 1, T0, 'buddy_started', null);
    // Three failures (a start_timeout, an unhealthy that restarted, a limit_exceeded that stopped), and an unhealthy that did nothing.
    insert.run(UUID, 2, T0 + 1000, 'start_timeout', null);
    insert.run(UUID, 3, T0 + 2000, 'unhealthy', '{"action":"restart"}');
    insert.run(UUID, 4, T0 + 3000, 'limit_exceeded', '{"action":"stop"}');
    insert.run(UUID, 5, T0 + 4000, 'unhealthy', '{"action":"none"}');
    old.close();

    const store = new AuditStore(file);
    const db = new Database(file, { readonly: true });
    try {
      const indexed = db.prepare(
        `SELECT count(*) FROM events INDEXED BY events_health WHERE service_uuid = ? AND type IN ('unhealthy', 'limit_exceeded', 'start_timeout')`,
      );
      assert.equal(indexed.pluck().get(UUID), 4);
      const web = { id: 'web', uuids: [UUID] };
      // A window of ±500 ms: the failures, 1 s apart, are three episodes.
      const r = store.correlations.around(web, [web], { windowMs: 500, since: T0, until: T0 + 10_000, failures: 100, limit: 20 });
      assert.equal(r.failures, 3);
    } finally {
      db.close();
      store.close();
    }
  });
});
