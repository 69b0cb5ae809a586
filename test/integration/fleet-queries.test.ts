// Fleet queries (`upk … --fleet`) against a real, throwaway PostgreSQL that real controllers export to:
// two hosts with crash loops, stops and a reload; for each host, the answer of `--fleet --host H` is the
// host's own answer (its --json, without the host), and the fleet's answer without --host is the union.
// Plus the errors: no URL, a URL with a password, an unreachable database, a failed login, no schema.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FleetReader } from '../../libclient/index.js';
import { canonical, exported } from '../helpers/fleet-compare.js';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';

const BIN = postgresBin();
const HOSTS = ['host-a', 'host-b'];

type Json = Record<string, unknown>;

/** Each host's services: crashy in a crash loop, steady, and flaky, whose command a reload changes. */
const services = (flaky: string): Record<string, Record<string, unknown>> => ({
  crashy: { ExecStart: "sh -c 'sleep 0.05; exit 3'", InitialState: 'running', MinUptime: 0, UserRateLimit: 0.05, UserMaxRestarts: -1 },
  steady: { ExecStart: 'sleep 1000', InitialState: 'running' },
  flaky: { ExecStart: flaky, InitialState: 'running', MinUptime: 0, UserRateLimit: 0.05, UserMaxRestarts: -1 },
});

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
    /** Until PostgreSQL holds as many events, runs (ended, repaired) and usage records of each host as its own database. */
    const caughtUp = async (): Promise<void> => {
      for (const [i, box] of boxes.entries()) await exported(box, pgdb, HOSTS[i]!, ['samples']);
    };

    before(async () => {
      pgdb = await ThrowawayPostgres.create(BIN!);
      since = new Date(Date.now() - 120_000).toISOString();
      process.env['PGPASSWORD'] = pgdb.password; // the controllers and upk inherit it: the URL has no password
      for (const host of HOSTS) {
        const box = new Sandbox(`fq${host}`, { FleetDatabase: pgdb.url, FleetHost: host });
        box.writeServices(services('sleep 1000'));
        boxes.push(box);
      }
      await Promise.all(boxes.map((b) => b.startController()));
      // Crash loops, then a stop, then a reload that adds a service, on each host.
      await Promise.all(
        boxes.map((b) => b.waitFor('10 exits of crashy', () => b.events('crashy').filter((e) => e.type === 'exited').length >= 10, 60_000)),
      );
      // Then flaky's command changed by the reload (restarted: it fails from then on) and stopped after 3 failures.
      for (const box of boxes) {
        const c = await box.client();
        await c.stop(['crashy']);
        box.writeServices(services("sh -c 'sleep 0.05; exit 4'"));
        box.writeServices({ quiet: { ExecStart: 'sleep 1000', InitialState: 'running' } }, 'quiet.conf');
        await c.reloadConfig({ restart: true });
        await box.waitFor(
          '3 failures of flaky',
          () => box.events('flaky').filter((e) => e.type === 'exited' && e.code === 4).length >= 3,
          30_000,
        );
        await c.stop(['flaky']);
        await box.waitForState('quiet', 'running');
      }
      await sleep(4000); // quiet runs a while: its uptime, known from its configuration change, is near its own (below)
      await caughtUp();
      until = new Date(Date.now() - 200).toISOString();
    });
    let since = '';
    let until = '';
    after(async () => {
      for (const box of boxes) await box.cleanup();
      pgdb?.remove();
      delete process.env['PGPASSWORD'];
    });

    it("upk events --fleet --host H: the host's own events; without --host, every host's", async () => {
      const union: Json[] = [];
      for (const [i, box] of boxes.entries()) {
        const host = HOSTS[i]!;
        for (const filter of [
          [],
          ['all'],
          ['crashy'],
          ['--type', 'exited,spawned'],
          ['steady', '--limit', '3'],
          ['--code', '3', '--limit', '5'],
        ]) {
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

    it("upk trend --fleet --host H: the host's own trend, metric by metric; --by host and --by service sum it", async () => {
      type Series = {
        host?: string | null;
        service: string | null;
        points: { start: string; value: number | null; max?: number | null }[];
        total: number | null;
        max?: number | null;
      };
      type Trend = { series: Series[] };
      const trend = async (box: Sandbox, args: string[]): Promise<Trend> => {
        const r = await box.upk(['trend', '--json', '--since', since, '--until', until, ...args]);
        assert.equal(r.code, 0, `upk trend ${args.join(' ')}: ${r.stderr}`);
        return JSON.parse(r.stdout) as Trend;
      };
      for (const metric of ['restarts', 'failures', 'failrate', 'uptime', 'mtbf', 'mttr', 'cpu', 'rss', 'unhealthy']) {
        for (const [i, box] of boxes.entries()) {
          const host = HOSTS[i]!;
          for (const bucket of ['1m', '1h']) {
            const args = ['--metric', metric, '--bucket', bucket];
            const own = await trend(box, args);
            const fleet = await trend(box, ['--fleet', '--host', host, ...args]);
            const what = `${host} ${metric} per ${bucket}`;
            assert.deepEqual(
              fleet.series.map((s) => [s.host, s.service]).sort(),
              own.series.map((s) => [host, s.service]).sort(),
              `${what}: a series per service`,
            );
            for (const o of own.series) {
              const f = fleet.series.find((s) => s.service === o.service)!;
              if (metric === 'uptime' && o.service === 'quiet') {
                // A service added by a reload is known from its configuration change, stored after the reload applied
                // (after the restart of flaky): later than the service's row (docs/fleet.md). So in the bucket it was
                // added in, and over the range, its fleet uptime is a little higher; elsewhere the same.
                const added = o.points.findIndex((p) => p.value !== null);
                f.points.forEach((p, k) => {
                  const own = o.points[k]!.value;
                  if (k !== added) assert.equal(p.value, own, `${what} ${o.service} ${p.start}`);
                  else assert.ok(p.value! >= own! && p.value! - own! < 10, `${what} ${o.service} ${p.start}: ${p.value} ~ ${own}`);
                });
                assert.ok(f.total! >= o.total! && f.total! - o.total! < 10, `${what} ${o.service}: total ${f.total} ~ ${o.total}`);
                continue;
              }
              assert.deepEqual(
                { points: f.points, total: f.total, max: f.max },
                { points: o.points, total: o.total, max: o.max },
                `${what} ${o.service}`,
              );
            }
          }
        }
      }
      // Summed by host, and by service over the hosts.
      const perService = await trend(boxes[0]!, ['--fleet', '--metric', 'restarts', '--bucket', '1m']);
      const byHost = await trend(boxes[0]!, ['--fleet', '--metric', 'restarts', '--bucket', '1m', '--by', 'host']);
      const byService = await trend(boxes[0]!, ['--fleet', '--metric', 'restarts', '--bucket', '1m', '--by', 'service']);
      const total = (xs: Series[]): number => xs.reduce((n, s) => n + (s.total ?? 0), 0);
      assert.deepEqual(
        byHost.series.map((s) => [s.host, s.service]),
        HOSTS.map((h) => [h, null]),
      );
      for (const host of HOSTS)
        assert.equal(
          byHost.series.find((s) => s.host === host)!.total,
          total(perService.series.filter((s) => s.host === host)),
          `${host}: its restarts`,
        );
      const crashy = byService.series.find((s) => s.service === 'crashy')!;
      assert.equal(crashy.host, null);
      assert.equal(crashy.total, total(perService.series.filter((s) => s.service === 'crashy')), "crashy: every host's restarts");
      assert.ok((crashy.total ?? 0) >= 10, 'crashy restarted');
      const table = await boxes[0]!.upk(['trend', '--fleet', '--by', 'host', '--since', since, '--until', until, '--table']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^HOST\s+BUCKET \(UTC\)\s+RESTARTS\n/);
    });

    it("upk why NAME --fleet --host H: the host's own story (what fails with it too), but for the status now", async () => {
      const noId = (e: unknown): unknown => (e && typeof e === 'object' ? bare([e as Json])[0] : e);
      const comparable = (story: Json): Json => {
        const f = story.failure as Json | null;
        return {
          service: story.service,
          uuid: story.uuid,
          command: story.command,
          historyFrom: story.historyFrom,
          failure: f && {
            ...f,
            event: noId(f.event),
            unwell: noId(f.unwell ?? null),
            signals: bare(f.signals as Json[]),
          },
          after: sorted(bare(story.after as Json[])),
        };
      };
      for (const [i, box] of boxes.entries()) {
        const host = HOSTS[i]!;
        for (const name of ['crashy', 'flaky', 'steady']) {
          const r = await box.upk(['why', name, '--json']);
          assert.equal(r.code, 0, r.stderr);
          const own = JSON.parse(r.stdout) as Json;
          const f = await box.upk(['why', name, '--fleet', '--host', host, '--json']);
          assert.equal(f.code, 0, f.stderr);
          const fleet = JSON.parse(f.stdout) as Json;
          assert.equal(fleet.host, host);
          assert.equal(fleet.status, null);
          assert.deepEqual(comparable(fleet), comparable(own), `${host} ${name}`);
          if (name === 'steady') assert.equal(own.failure, null, 'steady never failed');
          else assert.ok(((own.failure as Json).failuresInRow as number) >= 3, `${name} failed in a row`);
        }
        const flaky = JSON.parse((await box.upk(['why', 'flaky', '--json'])).stdout) as {
          failure: { configChanged: { keys: string[] } | null };
        };
        assert.deepEqual(flaky.failure.configChanged?.keys, ['ExecStart'], 'the reload changed its command before it failed');
      }
      const text = await boxes[1]!.upk(['why', 'flaky', '--fleet', '--host', HOSTS[1]!]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^host-b:\nflaky failed /);
      assert.match(text.stdout, /\nConfiguration: its configuration changed .* \(upk reload-config\): ExecStart\.\n/);
      assert.match(text.stdout, /\nNow: not in the fleet database; ask the host: upk --host host-b status flaky\n$/);
      const noHost = await boxes[0]!.upk(['why', 'flaky', '--fleet']);
      assert.equal(noHost.code, 2, noHost.stderr);
      const all = await boxes[0]!.upk(['why', 'all', '--fleet', '--host', HOSTS[0]!]);
      assert.equal(all.code, 2, all.stderr);
      const unknown = await boxes[0]!.upk(['why', 'nosuch', '--fleet', '--host', HOSTS[0]!]);
      assert.equal(unknown.code, 4, unknown.stderr);
    });

    it("upk status --at T --fleet --host H: the host's own status then, at every moment of its history", async () => {
      const fleet = await FleetReader.open(pgdb.url);
      try {
        for (const [i, box] of boxes.entries()) {
          const host = HOSTS[i]!;
          const db = box.db();
          const times = (db.prepare('SELECT DISTINCT time FROM events ORDER BY time').all() as { time: number }[]).map((r) => r.time);
          db.close();
          // Each event's millisecond, the one before and after it, and a little later (MinUptime, holds, usage).
          const moments = [...new Set(times.flatMap((t) => [t - 1, t, t + 1, t + 400]))].sort((a, b) => a - b);
          assert.ok(moments.length > 100, `${host}: ${moments.length} moments`);
          const client = await box.client();
          let compared = 0;
          for (const m of moments) {
            if (m > Date.parse(until)) break;
            const own = await client.statusAt(m);
            const [theirs, ...more] = await fleet.statusAt(m, { hosts: [host] });
            assert.equal(more.length, 0);
            assert.equal(theirs!.host, host);
            assert.equal(canonical(theirs!.services), canonical(own.services), `${host} at ${new Date(m).toISOString()}`);
            compared += own.services.length;
          }
          assert.ok(compared > 300, `${host}: ${compared} statuses compared`);
          // Names, as the host resolves them; the state of each then.
          const named = await fleet.statusAt(until, { hosts: [host], names: ['flaky', 'quiet'] });
          assert.deepEqual(
            named[0]!.services.map((s) => [s.name, s.state]),
            [
              ['flaky', 'stopped'],
              ['quiet', 'running'],
            ],
          );
        }
      } finally {
        fleet.close();
      }
      // The command: --json is each host's answer; the table has a HOST column; status exits 6 when one is not as desired.
      const at = new Date(Date.parse(until) - 100).toISOString();
      const j = await boxes[0]!.upk(['list', '--at', at, '--fleet', '--json']);
      assert.equal(j.code, 0, j.stderr);
      const answers = JSON.parse(j.stdout) as { host: string; at: string; services: Json[] }[];
      assert.deepEqual(
        answers.map((a) => [a.host, a.at, a.services.map((s) => s.name)]),
        HOSTS.map((h) => [h, at, ['crashy', 'flaky', 'quiet', 'steady']]),
      );
      const own = JSON.parse((await boxes[1]!.upk(['list', '--at', at, '--json'])).stdout) as Json[];
      assert.equal(canonical(answers[1]!.services), canonical(own));
      const t = await boxes[0]!.upk(['status', 'steady', 'crashy', '--at', at, '--fleet', '--host', HOSTS.join(',')]);
      assert.equal(t.code, 0, `stopped as desired, running as desired: ${t.stderr}`);
      assert.match(t.stdout, /^HOST +NAME +STATE/);
      assert.match(t.stdout, /\nhost-b +crashy +stopped/);
      assert.match(t.stdout, /\nhost-a +steady +running/);
      const early = new Date(Date.parse(since) + 1000).toISOString();
      const before = await boxes[0]!.upk(['status', '--at', early, '--fleet', '--host', HOSTS[0]!]);
      assert.equal(before.code, 0, before.stderr);
      assert.match(before.stderr, /^upk: warning: host-a: .*before/m);
      // Errors: no --at, a name no host had, an unknown host, --hosts with --fleet, a time to come.
      const errors: [string[], number][] = [
        [['status', '--fleet'], 2],
        [['status', 'nosuch', '--at', at, '--fleet'], 4],
        [['status', 'nosuch', '--at', at, '--fleet', '--host', HOSTS[0]!], 4],
        [['list', '--at', at, '--fleet', '--host', 'host-z'], 2],
        [['list', '--at', at, '--fleet', '--hosts', 'host-a'], 2],
        [['list', '--at', new Date(Date.now() + 3_600_000).toISOString(), '--fleet'], 2],
      ];
      for (const [args, code] of errors) {
        const r = await boxes[0]!.upk(args);
        assert.equal(r.code, code, `upk ${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      }
    });

    it("upk audit --fleet and upk config-history NAME --fleet: each host's own requests and changes; the union without --host", async () => {
      const byTime = (rows: Json[]): Json[] => [...rows].sort((a, b) => String(a.time).localeCompare(String(b.time)));
      const unionRequests: Json[] = [];
      const unionChanges: Json[] = [];
      for (const [i, box] of boxes.entries()) {
        const host = HOSTS[i]!;
        for (const filter of [[], ['--service', 'all'], ['--service', 'crashy'], ['--client', 'TEST', '--limit', '2']]) {
          const own = await json(box, ['audit', '--since', since, ...filter]);
          const fleet = await json(box, ['audit', '--fleet', '--host', host, '--since', since, ...filter]);
          assert.ok(own.length >= 2, `${host} audit ${filter.join(' ')}: the test's requests`);
          assert.deepEqual(byTime(bare(fleet)), byTime(bare(own)), `${host} audit ${filter.join(' ')}`);
          if (filter.length === 0) unionRequests.push(...fleet);
        }
        for (const name of ['flaky', 'crashy', 'quiet']) {
          const own = await json(box, ['config-history', name]);
          const fleet = await json(box, ['config-history', name, '--fleet', '--host', host]);
          assert.deepEqual(bare(fleet), bare(own), `${host} config-history ${name}`);
          if (name === 'flaky') {
            assert.deepEqual(
              (own.at(-1)!.values as Json[]).map((v) => v.key),
              ['ExecStart'],
              'the reload changed its command',
            );
            unionChanges.push(...fleet);
          }
        }
      }
      assert.deepEqual(byTime(await json(boxes[0]!, ['audit', '--fleet', '--since', since, '--limit', '10000'])), byTime(unionRequests));
      assert.deepEqual(byTime(await json(boxes[0]!, ['config-history', 'flaky', '--fleet'])), byTime(unionChanges));
      const table = await boxes[0]!.upk(['audit', '--fleet', '--since', since]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^HOST\s+TIME\s+CLIENT\s+PID\s+USER\s+REQUEST\s+SERVICE/);
      const text = await boxes[0]!.upk(['config-history', 'flaky', '--fleet']);
      assert.match(
        text.stdout,
        /  host-b  changed \(reload\).*\n  - ExecStart: "sleep 1000"\n  \+ ExecStart: "sh -c 'sleep 0.05; exit 4'"\n/,
      );
    });

    it("upk timeline --fleet --host H: the host's own timeline, in the same bursts", async () => {
      /** An entry without its host and its record's id; entries in one order (two of one millisecond may come in either). */
      const entries = (t: Json): string[] =>
        (t.entries as Json[])
          .map(({ host: _h, ...e }) => {
            const record = (e.event ?? e.change ?? e.request) as Json;
            const { id: _i, host: _rh, ...rest } = record;
            return canonical({ ...e, [String(e.kind === 'event' ? 'event' : e.kind === 'config' ? 'change' : 'request')]: rest });
          })
          .sort();
      const union: Json[] = [];
      for (const [i, box] of boxes.entries()) {
        const host = HOSTS[i]!;
        for (const names of [[], ['flaky']]) {
          const args = ['timeline', ...names, '--since', since, '--until', until, '--limit', '10000', '--json'];
          const own = JSON.parse((await box.upk(args)).stdout) as Json;
          const r = await box.upk([...args, '--fleet', '--host', host]);
          assert.equal(r.code, 0, r.stderr);
          const fleet = JSON.parse(r.stdout) as Json;
          assert.ok((own.entries as Json[]).length > 10, `${host} ${names.join(' ')}: a timeline`);
          const [f, o] = [entries(fleet), entries(own)];
          assert.deepEqual(
            f,
            o,
            `${host} ${names.join(' ')}: the same entries; only the fleet's: ${f
              .filter((x) => !o.includes(x))
              .slice(0, 3)
              .join('\n')}; only the host's: ${o
              .filter((x) => !f.includes(x))
              .slice(0, 3)
              .join('\n')}`,
          );
          assert.deepEqual(fleet.bursts, own.bursts, `${host} ${names.join(' ')}: the same bursts`);
          assert.equal(fleet.truncated, false);
          if (names.length === 0) union.push(...(fleet.entries as Json[]));
        }
      }
      const all = JSON.parse(
        (await boxes[0]!.upk(['timeline', '--since', since, '--until', until, '--limit', '10000', '--json', '--fleet'])).stdout,
      ) as Json;
      assert.deepEqual(entries(all), entries({ entries: union }), 'the fleet: the union of the hosts');
      const cut = JSON.parse(
        (await boxes[0]!.upk(['timeline', '--since', since, '--until', until, '--limit', '5', '--json', '--fleet'])).stdout,
      ) as Json;
      assert.equal((cut.entries as Json[]).length, 5);
      assert.equal(cut.truncated, true);
      const text = await boxes[0]!.upk(['timeline', 'flaky', '--since', since, '--until', until, '--fleet', '--host', HOSTS[0]!]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /\n  \d\d:\d\d:\d\d\.\d{3}  host-a  flaky +configuration changed \(reload\): ExecStart\n/);
      const after = await boxes[0]!.upk(['timeline', '--fleet', '--after', '1-e-1']);
      assert.equal(after.code, 2, after.stderr);
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
      // --host names hosts the fleet knows: a typo, the ssh form or an empty list is refused (exit 2), not an empty answer.
      for (const hosts of ['nosuch', `me@${HOSTS[0]}`, '', ',']) {
        const r = await box.upk(['events', '--fleet', '--host', hosts]);
        assert.equal(r.code, 2, `--host ${JSON.stringify(hosts)}: ${r.stderr}`);
        assert.match(r.stderr, /--host: (the fleet database knows no host|no host named)/);
      }
      const many = await box.upk(['events', '--fleet', '--limit', '100001']);
      assert.equal(many.code, 2, many.stderr);
      assert.match(many.stderr, /limit: expected 1 to 100000/);
      // The password only in a password file (0600), as libpq finds it: no PGPASSWORD at all.
      const passFile = join(box.dir, 'pgpass');
      writeFileSync(passFile, `localhost:*:fleet:upkeeper:${pgdb.password}\n`, { mode: 0o600 });
      delete process.env['PGPASSWORD'];
      process.env['PGPASSFILE'] = passFile;
      try {
        const fromFile = await box.upk(['events', '--fleet', '--limit', '1', '--json']);
        assert.equal(fromFile.code, 0, fromFile.stderr);
      } finally {
        delete process.env['PGPASSFILE'];
        process.env['PGPASSWORD'] = pgdb.password;
      }
      const admin = await pgdb.connect();
      await admin.query('CREATE DATABASE empty');
      await admin.end();
      const empty = await box.upk(['--fleet-database', pgdb.url.replace('/fleet?', '/empty?'), 'events', '--fleet']);
      assert.equal(empty.code, 1, empty.stderr);
      assert.match(empty.stderr, /holds no fleet schema/);
      // A server that accepts and never answers: the connection's time limit (10 s), exit 8.
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as AddressInfo).port;
        const started = Date.now();
        const hung = await box.upk(['--fleet-database', `postgresql://upkeeper@127.0.0.1:${port}/fleet`, 'events', '--fleet'], 30_000);
        assert.equal(hung.code, 8, hung.stderr);
        assert.match(hung.stderr, /^upk: the fleet database postgresql:\/\/upkeeper@127\.0\.0\.1:\d+\/fleet: no answer in time/);
        assert.ok(Date.now() - started < 20_000, 'within the connection limit');
      } finally {
        silent.close();
      }
      const env = await box.upk(['events', '--fleet', '--limit', '1']);
      assert.equal(env.code, 0, env.stderr);
    });
  },
);
