// Fleet queries (`upk … --fleet`) against a real, throwaway PostgreSQL that real controllers export to:
// two hosts with crash loops, stops and a reload; for each host, the answer of `--fleet --host H` is the
// host's own answer (its --json, without the host), and the fleet's answer without --host is the union.
// Plus the errors: no URL, a URL with a password, an unreachable database, a failed login, no schema.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';
import { Sandbox } from '../helpers/sandbox.js';

const BIN = postgresBin();
const HOSTS = ['host-a', 'host-b'];

type Json = Record<string, unknown>;

/** Without the fields only one side has: the host (fleet), the local row id (host). */
const bare = (rows: Json[]): Json[] => rows.map(({ host: _h, id: _i, ...rest }) => rest);
/** One order for both sides: by time, then buddy and seq (two events of one millisecond may come in either order). */
const sorted = (rows: Json[]): Json[] =>
  [...rows].sort(
    (a, b) =>
      String(a.time).localeCompare(String(b.time)) || String(a.buddy).localeCompare(String(b.buddy)) || Number(a.seq) - Number(b.seq),
  );

describe(
  'fleet queries read PostgreSQL',
  {
    timeout: 300_000,
    skip: BIN === null ? 'no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql' : false,
  },
  () => {
    let pgdb: ThrowawayPostgres;
    const boxes: Sandbox[] = [];

    const json = async (box: Sandbox, args: string[]): Promise<Json[]> => {
      const r = await box.upk([...args, '--json']);
      assert.equal(r.code, 0, `upk ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as Json[];
    };
    const localCount = (box: Sandbox): number => {
      const db = box.db();
      try {
        return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    /** Until PostgreSQL holds as many events of each host as its own database. */
    const caughtUp = async (): Promise<void> => {
      for (const [i, box] of boxes.entries()) {
        await box.waitFor(
          `${HOSTS[i]}'s events in PostgreSQL`,
          async () => {
            const rows = await pgdb.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE host = $1', [HOSTS[i]]);
            return Number(rows[0]!.n) === localCount(box) && localCount(box) > 0;
          },
          60_000,
        );
      }
    };

    before(async () => {
      pgdb = await ThrowawayPostgres.create(BIN!);
      process.env['PGPASSWORD'] = pgdb.password; // the controllers and upk inherit it: the URL has no password
      for (const host of HOSTS) {
        const box = new Sandbox(`fq${host}`, { FleetDatabase: pgdb.url, FleetHost: host });
        box.writeServices({
          crashy: {
            ExecStart: "sh -c 'sleep 0.05; exit 3'",
            InitialState: 'running',
            MinUptime: 0,
            UserRateLimit: 0.05,
            UserMaxRestarts: -1,
          },
          steady: { ExecStart: 'sleep 1000', InitialState: 'running' },
        });
        boxes.push(box);
      }
      await Promise.all(boxes.map((b) => b.startController()));
      // Crash loops, then a stop, then a reload that adds a service, on each host.
      await Promise.all(
        boxes.map((b) => b.waitFor('10 exits of crashy', () => b.events('crashy').filter((e) => e.type === 'exited').length >= 10, 60_000)),
      );
      for (const box of boxes) {
        const c = await box.client();
        await c.stop(['crashy']);
        box.writeServices({ quiet: { ExecStart: 'sleep 1000', InitialState: 'running' } }, 'quiet.conf');
        await c.reloadConfig();
        await box.waitForState('quiet', 'running');
      }
      await caughtUp();
    });
    after(async () => {
      for (const box of boxes) await box.cleanup();
      pgdb?.remove();
      delete process.env['PGPASSWORD'];
    });

    it("upk events --fleet --host H: the host's own events; without --host, every host's", async () => {
      const union: Json[] = [];
      for (const [i, box] of boxes.entries()) {
        const host = HOSTS[i]!;
        for (const filter of [[], ['crashy'], ['--type', 'exited,spawned'], ['steady', '--limit', '3'], ['--code', '3', '--limit', '5']]) {
          const own = await json(box, ['events', '--limit', '10000', ...filter]);
          const fleet = await json(box, ['events', '--fleet', '--host', host, '--limit', '10000', ...filter]);
          assert.ok(own.length > 0, `${host} ${filter.join(' ')}: some events`);
          assert.ok(
            fleet.every((e) => e.host === host),
            `${host}: only its events`,
          );
          assert.deepEqual(sorted(bare(fleet)), sorted(bare(own)), `${host} ${filter.join(' ')}: the same events`);
          if (filter.length === 0) union.push(...fleet);
        }
      }
      const all = await json(boxes[0]!, ['events', '--fleet', '--limit', '100000']);
      assert.deepEqual(sorted(all), sorted(union), 'the fleet: the union of the hosts');
      const both = await json(boxes[0]!, ['events', '--fleet', '--host', HOSTS.join(','), '--limit', '100000']);
      assert.deepEqual(sorted(both), sorted(union), '--host a,b: both hosts');
      // The table has a HOST column.
      const table = await boxes[1]!.upk(['events', '--fleet', 'crashy', '--limit', '2']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^HOST\s+TIME\s+SERVICE\s+TYPE/);
      assert.match(table.stdout, /\nhost-[ab]\s+\S+\s+crashy\s/);
    });

    it('errors: no URL, a password in the URL, an unreachable database, a failed login, no fleet schema', async () => {
      const box = boxes[0]!;
      const plain = new Sandbox('fqplain');
      try {
        const none = await plain.upk(['events', '--fleet']);
        assert.equal(none.code, 7, none.stderr);
        assert.match(
          none.stderr,
          /^upk: no fleet database: give --fleet-database URL, or set UPKEEPER_FLEET_DATABASE, or FleetDatabase in /,
        );
        process.env['UPKEEPER_FLEET_DATABASE'] = pgdb.url;
        try {
          const fromEnv = await json(plain, ['events', '--fleet', '--host', HOSTS[0]!, '--limit', '1']);
          assert.equal(fromEnv[0]?.host, HOSTS[0], 'the URL from UPKEEPER_FLEET_DATABASE');
        } finally {
          delete process.env['UPKEEPER_FLEET_DATABASE'];
        }
      } finally {
        await plain.cleanup();
      }
      const secret = await box.upk(['--fleet-database', 'postgresql://upkeeper:hunter2@localhost/fleet', 'events', '--fleet']);
      assert.equal(secret.code, 2, secret.stderr);
      assert.match(secret.stderr, /--fleet-database: the URL holds a password/);
      assert.doesNotMatch(secret.stderr, /hunter2/);
      const away = await box.upk([
        '--fleet-database',
        `postgresql://upkeeper@localhost/fleet?host=${encodeURIComponent(box.dir)}`,
        'events',
        '--fleet',
      ]);
      assert.equal(away.code, 3, away.stderr);
      assert.match(away.stderr, /^upk: the fleet database postgresql:\/\/upkeeper@localhost\/fleet: cannot reach it: /);
      process.env['PGPASSWORD'] = 'not-the-password';
      try {
        const denied = await box.upk(['events', '--fleet']);
        assert.equal(denied.code, 3, denied.stderr);
        assert.match(denied.stderr, /cannot log in: password authentication failed/);
      } finally {
        process.env['PGPASSWORD'] = pgdb.password;
      }
      const admin = await pgdb.connect();
      await admin.query('CREATE DATABASE empty');
      await admin.end();
      const empty = await box.upk(['--fleet-database', pgdb.url.replace('/fleet?', '/empty?'), 'events', '--fleet']);
      assert.equal(empty.code, 1, empty.stderr);
      assert.match(empty.stderr, /holds no fleet schema/);
      const env = await box.upk(['events', '--fleet', '--limit', '1']);
      assert.equal(env.code, 0, env.stderr);
    });
  },
);
