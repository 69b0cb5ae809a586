// The fleet export into a real, throwaway PostgreSQL cluster: three hosts' crash loops in PostgreSQL
// exactly once; PostgreSQL crashed and away for a while, then back: caught up, nothing twice; the
// controllers killed with SIGKILL while they catch up, and a position behind what PostgreSQL has
// (a crash between its commit and the local save): sent again, skipped, nothing twice. The same for
// the configuration changes (reloads), the finished client requests (upk start/stop), the runs (each
// as it is now: ended, repaired) and the usage records of each host.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startController } from '../../libclient/index.js';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

const BIN = postgresBin();
const HOSTS = ['host-a', 'host-b', 'host-c'];

/** What the fleet holds of a run: its key and every column that changes. */
const RUN_COLUMNS = ['uid', 'started', 'ended', 'outcome', 'code', 'signal', 'repaired', 'pid', 'cause'];
type Rows = { changes: string[]; requests: string[]; runs: string[]; samples: string[] };

/**
 * The uids of a host's local configuration changes and client requests (each with when it finished,
 * or '-'), its runs (each with its columns) and its usage records (instance:seq).
 */
function localRows(box: Sandbox): Rows {
  const db = box.db();
  try {
    const uids = (sql: string): string[] => (db.prepare(sql).all() as { uid: string }[]).map((r) => r.uid);
    return {
      changes: uids('SELECT uid FROM config_changes ORDER BY uid'),
      requests: uids("SELECT uid || ':' || coalesce(finished, '-') AS uid FROM client_requests ORDER BY uid"),
      runs: uids(`SELECT ${RUN_COLUMNS.map((c) => `coalesce(${c}, '-')`).join(" || '|' || ")} AS uid FROM runs ORDER BY uid`),
      samples: uids("SELECT b.instance || ':' || m.seq AS uid FROM samples m JOIN buddies b ON b.id = m.buddy_id ORDER BY uid"),
    };
  } finally {
    db.close();
  }
}

/** Every (instance, seq) a host's local database holds. */
function localKeys(box: Sandbox): string[] {
  const db = box.db();
  try {
    return (
      db.prepare("SELECT b.instance || ':' || e.seq AS k FROM events e JOIN buddies b ON b.id = e.buddy_id ORDER BY k").all() as {
        k: string;
      }[]
    ).map((r) => r.k);
  } finally {
    db.close();
  }
}

