// Hostile tests of `upk status --at --fleet` and `upk correlate --fleet` (docs/fleet.md): one host
// (FleetHost with a '/') exports to a throwaway PostgreSQL through a history meant to tell the fleet's
// answer apart from the host's own: buddies SIGKILLed (adopting), the controller SIGKILLed, reloads
// that remove services (one slow to stop), shrink Instances, change a UUID; a package service, a health
// check, a scheduled job, a description the fleet cannot store as it is. Then each claim of equality
// is checked: the host's own answer against the fleet's.
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FleetReader, type Client, type FailureStory } from '../../libclient/index.js';
import { canonical, exported } from '../helpers/fleet-compare.js';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';

const BIN = postgresBin();
const HOST = 'rack1/h-a';
const FIXED = '6d1f3a8e-2b4c-4e7a-9f10-0a1b2c3d4e5f';
const FIXED_FAST = '0b9e7c52-81d4-4f3a-a6e2-5c4d3b2a1f00';

type Json = Record<string, unknown>;

/** The first field that differs between two JSON values (a path), for the message. */
function firstDiff(a: unknown, b: unknown, path = ''): string | null {
  if (canonical(a) === canonical(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDiff((a as Json)[k], (b as Json)[k], `${path}.${k}`);
      if (d !== null) return d;
    }
  }
  return `${path}: host ${JSON.stringify(a)?.slice(0, 200)} / fleet ${JSON.stringify(b)?.slice(0, 200)}`;
}

