// Hostile tests of the fleet export (issue 18): each showed a problem a hostile tester found, now fixed:
// 1. a local table emptied by retention, then refilled past the old position while PostgreSQL is away:
//    the new rows below the old position were never exported (status said 0 behind): fixed by
//    retention keeping a table's newest row, so that ids are never given again;
// 2. FleetDatabase pointed at another database: retention deletes rows the new database never got;
// 3. the role with the privileges docs/fleet.md#security lists cannot export at all;
// 4. a FleetDatabase that accepts and never answers holds `upk controller stop` past its wait (exit 8);
// 5. a FleetHost with a NUL character passes check-config, and then no batch can ever go through;
// 6. a custom action that runs for hours holds the export of every client request finished after it;
// 7. one table PostgreSQL refuses (renamed by hand) held every table back, the events too.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startController } from '../../libclient/index.js';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';
import { silentServer } from '../helpers/sshd.js';

const BIN = postgresBin();
const CRASHY = {
  crashy: { ExecStart: "sh -c 'sleep 0.05; exit 3'", InitialState: 'running', MinUptime: 0, UserRateLimit: 0.02, UserMaxRestarts: -1 },
};

/** Every (instance, seq) of a sandbox's local events. */
function localKeys(box: Sandbox): string[] {
  const db = box.db();
  try {
    return (
      db.prepare("SELECT b.instance || ':' || e.seq AS k FROM events e JOIN buddies b ON b.id = e.buddy_id").all() as { k: string }[]
    ).map((r) => r.k);
  } finally {
    db.close();
  }
}

