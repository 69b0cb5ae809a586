// Hostile tests of the fleet's answers on rows written straight into a throwaway PostgreSQL (the fleet
// schema migrated as a controller migrates it): what hosts, names and times a fleet can hold, without
// controllers. `upk status --at --fleet` (libclient/fleet-status-at.ts) and `upk correlate --fleet`
// (libclient/fleet-correlate.ts); docs/fleet.md.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { migrateFleet } from '../../controller/fleet-migrations.js';
import type { UpkError } from '../../libclient/index.js';
import { FleetReader } from '../../libclient/index.js';
import { ThrowawayPostgres, postgresBin } from '../helpers/postgres.js';

const BIN = postgresBin();

describe('fleet answers on synthetic rows', { timeout: 120_000, skip: BIN === null ? 'no PostgreSQL server binaries' : false }, () => {
  let pgdb: ThrowawayPostgres;
  let admin: pg.Client;
  let fleet: FleetReader;
  const T0 = Date.now() - 3_600_000;

  /** A service added on `host` at `time` (its configuration change), with one event (its buddy's start) so the host is known. */
  const added = async (host: string, id: string, time = T0, uuid = randomUUID()): Promise<string> => {
    await admin.query(
      `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger, detail, config, keys)
       VALUES ($1, $2, $3, $4, $5, 'added', 'start', 'InitialState stopped', NULL, '[]')`,
      [host, randomUUID(), new Date(time), uuid, id],
    );
    await admin.query(
      `INSERT INTO events (host, buddy_instance, seq, time, service_uuid, service, type, pid, detail)
       VALUES ($1, $2, 1, $3, $4, $5, 'buddy_started', 4242, NULL)`,
      [host, randomUUID(), new Date(time + 10), uuid, id],
    );
    return uuid;
  };

  before(async () => {
    pgdb = await ThrowawayPostgres.create(BIN!);
    process.env['PGPASSWORD'] = pgdb.password;
    admin = await pgdb.connect();
    await migrateFleet(admin);
    await admin.query(`SELECT fleet_ensure_partition('events', $1), fleet_ensure_partition('events', now())`, [new Date(T0)]);
    await admin.query(`SELECT fleet_ensure_partition('runs', $1), fleet_ensure_partition('samples', $1)`, [new Date(T0)]);
    // h1 has a and b, h2 only b, h3 only a.
    await added('h1', 'a');
    await added('h1', 'b');
    await added('h2', 'b');
    await added('h3', 'a');
    fleet = await FleetReader.open(pgdb.url);
  });
  after(async () => {
    fleet?.close();
    await admin?.end();
    pgdb?.remove();
    delete process.env['PGPASSWORD'];
  });

  const names = (answers: { host: string; services: { name: string }[] }[]): string[] =>
    answers.map((a) => `${a.host}: ${a.services.map((s) => s.name).join(',')}`);

  it('status --at --fleet a b: each host with the services it had of those names (a host that had one of them is not left out)', async () => {
    const at = T0 + 60_000;
    // h1 had both, h3 only a: h3's a is the fleet's answer too (docs: "a host where no name meant a service then is left out").
    const some = await fleet.statusAt(at, { hosts: ['h1', 'h3'], names: ['a', 'b'] });
    assert.deepEqual(names(some), ['h1: a,b', 'h3: a']);
  });

  it('status --at --fleet a b over hosts where each name meant a service on some host: an answer, not "no service named"', async () => {
    const at = T0 + 60_000;
    let answer: string[] | string;
    try {
      answer = names(await fleet.statusAt(at, { hosts: ['h2', 'h3'], names: ['a', 'b'] }));
    } catch (err) {
      answer = `${(err as UpkError).code}: ${(err as Error).message}`;
    }
    assert.deepEqual(answer, ['h2: b', 'h3: a']);
  });

  it('status --at --fleet at the first and last times the CLI takes: no database error', async () => {
    const first = await fleet.statusAt('0000-01-01T00:00:00.000Z', { hosts: ['h1'] });
    assert.deepEqual(names(first), ['h1: ']);
    const justBefore = await fleet.statusAt(T0 - 1, { hosts: ['h1'] });
    assert.deepEqual(names(justBefore), ['h1: ']);
    const exactly = await fleet.statusAt(T0, { hosts: ['h1'] });
    assert.deepEqual(names(exactly), ['h1: a,b']);
  });

  it('after the documented retention of config_changes (fleet_delete_before), a service added long ago and running since is still listed', async () => {
    // h4's `old` was added 100 days ago and has run since: its buddy started an hour ago (as on its host, which lists it).
    const uuid = randomUUID();
    await admin.query(
      `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger, detail, config, keys)
       VALUES ('h4', $1, now() - interval '100 days', $2, 'old', 'added', 'start', 'InitialState running', NULL, '[]')`,
      [randomUUID(), uuid],
    );
    await admin.query(
      `INSERT INTO events (host, buddy_instance, seq, time, service_uuid, service, type, pid, detail)
       VALUES ('h4', $1, 1, $2, $3, 'old', 'buddy_started', 4343, NULL)`,
      [randomUUID(), new Date(T0 + 10), uuid],
    );
    const at = T0 + 60_000;
    assert.deepEqual(names(await fleet.statusAt(at, { hosts: ['h4'] })), ['h4: old'], 'before the retention');
    // docs/fleet.md: "retention is a DELETE by time (fleet_delete_before)" — the plain tables kept 30 days, say.
    await admin.query(`SELECT fleet_delete_before('config_changes', now() - interval '30 days')`);
    assert.deepEqual(names(await fleet.statusAt(at, { hosts: ['h4'] })), ['h4: old'], 'after it: the service an hour ago');
  });

  it("fleet_delete_before('config_changes'): of each service not removed by the cut, its newest change before it and its newest configuration stay", async () => {
    const row = async (service: string, days: number, change: string, config: boolean, uid = randomUUID()): Promise<string> => {
      await admin.query(
        `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger, detail, config, keys)
         VALUES ('h5', $1, now() - $2 * interval '1 day', md5('h5/' || $3)::uuid, $3, $4, 'reload', NULL, $5, '[]')`,
        [uid, days, service, change, config ? { id: service } : null],
      );
      return `${service} ${days} ${change}`;
    };
    const kept = [
      await row('s1', 90, 'changed', false), // the newest before the cut (a change recorded before the host's 007: no configuration)
      await row('s1', 100, 'added', true), // the newest that holds a configuration
      await row('s3', 50, 'changed', true),
      await row('s3', 10, 'changed', true), // after the cut
    ];
    await row('s1', 120, 'added', true);
    await row('s2', 100, 'added', true);
    await row('s2', 95, 'removed', false);
    await row('s3', 100, 'added', true);
    // In one millisecond an addition and a removal: the removal is the newest, whatever the uids.
    await admin.query(
      `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger, config, keys)
       VALUES ('h5', '00000000-0000-0000-0000-000000000001', now() - interval '60 days', md5('h5/s4')::uuid, 's4', 'removed', 'reload', NULL, '[]'),
              ('h5', 'ffffffff-0000-0000-0000-000000000001', now() - interval '60 days', md5('h5/s4')::uuid, 's4', 'added', 'reload', '{}', '[]')`,
    );
    await admin.query(`SELECT fleet_delete_before('config_changes', now() - interval '30 days')`);
    const left = await admin.query<{ r: string }>(
      `SELECT service || ' ' || round(extract(epoch FROM now() - time) / 86400) || ' ' || change AS r FROM config_changes WHERE host = 'h5' ORDER BY service, time`,
    );
    assert.deepEqual(left.rows.map((r) => r.r).sort(), kept.sort());
  });

  it('correlate --all --fleet: 500 services are answered, 501 refused (BAD_REQUEST), in bounded time', async () => {
    await admin.query(
      `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger, detail, config, keys)
       SELECT 'big', gen_random_uuid(), $1, gen_random_uuid(), 's' || i, 'added', 'start', NULL, NULL, '[]' FROM generate_series(1, 499) i`,
      [new Date(T0)],
    );
    await added('big', 's500');
    const started = Date.now();
    const r = await fleet.correlate({ hosts: ['big'], since: new Date(T0 - 1000).toISOString() });
    assert.equal(r.correlations.length, 0);
    assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
    await added('big', 's501');
    await assert.rejects(
      fleet.correlate({ hosts: ['big'], since: new Date(T0 - 1000).toISOString() }),
      (err: UpkError) => err.code === 'BAD_REQUEST',
    );
  });

  it('status --at --fleet over a host of 501 services: answered in bounded time', async (t) => {
    const started = Date.now();
    const [answer] = await fleet.statusAt(T0 + 60_000, { hosts: ['big'] });
    const ms = Date.now() - started;
    t.diagnostic(`501 services in ${ms} ms`);
    assert.equal(answer!.services.length, 501);
    assert.ok(ms < 30_000, `${ms} ms`);
  });

  it('status --at --fleet --host h1,h1: one answer for h1 (as correlate takes the hosts once), an unknown host refused as correlate refuses it', async () => {
    const at = T0 + 60_000;
    assert.deepEqual(names(await fleet.statusAt(at, { hosts: ['h1', 'h1'] })), ['h1: a,b']);
    await assert.rejects(fleet.statusAt(at, { hosts: ['nosuch'] }), (err: UpkError) => err.code === 'BAD_REQUEST');
  });

  it('a fleet database without migrations 006 and 007 (their indexes): the same answers', async () => {
    const at = T0 + 60_000;
    const ask = { hosts: ['h1', 'h2', 'h3'], since: new Date(T0 - 1000).toISOString(), until: new Date(T0 + 120_000).toISOString() };
    const before = [await fleet.statusAt(at, { hosts: ['h1', 'h2'] }), await fleet.correlate(ask)];
    await admin.query('DROP INDEX events_anchors, runs_by_host_service_ended, events_health');
    await admin.query('DELETE FROM fleet_schema_migrations WHERE version >= 6');
    assert.deepEqual([await fleet.statusAt(at, { hosts: ['h1', 'h2'] }), await fleet.correlate(ask)], before);
  });

  it('status --at --fleet with names and hosts meant as SQL: parameters, nothing executed', async () => {
    const evil = ["a'; DROP TABLE events; --", 'b" OR 1=1 --'];
    await assert.rejects(
      fleet.statusAt(T0 + 1000, { hosts: ["h1' OR '1'='1"], names: evil }),
      (err: UpkError) => err.code === 'BAD_REQUEST' && /knows no host/.test(err.message),
    );
    await assert.rejects(fleet.statusAt(T0 + 1000, { hosts: ['h1'], names: evil }), (err: UpkError) => err.code === 'NO_SUCH_SERVICE');
    assert.equal((await admin.query(`SELECT to_regclass('events')::text AS t`)).rows[0].t, 'events');
  });
});