describe(
  'fleet hostile 2: status --at --fleet and correlate --fleet against the host',
  {
    timeout: 420_000,
    skip: BIN === null ? 'no PostgreSQL server binaries' : false,
  },
  () => {
    let pgdb: ThrowawayPostgres;
    let box: Sandbox;
    let client: Client;
    let until = 0;
    let since = 0;
    const flag = (): string => box.file('unwell');

    const services = (phase: 1 | 2 | 3): Record<string, Record<string, unknown>> => ({
      crashy: {
        ExecStart: "sh -c 'sleep 0.1; exit 3'",
        InitialState: 'running',
        MinUptime: 0.5,
        UserRateLimit: 0.1,
        MaxConsecutiveFailures: 4,
      },
      steady: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2, ...(phase >= 2 ? { UUID: FIXED } : {}) },
      web: {
        ExecStart: "sh -c 'sleep 1.2; exit 1'",
        InitialState: 'running',
        MinUptime: 0.5,
        UserRateLimit: 0.1,
        UserMaxRestarts: -1,
        Instances: phase >= 2 ? 2 : 3,
      },
      'pkg::svc': { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2 },
      hc: {
        ExecStart: 'sleep 1000',
        InitialState: 'running',
        MinUptime: 0.2,
        HealthCheck: `test ! -f ${flag()}`,
        HealthInterval: 0.3,
        HealthRetries: 1,
        HealthAction: 'restart',
      },
      job: { ExecStart: 'true', Type: 'oneshot', Schedule: '@every 1s', InitialState: 'running' },
      odd: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2, ShortDescription: 'an odd one' },
      ...(phase === 1
        ? { gone: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2, UnconfigureOnFileRemoval: true } }
        : {}),
      ...(phase === 2
        ? {}
        : {
            fast: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.2, UnconfigureOnFileRemoval: true, UUID: FIXED_FAST },
            slow: {
              ExecStart: 'sh -c \'trap "" TERM; while :; do sleep 0.1; done\'',
              InitialState: 'running',
              MinUptime: 0.2,
              KillTimeout: 3,
              UnconfigureOnFileRemoval: true,
            },
          }),
    });

    const caughtUp = (): Promise<void> => exported(box, pgdb, HOST, ['samples', 'config_changes']);

    before(async () => {
      pgdb = await ThrowawayPostgres.create(BIN!);
      process.env['PGPASSWORD'] = pgdb.password;
      since = Date.now() - 1000;
      box = new Sandbox('fh2', { FleetDatabase: pgdb.url, FleetHost: HOST });
      box.writeServices(services(1));
      await box.startController();
      client = await box.client();
      await box.waitFor('crashy gave up', async () => (await client.status('crashy'))[0]?.state === 'failed', 30_000);
      await box.waitForState('slow', 'running');
      // The health check fails (restarts), then passes.
      writeFileSync(flag(), '');
      await box.waitFor('hc unhealthy', () => box.events('hc').some((e) => e.type === 'unhealthy'), 15_000);
      rmSync(flag());
      // steady's buddy SIGKILLed: a new one adopts it.
      const [steady] = await client.status('steady');
      process.kill(steady!.buddyPid!, 'SIGKILL');
      await box.waitFor(
        'a new buddy of steady',
        async () => {
          const [s] = await client.status('steady');
          return s?.state === 'running' && s.buddyPid !== null && s.buddyPid !== steady!.buddyPid;
        },
        15_000,
      );
      // pkg::svc's buddy and its process SIGKILLed: a new buddy starts it afresh (no adoption).
      const [svc] = await client.status('pkg::svc');
      process.kill(svc!.buddyPid!, 'SIGKILL');
      process.kill(svc!.pid!, 'SIGKILL');
      await box.waitFor(
        'pkg::svc started again by a new buddy',
        async () => {
          const [s] = await client.status('pkg::svc');
          return s?.state === 'running' && s.pid !== svc!.pid && s.buddyPid !== svc!.buddyPid;
        },
        15_000,
      );
      // The controller SIGKILLed; while none runs, odd's buddy is SIGKILLed too; then it starts again.
      const [odd] = await client.status('odd');
      process.kill(client.controller.pid, 'SIGKILL');
      await sleep(300);
      process.kill(odd!.buddyPid!, 'SIGKILL');
      await sleep(1200);
      await box.startController();
      client = await box.client();
      await sleep(1000);
      // A reload: fast and slow removed (slow takes its KillTimeout to stop), web from 3 instances to 2,
      // steady given a fixed UUID (a new identity under its id).
      box.writeServices(services(2));
      const r = await box.upk(['reload-config'], 60_000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      await sleep(1500);
      // fast and slow again.
      box.writeServices(services(3));
      const r2 = await box.upk(['reload-config'], 60_000);
      assert.equal(r2.code, 0, r2.stdout + r2.stderr);
      await box.waitForState('fast', 'running');
      await sleep(2500);
      until = Date.now() - 100;
      await caughtUp();
    });

    after(async () => {
      await box?.cleanup();
      pgdb?.remove();
      delete process.env['PGPASSWORD'];
    });

    it("status --at --fleet: the host's own statuses at every moment (buddy and controller SIGKILLs, health, job, package, instances), the removals a reload records after stopping them too", async () => {
      const fleet = await FleetReader.open(pgdb.url);
      const db = box.db();
      const times = (
        db
          .prepare(
            `SELECT time FROM events UNION SELECT time FROM config_changes UNION SELECT removed FROM services WHERE removed IS NOT NULL
             UNION SELECT created FROM services ORDER BY 1`,
          )
          .all() as { time: number }[]
      ).map((r) => r.time);
      db.close();
      const moments = [...new Set(times.flatMap((t) => [t - 1, t, t + 1, t + 300]))].filter((m) => m <= until).sort((a, b) => a - b);
      const problems: string[] = [];
      let compared = 0;
      try {
        for (const m of moments) {
          const own = await client.statusAt(m);
          const [theirs] = await fleet.statusAt(m, { hosts: [HOST] });
          const a = own.services.map((s) => s.name);
          const b = theirs!.services.map((s) => s.name);
          if (canonical(a) !== canonical(b)) {
            problems.push(`${new Date(m).toISOString()}: services: host ${a.join(',')} / fleet ${b.join(',')}`);
            continue;
          }
          for (const [i, s] of own.services.entries()) {
            const d = firstDiff(s, theirs!.services[i]);
            if (d !== null) problems.push(`${new Date(m).toISOString()}: ${s.name}${d}`);
            compared++;
          }
        }
      } finally {
        fleet.close();
      }
      assert.ok(compared > 3000, `${compared} statuses compared at ${moments.length} moments`);
      assert.equal(
        problems.length,
        0,
        `${problems.length} differences over ${moments.length} moments:\n${problems.slice(0, 20).join('\n')}`,
      );
    });

    it("upk list --at T --fleet --host 'rack1/h-a' --json: the host's own upk list --at T --json", async () => {
      const at = new Date(until - 2000).toISOString();
      const own = await box.upk(['list', '--at', at, '--json']);
      const theirs = await box.upk(['list', '--at', at, '--fleet', '--host', HOST, '--json']);
      assert.equal(theirs.code, 0, theirs.stderr);
      const [answer] = JSON.parse(theirs.stdout) as { host: string; services: Json[] }[];
      assert.equal(answer!.host, HOST);
      assert.equal(canonical(answer!.services), canonical(JSON.parse(own.stdout) as Json[]));
    });

    it('status --at a moment ago lists the services upk list lists (fast, removed and added again with its UUID, too)', async () => {
      const now = (await client.list()).map((s) => s.name).sort();
      const own = (await client.statusAt(Date.now() - 50)).services.map((s) => s.name).sort();
      const fleet = await FleetReader.open(pgdb.url);
      try {
        const [theirs] = await fleet.statusAt(until, { hosts: [HOST] });
        assert.deepEqual(own, now, 'the host');
        assert.deepEqual(theirs!.services.map((s) => s.name).sort(), now, 'the fleet');
      } finally {
        fleet.close();
      }
    });

    it('a reload removing two services, one slow to stop: the other is gone then on the host, and in the fleet too', async () => {
      const db = box.db();
      const gone = db.prepare(`SELECT removed FROM services WHERE name = 'gone'`).get() as { removed: number };
      const change = db.prepare(`SELECT time FROM config_changes WHERE service = 'gone' AND change = 'removed'`).get() as { time: number };
      db.close();
      assert.ok(change.time - gone.removed > 1000, `removed at ${gone.removed}, the change recorded at ${change.time}`);
      const at = gone.removed + 500;
      const own = (await client.statusAt(at)).services.map((s) => s.name);
      const fleet = await FleetReader.open(pgdb.url);
      try {
        const [theirs] = await fleet.statusAt(at, { hosts: [HOST] });
        assert.deepEqual(
          theirs!.services.map((s) => s.name),
          own,
          `at ${new Date(at).toISOString()}`,
        );
      } finally {
        fleet.close();
      }
    });

    /** The host's answer and the fleet's to one correlate question (an error as its text). */
    const both = async (fleet: FleetReader, ask: Json, name: string | undefined): Promise<[unknown, unknown]> => {
      const own = await client.correlate({ ...ask, ...(name ? { service: name } : {}) }).catch((err: Error) => `error: ${err.message}`);
      const theirs = await fleet
        .correlate({ ...ask, ...(name ? { service: name, host: HOST } : { hosts: [HOST] }) })
        .catch((err: Error) => `error: ${err.message}`);
      return [own, theirs];
    };

    it("correlate --fleet: each service's answer is the host's own (a removed, a renamed identity, instances), and the pairs; HOST/NAME with a '/' in the host", async () => {
      const fleet = await FleetReader.open(pgdb.url);
      const problems: string[] = [];
      try {
        const names = [...new Set((await client.statusAt(until)).services.map((s) => s.name)), 'web@3', 'fast', 'slow', 'gone'];
        for (const [window, failures, limit] of [
          [1, 1, 1],
          [1000, 100, 20],
          [30_000, 3, 1000],
          [86_400_000, 10_000, 1000],
        ] as const) {
          const ask = { window, failures, limit, since: new Date(since).toISOString(), until: new Date(until).toISOString() };
          for (const name of [...names, undefined]) {
            const [own, theirs] = await both(fleet, ask, name);
            const d = firstDiff(own, theirs);
            if (d !== null) problems.push(`${name ?? '--all'} window ${window}: ${d}`);
          }
          const viaName = await fleet.correlate({ ...ask, service: `${HOST}/web@1` });
          assert.deepEqual(viaName, await fleet.correlate({ ...ask, service: 'web@1', host: HOST }), 'HOST/NAME');
        }
      } finally {
        fleet.close();
      }
      assert.equal(problems.length, 0, problems.slice(0, 20).join('\n'));
      for (const name of ['crashy', 'hc', 'gone']) {
        const own = await box.upk(['why', name, '--json']);
        const theirs = await box.upk(['why', name, '--json', '--fleet', '--host', HOST]);
        assert.equal(theirs.code, 0, theirs.stderr);
        assert.deepEqual(
          (JSON.parse(theirs.stdout) as FailureStory).failure?.correlated,
          (JSON.parse(own.stdout) as FailureStory).failure?.correlated,
          `why ${name}: Together`,
        );
      }
    });

    it("correlate web --fleet (a service with Instances, one dropped since): the host's own answer", async () => {
      const fleet = await FleetReader.open(pgdb.url);
      try {
        const ask = { window: 1000, since: new Date(since).toISOString(), until: new Date(until).toISOString() };
        const [own, theirs] = await both(fleet, ask, 'web');
        assert.deepEqual(theirs, own, firstDiff(own, theirs) ?? '');
      } finally {
        fleet.close();
      }
    });
  },
);
