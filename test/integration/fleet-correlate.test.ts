// What fails together, from the fleet's PostgreSQL database (`upk correlate --fleet`), with real
// controllers exporting to a throwaway PostgreSQL and real processes killed: on host-a, db is
// SIGKILLed 0.4 s before each of 4 kills of web (as integration/correlate does), and host-b's db 0.6 s
// before each. For host-a alone, `upk correlate web --fleet --host host-a --json` is the host's own
// `upk correlate web --json` (and so for other options, the pairs and `upk why`); with --host
// host-a,host-b, host-b's db ranks first. Then the errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CorrelationResult, FailureStory } from '../../libclient/index.js';
import { FleetCorrelations } from '../../libclient/fleet-correlate.js';
import { FleetCorrelationReads } from '../../libclient/fleet-correlate-reads.js';
import { FleetDatabase } from '../../libclient/fleet-database.js';
import { exported } from '../helpers/fleet-compare.js';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';

const BIN = postgresBin();
const HOSTS = ['host-a', 'host-b'];
const WINDOW = '1s';
const FAILURES = 4;

const service = (extra: Record<string, unknown> = {}) => ({ ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, ...extra });

describe(
  'upk correlate --fleet reads PostgreSQL',
  {
    timeout: 240_000,
    skip: BIN === null ? 'no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql' : false,
  },
  () => {
    let pgdb: ThrowawayPostgres;
    let a: Sandbox;
    let b: Sandbox;
    let since = '';
    let until = '';

    const run = async (box: Sandbox, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => box.upk(args, 60_000);
    const json = async <T>(box: Sandbox, args: string[]): Promise<T> => {
      const r = await run(box, [...args, '--json']);
      assert.equal(r.code, 0, `upk ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
    before(async () => {
      pgdb = await ThrowawayPostgres.create(BIN!);
      process.env['PGPASSWORD'] = pgdb.password;
      since = new Date(Date.now() - 60_000).toISOString();
      a = new Sandbox('fchost-a', { FleetDatabase: pgdb.url, FleetHost: HOSTS[0] });
      b = new Sandbox('fchost-b', { FleetDatabase: pgdb.url, FleetHost: HOSTS[1] });
      a.writeServices({ db: service(), web: service({ Prerequisites: ['db'] }), cache: service() });
      b.writeServices({ db: service(), idle: service() });
      await Promise.all([a.startController(), b.startController()]);
      for (const s of ['db', 'web', 'cache']) await a.waitForState(s, 'running');
      for (const s of ['db', 'idle']) await b.waitForState(s, 'running');
      const ca = await a.client();
      const cb = await b.client();
      const pidOf = async (c: typeof ca, name: string): Promise<number> => (await c.status(name))[0]!.pid!;
      const again = async (box: Sandbox, c: typeof ca, name: string, old: number, what: string): Promise<void> => {
        await box.waitFor(`${name} running again after ${what}`, async () => {
          const [s] = await c.status(name);
          return s?.state === 'running' && s.pid !== old;
        });
      };
      // Quiet time first and between the failures: the windows around the events cover a small part of the range.
      await sleep(10_000);
      for (let i = 0; i < FAILURES; i++) {
        const dbB = await pidOf(cb, 'db');
        const dbA = await pidOf(ca, 'db');
        const web = await pidOf(ca, 'web');
        process.kill(dbB, 'SIGKILL');
        await sleep(200);
        process.kill(dbA, 'SIGKILL');
        await sleep(400);
        process.kill(web, 'SIGKILL');
        await again(b, cb, 'db', dbB, `kill ${i + 1}`);
        await again(a, ca, 'db', dbA, `kill ${i + 1}`);
        await again(a, ca, 'web', web, `kill ${i + 1}`);
        if (i === 1) {
          // host-a's db fails once more, and cache once, far from web's failures.
          await sleep(2500);
          const db = await pidOf(ca, 'db');
          process.kill(db, 'SIGKILL');
          process.kill(await pidOf(ca, 'cache'), 'SIGKILL');
          await again(a, ca, 'db', db, 'its own kill');
          await a.waitForState('cache', 'running');
        }
        await sleep(4000);
      }
      for (const [i, box] of [a, b].entries()) await exported(box, pgdb, HOSTS[i]!, ['config_changes']);
      until = new Date(Date.now() - 200).toISOString();
    });
    after(async () => {
      for (const box of [a, b]) await box?.cleanup();
      pgdb?.remove();
      delete process.env['PGPASSWORD'];
    });

    it("one host: the host's own answer, row for row and figure for figure", async () => {
      const range = ['--window', WINDOW, '--since', since, '--until', until];
      for (const extra of [[], ['--failures', '2'], ['--limit', '3'], ['--window', '3s']]) {
        const args = ['correlate', 'web', ...range, ...extra];
        const own = await json<CorrelationResult>(a, args);
        const fleet = await json<CorrelationResult>(a, [...args, '--fleet', '--host', HOSTS[0]!]);
        assert.deepEqual(fleet, own, `correlate web ${extra.join(' ')}`);
        assert.ok(own.correlations.length > 0, `${extra.join(' ')}: some rows`);
        if (extra.length === 0) {
          assert.equal(own.failures, FAILURES);
          assert.equal(own.correlations[0]!.other, 'db', JSON.stringify(own.correlations[0]));
          assert.equal(own.correlations[0]!.prerequisite, true);
        }
        // HOST/NAME is the same subject.
        const named = await json<CorrelationResult>(a, ['correlate', `${HOSTS[0]}/web`, ...range, ...extra, '--fleet']);
        assert.deepEqual(named, own, `correlate host-a/web ${extra.join(' ')}`);
      }
      for (const name of ['db', 'cache']) {
        const args = ['correlate', name, ...range];
        assert.deepEqual(await json(a, [...args, '--fleet', '--host', HOSTS[0]!]), await json(a, args), `correlate ${name}`);
      }
      // The pairs, and the text.
      const pairs = ['correlate', '--all', ...range];
      const own = await json<CorrelationResult>(a, pairs);
      assert.deepEqual(await json(a, [...pairs, '--fleet', '--host', HOSTS[0]!]), own, 'the pairs');
      assert.ok(own.correlations.length > 0);
      const text = await run(a, ['correlate', 'web', ...range]);
      const fleetText = await run(a, ['correlate', 'web', ...range, '--fleet', '--host', HOSTS[0]!]);
      assert.equal(fleetText.code, 0, fleetText.stderr);
      assert.equal(fleetText.stdout, text.stdout);
    });

    it('upk why web --fleet --host host-a: the same Together: line as the host', async () => {
      for (const window of [[], ['--window', WINDOW]]) {
        const own = await json<FailureStory>(a, ['why', 'web', ...window]);
        const fleet = await json<FailureStory>(a, ['why', 'web', ...window, '--fleet', '--host', HOSTS[0]!]);
        assert.deepEqual(fleet.failure!.correlated, own.failure!.correlated, `why web ${window.join(' ')}`);
      }
      const own = await json<FailureStory>(a, ['why', 'web', '--window', WINDOW]);
      assert.equal(own.failure!.correlated?.other, 'db', JSON.stringify(own.failure));
      const text = await run(a, ['why', 'web', '--window', WINDOW, '--fleet', '--host', HOSTS[0]!]);
      assert.equal(text.code, 0, text.stderr);
      const together = (await run(a, ['why', 'web', '--window', WINDOW])).stdout.split('\n').find((l) => l.startsWith('Together: '));
      assert.ok(together, 'the host names what fails with it');
      assert.ok(text.stdout.split('\n').includes(together), text.stdout);
    });

    it("across hosts: host-b's db, killed before each failure of web on host-a, ranks first", async () => {
      const range = ['--window', WINDOW, '--since', since, '--until', until];
      const r = await json<CorrelationResult>(a, ['correlate', `${HOSTS[0]}/web`, ...range, '--fleet', '--host', HOSTS.join(',')]);
      assert.equal(r.service, 'host-a/web');
      assert.equal(r.failures, FAILURES);
      const top = r.correlations[0]!;
      assert.deepEqual([top.other, top.kind, top.together, top.significant], ['host-b/db', 'failed', FAILURES, true], JSON.stringify(r));
      assert.ok(top.medianOffsetMs! < -400 && top.medianOffsetMs! > -1000, String(top.medianOffsetMs));
      assert.equal(top.prerequisite, false, "another host's db provides nothing to web");
      const local = r.correlations.find((c) => c.other === 'host-a/db' && c.kind === 'failed')!;
      assert.equal(local.together, FAILURES);
      assert.equal(local.prerequisite, true);
      assert.ok(r.correlations.every((c) => /^host-[ab]\//.test(c.other)));
      // Only host-b's services.
      const onlyB = await json<CorrelationResult>(a, ['correlate', `${HOSTS[0]}/web`, ...range, '--fleet', '--host', HOSTS[1]!]);
      assert.ok(onlyB.correlations.every((c) => c.other.startsWith('host-b/')));
      assert.equal(onlyB.correlations[0]!.other, 'host-b/db');
      // The pairs of both hosts: web on host-a with a db.
      const pairs = await json<CorrelationResult>(a, ['correlate', '--all', ...range, '--fleet', '--host', HOSTS.join(',')]);
      assert.ok(
        pairs.correlations.some((c) => [c.service, c.other].sort().join(' ') === 'host-a/web host-b/db' && c.together === FAILURES),
        JSON.stringify(pairs.correlations),
      );
      const text = await run(a, ['correlate', `${HOSTS[0]}/web`, ...range, '--fleet', '--host', HOSTS.join(',')]);
      assert.match(text.stdout.split('\n')[2]!, /^host-b\/db\s+failed\s+4 of 4\s/, text.stdout);
    });

    it('read in pages of 2 times: the same times, and the same answers', async () => {
      const db = await FleetDatabase.open(pgdb.url);
      try {
        for (const ask of [{ service: 'host-a/web', hosts: HOSTS }, { hosts: HOSTS }, { service: 'web', host: HOSTS[0]! }]) {
          const options = { ...ask, window: 1000, since, until };
          assert.deepEqual(
            await new FleetCorrelations(db, 2).correlate(options, HOSTS),
            await new FleetCorrelations(db).correlate(options, HOSTS),
            JSON.stringify(ask),
          );
        }
        const reads = new FleetCorrelationReads(db, 2);
        const web = (await reads.services(HOSTS[0]!)).services.find((s) => s.id === 'web')!;
        const distinct = async (sql: string): Promise<number[]> =>
          (await pgdb.query<{ t: Date }>(sql, [HOSTS[0], web.uuids])).map((r) => r.t.getTime());
        const starts: number[] = [];
        await reads.times(web, 'restarted', 0, Date.now(), (t) => void starts.push(t));
        assert.ok(starts.length > FAILURES, 'its start and restarts, more than a page');
        assert.deepEqual(
          [...new Set(starts)],
          await distinct(`SELECT DISTINCT started AS t FROM runs WHERE host = $1 AND service_uuid = ANY($2::uuid[])
            AND cause IN ('start', 'restart') AND outcome IS DISTINCT FROM 'spawn_failed' ORDER BY 1`),
        );
        const failures: number[] = [];
        await reads.failuresNewestFirst(web, 0, Date.now(), (t) => failures.push(t) > 0);
        assert.equal(new Set(failures).size, FAILURES);
        assert.deepEqual(
          [...new Set(failures)],
          await distinct(`SELECT DISTINCT ended AS t FROM runs WHERE host = $1 AND service_uuid = ANY($2::uuid[])
            AND outcome IN ('failed', 'spawn_failed') ORDER BY 1 DESC`),
        );
      } finally {
        db.close();
      }
    });

    it('errors: unknown host, no host, bad options, unknown service', async () => {
      const cases: [string[], number, RegExp][] = [
        [['correlate', 'web', '--fleet', '--host', 'nosuch'], 2, /--host: the fleet database knows no host "nosuch"/],
        [['correlate', 'nosuch/web', '--fleet'], 2, /the fleet database knows no host "nosuch"/],
        [['correlate', 'web', '--fleet'], 2, /which host's web\? name it: HOST\/web, or one host with --host HOST/],
        [['correlate', 'web', '--fleet', '--host', HOSTS.join(',')], 2, /which host's web\?/],
        [['correlate', 'web', '--all', '--fleet', '--host', HOSTS[0]!], 2, /NAME and --all: choose one/],
        [['correlate', 'web', '--window', '2d', '--fleet', '--host', HOSTS[0]!], 2, /expected a window/],
        [['correlate', 'web', '--since', '1h', '--until', '2h', '--fleet', '--host', HOSTS[0]!], 2, /until|since/],
        [['correlate', 'web', '--failures', '0', '--fleet', '--host', HOSTS[0]!], 2, /failures/],
        [['correlate', 'nosuch', '--fleet', '--host', HOSTS[0]!], 4, /no service named "nosuch" on host-a in the fleet database/],
        [['correlate', 'all', '--fleet', '--host', HOSTS[0]!], 2, /not all/],
      ];
      for (const [args, code, message] of cases) {
        const r = await run(a, args);
        assert.equal(r.code, code, `upk ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(' '));
      }
    });
  },
);