describe('fleet export, hostile', { timeout: 240_000, skip: BIN === null ? 'no PostgreSQL server binaries' : false }, () => {
  let pgdb: ThrowawayPostgres;
  const boxes: Sandbox[] = [];
  const box = (name: string, controller: Record<string, unknown>): Sandbox => {
    const b = new Sandbox(name, controller);
    boxes.push(b);
    return b;
  };
  const fleetKeys = async (host: string, database = pgdb.database): Promise<Set<string>> => {
    const c = await pgdb.connect(database);
    try {
      const rows = (await c.query<{ k: string }>("SELECT buddy_instance || ':' || seq AS k FROM events WHERE host = $1", [host])).rows;
      return new Set(rows.map((r) => r.k));
    } finally {
      await c.end();
    }
  };
  const restart = async (b: Sandbox): Promise<void> => {
    const stop = await b.upk(['controller', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    await b.startController();
  };

  before(async () => {
    pgdb = await ThrowawayPostgres.create(BIN!);
    process.env['PGPASSWORD'] = pgdb.password;
  });
  after(async () => {
    for (const b of boxes) await b.cleanup();
    pgdb?.remove();
    delete process.env['PGPASSWORD'];
  });

  it('events stored after retention emptied the table are all exported, also past the old position', async () => {
    const b = box('fhreuse', { FleetDatabase: pgdb.url, FleetHost: 'reuse', AuditMaxAge: 1 });
    b.writeServices(CRASHY);
    await b.startController();
    const c = await b.client();
    await b.waitFor('40 events in PostgreSQL', async () => (await fleetKeys('reuse')).size >= 40, 60_000);
    await c.stop('crashy');
    await b.waitFor('every local event exported', async () => (await fleetKeys('reuse')).size === localKeys(b).length, 30_000);
    const exported = localKeys(b).length;
    await sleep(1100); // older than AuditMaxAge (1 s): retention at the next start deletes them all (all exported)
    await restart(b);
    // Retention deletes them all but the newest, which stays so that SQLite never gives its id again.
    await b.waitFor('retention left the newest event only', () => localKeys(b).length === 1, 10_000);
    pgdb.stop('fast');
    const c2 = await b.client();
    await c2.start('crashy');
    await b.waitFor('more new events than the old position', () => localKeys(b).length > exported + 20, 90_000);
    await c2.stop('crashy');
    pgdb.start();
    const local = localKeys(b);
    await b.waitFor('the export caught up', async () => (await c2.controllerStatus()).fleet?.behind['events'] === 0, 60_000);
    await sleep(2000); // a few more batches
    const fleet = await fleetKeys('reuse');
    const missing = local.filter((k) => !fleet.has(k));
    assert.deepEqual(
      missing.length,
      0,
      `${missing.length} of ${local.length} local events never reached PostgreSQL (ids reused below the old position)`,
    );
  });

  it('pointed at another database, retention keeps the rows that database has not got yet', async () => {
    const b = box('fhnewdb', { FleetDatabase: pgdb.url, FleetHost: 'newdb', AuditMaxAge: 1 });
    b.writeServices(CRASHY);
    await b.startController();
    const c = await b.client();
    await b.waitFor('20 events in PostgreSQL', async () => (await fleetKeys('newdb')).size >= 20, 60_000);
    await c.stop('crashy');
    await b.waitFor('every local event exported', async () => (await fleetKeys('newdb')).size === localKeys(b).length, 30_000);
    const before = localKeys(b);
    // Another database (not there yet: the export to it fails and waits), then a restart (retention runs at start).
    const url = pgdb.url.replace(`/${pgdb.database}?`, '/fleet_new?');
    writeFileSync(
      b.configFile,
      JSON.stringify({
        StateDir: './state',
        SvcConfigPath: './services',
        BuddyPollingInterval: 0.1,
        FleetDatabase: url,
        FleetHost: 'newdb',
        AuditMaxAge: 1,
      }),
    );
    await sleep(1100);
    await restart(b);
    const admin = await pgdb.connect('postgres');
    await admin.query('CREATE DATABASE fleet_new');
    await admin.end();
    const c2 = await b.client();
    await b.waitFor('the export to the new database', async () => (await c2.controllerStatus()).fleet?.up === true, 90_000);
    await b.waitFor('caught up', async () => (await c2.controllerStatus()).fleet?.behind['events'] === 0, 30_000);
    const fleet = await fleetKeys('newdb', 'fleet_new');
    const missing = before.filter((k) => !fleet.has(k));
    assert.equal(missing.length, 0, `${missing.length} of ${before.length} events deleted locally before the new database had them`);
  });

  it('a role with the privileges docs/fleet.md lists exports (USAGE, SELECT, INSERT, UPDATE on runs, EXECUTE on fleet_ensure_partition)', async () => {
    // The schema exists (the tests above made it, as its owner). The GRANTs are exactly those of
    // docs/fleet.md#security, read from its code block (the role named upkeeper_export there).
    const docs = readFileSync(new URL('../../../docs/fleet.md', import.meta.url), 'utf8');
    const block = /```sql\n((?:\s*GRANT [^\n]*\n)+)\s*```/.exec(docs)?.[1];
    assert.ok(block !== undefined, 'docs/fleet.md has no code block of GRANTs');
    const grants = block
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    assert.ok(grants.some((g) => /UPDATE ON runs/.test(g)) && grants.some((g) => /fleet_ensure_partition/.test(g)), block);
    await pgdb.query(`CREATE ROLE fleet_lp LOGIN PASSWORD '${pgdb.password}'`);
    for (const grant of grants) await pgdb.query(grant.replaceAll('upkeeper_export', 'fleet_lp'));
    const b = box('fhlp', { FleetDatabase: pgdb.url.replace(`${pgdb.user}@`, 'fleet_lp@'), FleetHost: 'lp' });
    b.writeServices(CRASHY);
    await startController({ config: b.configFile, env: b.env });
    const c = await b.client();
    await b.waitFor(
      'events exported by the least-privileged role',
      async () => {
        const f = (await c.controllerStatus()).fleet;
        if (f?.error) throw new Error(f.error);
        return (f?.exported['events'] ?? 0) > 0 && (f?.exported['runs'] ?? 0) > 0 && (f?.exported['samples'] ?? 0) >= 0;
      },
      20_000,
    );
    // fleet_ensure_partition, SECURITY DEFINER, makes partitions of events, runs and samples only, and
    // only for the roles granted EXECUTE.
    await pgdb.query(`CREATE ROLE fleet_none LOGIN PASSWORD '${pgdb.password}'`);
    await pgdb.query('GRANT USAGE ON SCHEMA public TO fleet_none');
    const as = async (user: string, sql: string): Promise<void> => {
      const conn = new pg.Client({ host: pgdb.dir, user, database: pgdb.database, password: pgdb.password });
      await conn.connect();
      try {
        await conn.query(sql);
      } finally {
        await conn.end();
      }
    };
    await as('fleet_lp', "SELECT fleet_ensure_partition('samples', now() + interval '3 months')");
    await assert.rejects(as('fleet_lp', "SELECT fleet_ensure_partition('fleet_meta', now())"), /not a partitioned table of the fleet/);
    await assert.rejects(as('fleet_lp', "SELECT fleet_ensure_partition('events', 'infinity')"), /not a finite time/);
    await assert.rejects(as('fleet_none', "SELECT fleet_ensure_partition('events', now())"), /permission denied/);
    const config = await pgdb.query<{ c: string[] | null; d: boolean }>(
      "SELECT proconfig AS c, prosecdef AS d FROM pg_proc WHERE proname = 'fleet_ensure_partition'",
    );
    assert.deepEqual(config, [{ c: ['search_path=public, pg_temp'], d: true }]);
  });

  it('a FleetDatabase that accepts and never answers does not hold `upk controller stop`', async () => {
    const silent = await silentServer();
    const silent2 = await silentServer();
    try {
      const b = box('fhsilent', { FleetDatabase: `postgresql://u@127.0.0.1:${silent.port}/db`, FleetHost: 'silent' });
      b.writeServices({ steady: { ExecStart: 'sleep 1000', InitialState: 'running' } });
      await b.startController();
      const c = await b.client();
      await b.waitFor('the export configured', async () => (await c.controllerStatus()).fleet !== null, 10_000);
      await sleep(500); // its connection attempt is under way
      // A reload to another silent database: the old export winds down at once, the new one is in the status.
      const config = JSON.parse(readFileSync(b.configFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(b.configFile, JSON.stringify({ ...config, FleetDatabase: `postgresql://u@127.0.0.1:${silent2.port}/db` }));
      const reloaded = Date.now();
      await c.reloadConfig();
      await b.waitFor(
        'the new export in the status',
        async () => (await c.controllerStatus()).fleet?.database.includes(`:${silent2.port}/`) === true,
        5000,
      );
      assert.ok(Date.now() - reloaded < 4000, `the status had the new export ${Date.now() - reloaded} ms after the reload`);
      await sleep(500); // its connection attempt is under way
      const started = Date.now();
      const stop = await b.upk(['controller', 'stop'], 60_000);
      assert.equal(stop.code, 0, `upk controller stop: exit ${stop.code}: ${stop.stderr}`);
      assert.ok(Date.now() - started < 10_000, `upk controller stop took ${Date.now() - started} ms`);
      // The rounds cut short by the reload and the stop are no failure to report.
      assert.doesNotMatch(readFileSync(join(b.stateDir, 'controller.log'), 'utf8'), /cannot export to the fleet database/);
    } finally {
      silent.close();
      silent2.close();
    }
  });

  it('a custom action that runs for long does not hold the export of the requests finished after it', async () => {
    const b = box('fhaction', { FleetDatabase: pgdb.url, FleetHost: 'action' });
    b.writeServices({ steady: { ExecStart: 'sleep 1000', InitialState: 'running', CustomActions: { forever: 'sleep 1000' } } });
    await b.startController();
    await b.waitForState('steady', 'running');
    const c = await b.client();
    void c.action('steady', 'forever').catch(() => undefined); // runs on, its request unfinished
    await b.waitFor('the action begun', () => {
      const db = b.db();
      try {
        return db.prepare("SELECT 1 FROM client_requests WHERE request = 'action' AND finished IS NULL").get() !== undefined;
      } finally {
        db.close();
      }
    });
    const c2 = await b.client();
    await c2.restart('steady');
    await c2.restart('steady');
    const finished = (): string[] => {
      const db = b.db();
      try {
        return (db.prepare('SELECT uid AS u FROM client_requests WHERE finished IS NOT NULL').all() as { u: string }[]).map((r) => r.u);
      } finally {
        db.close();
      }
    };
    await b.waitFor(
      'the restarts, finished, in PostgreSQL',
      async () => {
        const fleet = new Set(
          (await pgdb.query<{ u: string }>("SELECT replace(uid::text, '-', '') AS u FROM client_requests WHERE host = 'action'")).map(
            (r) => r.u,
          ),
        );
        const local = finished();
        return local.length >= 2 && local.every((u) => fleet.has(u));
      },
      20_000,
    );
  });

  it('check-config refuses a FleetHost with a NUL character (PostgreSQL refuses every row of it)', async () => {
    const b = box('fhnul', { FleetHost: 'web\u0000x' });
    const check = await b.upk(['check-config']);
    assert.equal(check.code, 7, `check-config: exit ${check.code}: ${check.stdout}${check.stderr}`);
  });

  it('a table PostgreSQL refuses holds back that table only: the events go on, and it catches up once fixed', async () => {
    const b = box('fhtable', { FleetDatabase: pgdb.url, FleetHost: 'table' });
    b.writeServices(CRASHY);
    await b.startController();
    const c = await b.client();
    await b.waitFor('events in PostgreSQL', async () => (await fleetKeys('table')).size >= 20, 60_000);
    await pgdb.query('ALTER TABLE client_requests RENAME TO client_requests_away');
    await c.restart('crashy'); // a client request to export: refused
    await b.waitFor(
      'the problem names the table',
      async () => (await c.controllerStatus()).problems.some((p) => p.kind === 'fleet' && /client_requests/.test(p.message)),
      30_000,
    );
    const status = (await c.controllerStatus()).fleet!;
    assert.equal(status.up, false);
    assert.match(status.error ?? '', /refuses batches of client_requests/);
    // The events go on meanwhile, batch after batch: within a few seconds every local event is there.
    await sleep(3000);
    const local = localKeys(b);
    await b.waitFor(
      'the events still exported',
      async () => {
        const fleet = await fleetKeys('table');
        return local.every((k) => fleet.has(k));
      },
      10_000,
    );
    await pgdb.query('ALTER TABLE client_requests_away RENAME TO client_requests');
    await b.waitFor(
      'the requests exported, the problem gone',
      async () => {
        const s = await c.controllerStatus();
        return s.fleet?.up === true && s.fleet.behind['client_requests'] === 0 && !s.problems.some((p) => p.kind === 'fleet');
      },
      90_000,
    );
    await c.stop('crashy');
  });
});