describe(
  'fleet export to PostgreSQL',
  {
    timeout: 300_000,
    skip: BIN === null ? 'no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql' : false,
  },
  () => {
    let pgdb: ThrowawayPostgres;
    const boxes: Sandbox[] = [];
    const pids = new Map<Sandbox, number>();

    const start = async (box: Sandbox): Promise<void> => {
      const started = await startController({ config: box.configFile, env: box.env });
      pids.set(box, started.controller.pid);
    };
    /** Every event of `box`'s host in PostgreSQL, as "instance:seq", and how many rows (duplicates would differ). */
    const fleetKeys = async (host: string): Promise<{ keys: string[]; rows: number }> => {
      const rows = await pgdb.query<{ k: string }>("SELECT buddy_instance || ':' || seq AS k FROM events WHERE host = $1 ORDER BY k", [
        host,
      ]);
      return { keys: rows.map((r) => r.k), rows: rows.length };
    };
    /** A host's rows in PostgreSQL, as localRows gives them. */
    const fleetRows = async (host: string): Promise<Rows> => {
      const uids = async (table: string): Promise<string[]> =>
        select(`SELECT replace(uid::text, '-', '') AS uid FROM ${table} WHERE host = $1`);
      // In byte order, as SQLite sorts them.
      const select = async (sql: string): Promise<string[]> =>
        (await pgdb.query<{ uid: string }>(`SELECT uid FROM (${sql}) AS q ORDER BY uid COLLATE "C"`, [host])).map((r) => r.uid);
      const ms = (c: string): string =>
        ['started', 'ended', 'repaired', 'finished'].includes(c) ? `(extract(epoch FROM ${c}) * 1000)::bigint` : c;
      return {
        changes: await uids('config_changes'),
        requests: await select(
          `SELECT replace(uid::text, '-', '') || ':' || coalesce(${ms('finished')}::text, '-') AS uid FROM client_requests WHERE host = $1`,
        ),
        runs: await select(
          `SELECT ${RUN_COLUMNS.map((c) => `coalesce(${ms(c)}::text, '-')`).join(" || '|' || ")} AS uid FROM runs WHERE host = $1`,
        ),
        samples: await select(`SELECT buddy_instance || ':' || seq AS uid FROM samples WHERE host = $1`),
      };
    };
    /** Wait until PostgreSQL has exactly each host's local events, configuration changes and finished requests. */
    const caughtUp = async (what: string, timeoutMs = 60_000): Promise<void> => {
      for (const [i, box] of boxes.entries()) {
        await box.waitFor(
          `${what}: ${HOSTS[i]} in PostgreSQL`,
          async () => {
            const local = localKeys(box);
            const fleet = await fleetKeys(HOSTS[i]!);
            const rows = localRows(box);
            const fleetR = await fleetRows(HOSTS[i]!);
            return (
              local.length > 0 &&
              fleet.keys.join() === local.join() &&
              rows.changes.length > 0 &&
              rows.requests.length > 0 &&
              rows.runs.length > 0 &&
              rows.samples.length > 0 &&
              (['changes', 'requests', 'runs', 'samples'] as const).every((k) => fleetR[k].join() === rows[k].join())
            );
          },
          timeoutMs,
        );
      }
    };
    const assertExactlyOnce = async (): Promise<void> => {
      const dup = await pgdb.query('SELECT host, buddy_instance, seq, count(*) FROM events GROUP BY 1, 2, 3 HAVING count(*) > 1');
      assert.deepEqual(dup, [], 'no event twice in PostgreSQL');
      for (const [table, key] of [
        ['config_changes', 'host, uid'],
        ['client_requests', 'host, uid'],
        ['runs', 'host, uid'],
        ['samples', 'host, buddy_instance, seq'],
      ])
        assert.deepEqual(
          await pgdb.query(`SELECT ${key} FROM ${table} GROUP BY ${key} HAVING count(*) > 1`),
          [],
          `no row of ${table} twice`,
        );
      for (const [i, box] of boxes.entries()) {
        const fleet = await fleetKeys(HOSTS[i]!);
        assert.deepEqual(fleet.keys, localKeys(box), `${HOSTS[i]}: PostgreSQL holds exactly the local events`);
        const rows = localRows(box);
        const fleetR = await fleetRows(HOSTS[i]!);
        assert.deepEqual(fleetR.changes, rows.changes, `${HOSTS[i]}: PostgreSQL holds exactly the local configuration changes`);
        assert.deepEqual(fleetR.requests, rows.requests, `${HOSTS[i]}: PostgreSQL holds exactly the local finished client requests`);
        assert.deepEqual(fleetR.runs, rows.runs, `${HOSTS[i]}: PostgreSQL holds exactly the local runs, each as it is now`);
        assert.deepEqual(fleetR.samples, rows.samples, `${HOSTS[i]}: PostgreSQL holds exactly the local usage records`);
      }
    };

    before(async () => {
      pgdb = await ThrowawayPostgres.create(BIN!);
      process.env['PGPASSWORD'] = pgdb.password; // the controllers inherit it: the URL has no password
      for (const host of HOSTS) {
        const box = new Sandbox(`fleet${host}`, { FleetDatabase: pgdb.url, FleetHost: host });
        box.writeServices({
          crashy: {
            ExecStart: "sh -c 'sleep 0.05; exit 3'",
            InitialState: 'running',
            MinUptime: 0,
            UserRateLimit: 0.02,
            UserMaxRestarts: -1,
          },
          // Usage records: every half second measured, one record per minute and one at each stop.
          steady: { ExecStart: 'sleep 1000', InitialState: 'running', SampleInterval: 0.5 },
        });
        boxes.push(box);
      }
    });
    after(async () => {
      for (const box of boxes) await box.cleanup();
      pgdb?.remove();
      delete process.env['PGPASSWORD'];
    });

    it("three hosts' crash loops are in PostgreSQL exactly once", async () => {
      await Promise.all(boxes.map((b) => start(b)));
      await boxes[0]!.waitFor(
        '100 events exported by each host',
        async () => {
          const counts = await pgdb.query<{ host: string; n: string }>('SELECT host, count(*) AS n FROM events GROUP BY host');
          return counts.length === 3 && counts.every((c) => Number(c.n) >= 100);
        },
        60_000,
      );
      await Promise.all(boxes.map(async (b) => (await b.client()).stop('all')));
      await caughtUp('after the stop');
      await assertExactlyOnce();
      const parts = await pgdb.query<{ n: string }>("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'events'::regclass");
      assert.ok(Number(parts[0]!.n) >= 2, 'this month and the next have partitions');
    });

    it('PostgreSQL crashed during crash loops and away for a while: the hosts catch up, nothing twice', async (t) => {
      await Promise.all(boxes.map(async (b) => (await b.client()).start('all')));
      pgdb.stop('immediate');
      const before = boxes.map((b) => localKeys(b).length);
      const c = await boxes[0]!.client();
      await boxes[0]!.waitFor(
        'the problem fleet',
        async () => (await c.controllerStatus()).problems.some((p) => p.kind === 'fleet'),
        30_000,
      );
      const down = (await c.controllerStatus()).fleet;
      assert.equal(down?.up, false, 'controller.status: the export is down');
      assert.match(down?.error ?? '', /cannot export to the fleet database/);
      // Away long enough for several retries (1, 2, 4 s) and a backlog.
      await boxes[0]!.waitFor(
        'a backlog of 500 events on each host',
        () => boxes.every((b, i) => localKeys(b).length >= before[i]! + 500),
        60_000,
      );
      await Promise.all(boxes.map(async (b) => (await b.client()).stop('all')));
      const backlog = boxes.reduce((n, b, i) => n + localKeys(b).length - before[i]!, 0);
      pgdb.start();
      const restarted = Date.now();
      await caughtUp('after PostgreSQL came back', 120_000);
      const ms = Date.now() - restarted;
      t.diagnostic(
        `catch-up: ${backlog} events of 3 hosts in ${ms} ms after PostgreSQL restarted (retry wait included): ${Math.round((backlog * 1000) / ms)} events/s`,
      );
      await assertExactlyOnce();
      await boxes[0]!.waitFor(
        'the problem fleet gone',
        async () => !(await c.controllerStatus()).problems.some((p) => p.kind === 'fleet'),
        30_000,
      );
      // What upk controller status and /metrics show: up again, nothing behind, rows counted by table.
      const fleet = (await c.controllerStatus()).fleet;
      assert.ok(fleet, 'controller.status has the export');
      assert.equal(fleet.up, true);
      assert.equal(fleet.host, HOSTS[0]);
      assert.equal(fleet.error, null);
      assert.deepEqual(fleet.behind, { events: 0, runs: 0, samples: 0, config_changes: 0, client_requests: 0 });
      assert.ok(fleet.exported['events']! > 0 && fleet.exported['runs']! > 0, JSON.stringify(fleet.exported));
      assert.ok(fleet.lastExport !== null && Date.parse(fleet.lastExport) > restarted);
      const text = await boxes[0]!.upk(['controller', 'status']);
      assert.match(text.stdout, /^fleet\s+exporting to postgresql:\/\/.* as host-a: \d+ rows exported since the start, 0 behind/m);
    });

    it('controllers killed with SIGKILL while they catch up, and a position behind PostgreSQL: nothing lost, nothing twice', async (t) => {
      await Promise.all(boxes.map(async (b) => (await b.client()).start('all')));
      pgdb.stop('fast');
      // A configuration change on each host while PostgreSQL is away: a service added, by a reload.
      for (const box of boxes) {
        box.writeServices({ quiet: { ExecStart: 'sleep 1000', InitialState: 'stopped' } }, 'quiet.conf');
        await (await box.client()).reloadConfig();
      }
      await sleep(8000);
      await Promise.all(boxes.map(async (b) => (await b.client()).stop('all')));
      pgdb.start();
      // Kill each controller a few times while it exports.
      for (let round = 0; round < 3; round++) {
        await sleep(150 + round * 200);
        for (const box of boxes) {
          const pid = pids.get(box)!;
          process.kill(pid, 'SIGKILL');
          await box.waitFor('the controller gone', () => !alive(pid));
        }
        await Promise.all(boxes.map((b) => start(b)));
      }
      await caughtUp('after the SIGKILLs');
      await assertExactlyOnce();

      // The window between PostgreSQL's commit and the local save: the position behind what PostgreSQL has.
      const box = boxes[1]!;
      const pid = pids.get(box)!;
      process.kill(pid, 'SIGKILL');
      await box.waitFor('the controller gone', () => !alive(pid));
      const db = new Database(join(box.stateDir, 'upkeeper.db'));
      db.prepare('UPDATE fleet_export SET last_id = 0').run();
      assert.equal((db.prepare('SELECT count(*) AS n FROM fleet_export').get() as { n: number }).n, 5, 'a position per table');
      db.close();
      const sentAgain = localKeys(box).length;
      const startedAt = Date.now();
      await start(box);
      await box.waitFor(
        'the position past every event again',
        () => {
          const d = box.db();
          try {
            const r = d
              .prepare("SELECT (SELECT last_id FROM fleet_export WHERE source = 'events') AS pos, (SELECT max(id) FROM events) AS top")
              .get() as { pos: number; top: number };
            return r.pos === r.top;
          } finally {
            d.close();
          }
        },
        60_000,
      );
      await caughtUp('after the position reset');
      t.diagnostic(`${sentAgain} events sent again and skipped by their keys in ${Date.now() - startedAt} ms (controller start included)`);
      await assertExactlyOnce();
    });

    it('export rate: a backlog of 20,000 events of one host, in batches of 1,000', async (t) => {
      const box = boxes[2]!;
      const pid = pids.get(box)!;
      process.kill(pid, 'SIGKILL');
      await box.waitFor('the controller gone', () => !alive(pid));
      // A buddy of the past (ended) whose events this controller never exported: 20,000 of them.
      const db = new Database(join(box.stateDir, 'upkeeper.db'));
      const service = (db.prepare('SELECT uuid FROM services LIMIT 1').get() as { uuid: string }).uuid;
      const instance = randomUUID();
      const now = Date.now();
      const buddy = db
        .prepare("INSERT INTO buddies (instance, service_uuid, pid, started, seen, ended, end_reason) VALUES (?, ?, 1, ?, ?, ?, 'gone')")
        .run(instance, service, now, now, now).lastInsertRowid;
      const insert = db.prepare(
        "INSERT INTO events (service_uuid, buddy_id, seq, time, type, pid, code, detail) VALUES (?, ?, ?, ?, 'exited', 42, 3, ?)",
      );
      db.transaction(() => {
        for (let seq = 1; seq <= 20_000; seq++) insert.run(service, buddy, seq, now - 20_000 + seq, '{"outcome":"failure","uptimeMs":50}');
      })();
      db.close();
      const startedAt = Date.now();
      await start(box);
      await caughtUp('the backlog', 120_000);
      const caught = Date.now() - startedAt;
      const [rate] = await pgdb.query<{ n: string; ms: string }>(
        'SELECT count(*) AS n, extract(epoch FROM max(exported) - min(exported)) * 1000 AS ms FROM events WHERE buddy_instance = $1',
        [instance],
      );
      t.diagnostic(
        `export rate: ${rate!.n} events from the first batch's transaction to the last one's in ${Math.round(Number(rate!.ms))} ms: ${Math.round((Number(rate!.n) * 1000) / Number(rate!.ms))} events/s; ${caught} ms from the controller's start to caught up`,
      );
      await assertExactlyOnce();
    });
  },
);
