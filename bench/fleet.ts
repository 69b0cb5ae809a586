// The fleet (docs/fleet.md): the export into PostgreSQL (its rate, and the catch-up after a 10-minute
// outage at 1,000 events/s), and `upk --host list` through a real sshd against a local `upk list`.
// Needs Debian's PostgreSQL server binaries and openssh-server; a part whose programs are missing is
// skipped with a note. PostgreSQL is a throwaway cluster (test/helpers/postgres.ts) on a Unix socket.
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { AuditStore, type EventBatch } from '../controller/audit-store.js';
import { FleetExport } from '../controller/fleet-export.js';
import { FleetSink } from '../controller/fleet-sink.js';
import { createLogger } from '../controller/log.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { formatIssue, loadControllerConfig, loadServices } from '../schema/config/index.js';
import type { BuddyEvent } from '../schema/records.js';
import { FleetReader } from '../libclient/fleet-queries.js';
import { ThrowawayPostgres, postgresBin } from '../test/helpers/postgres.js';
import { Sandbox as TestSandbox, UPK, run } from '../test/helpers/sandbox.js';
import { SSHD, TestSshd } from '../test/helpers/sshd.js';
import { manyServices, median, sleep, withSandbox, type Sandbox } from './harness.js';
import type { BenchContext, Benchmark, Figure } from './report.js';

const SERVICES = 20;
/** The outage: 10 minutes at 1,000 events/s. */
const OUTAGE_S = 600;
const RATE = 1000;
/** The writes go on at RATE while the exporter catches up, a poll round every 100 ms. */
const TICK_MS = 100;

export const fleet: Benchmark = {
  name: 'fleet',
  title: 'The fleet: export into PostgreSQL, and upk --host through ssh',
  async run(ctx) {
    const figures: Figure[] = [];
    const bin = postgresBin();
    if (bin === null) ctx.note('skipped the export and the fleet queries: no PostgreSQL server binaries (apt-get install postgresql)');
    else {
      figures.push(...(await withSandbox('fleet', (sandbox) => catchUp(ctx, sandbox, bin))));
      figures.push(...(await fleetQueries(ctx, bin)));
    }
    if (!existsSync(SSHD)) ctx.note(`skipped upk --host: ${SSHD} is missing (apt-get install openssh-server)`);
    else figures.push(...(await roundTrip(ctx)));
    return figures;
  },
};

/**
 * A host's database with what a 10-minute outage at 1,000 events/s leaves unexported (the events
 * of crash loops, so their runs too), then the exporter started while the writes go on at 1,000
 * events/s: the time until it is caught up. The outage is not waited for: its backlog is written
 * beforehand, with the times it would have had.
 */
async function catchUp(ctx: BenchContext, sandbox: Sandbox, bin: string): Promise<Figure[]> {
  const outageS = ctx.quick ? 60 : OUTAGE_S;
  sandbox.writeConfig();
  sandbox.writeServices(manyServices(SERVICES));
  const { config, issues } = loadControllerConfig({ config: sandbox.configFile, env: process.env });
  if (!config) throw new Error(issues.map(formatIssue).join('\n'));
  const loaded = loadServices(config, process.env);
  const pg = await ThrowawayPostgres.create(bin);
  const store = new AuditStore(join(sandbox.dir, STATE_DIR.database));
  const env = { ...process.env, PGPASSWORD: pg.password };
  const exporter = new FleetExport({
    source: store.fleetSource(),
    target: new FleetSink(pg.url, env),
    host: 'bench-host',
    where: 'the throwaway cluster',
    url: pg.url,
    log: createLogger({ write: () => undefined }),
    problem: (message) => {
      if (message !== null) ctx.note(`problem: ${message}`);
    },
  });
  let writer: NodeJS.Timeout | null = null;
  try {
    const buddies = loaded.services.map((svc, i) => {
      const serviceUuid = store.upsertService(svc).uuid;
      const instance = randomUUID();
      return { serviceUuid, service: svc.id, instance, buddyId: store.buddyId(instance, serviceUuid, 100_000 + i, Date.now()), seq: 0 };
    });
    /** One poll round's events (`count` in all, spread over the buddies), at `time`. */
    const round = (count: number, time: number): void => {
      const per = Math.max(1, Math.round(count / buddies.length));
      store.insertEvents(
        buddies.map((b): EventBatch => ({
          serviceUuid: b.serviceUuid,
          service: b.service,
          instance: b.instance,
          buddyId: b.buddyId,
          events: crashLoopEvents(b, per, time),
        })),
      );
    };
    const backlog = outageS * RATE;
    const start = Date.now() - outageS * 1000;
    for (let t = 0; t < outageS * 1000; t += TICK_MS) round((RATE * TICK_MS) / 1000, start + t);
    // The database's id, as the exporter will find it (the first open() creates the schema).
    const probe = new FleetSink(pg.url, env);
    const databaseId = await probe.open();
    await probe.close();
    const source = store.fleetSource();
    const behind = (table: 'events' | 'runs'): number => source.newest(table) - source.position(table, databaseId);
    ctx.note(`backlog: ${store.fleetSource().newest('events').toLocaleString('en-US')} events (${outageS} s at ${RATE}/s) and their runs`);

    const began = performance.now();
    exporter.start();
    let written = 0;
    writer = setInterval(() => {
      round((RATE * TICK_MS) / 1000, Date.now());
      written += (RATE * TICK_MS) / 1000;
    }, TICK_MS);
    // Caught up: the events and runs left behind are less than one batch, while the writes go on.
    for (;;) {
      await sleep(50);
      if (behind('events') < 1000 && behind('runs') < 1000) break;
      if (performance.now() - began > 30 * 60_000) throw new Error('not caught up in 30 minutes');
    }
    const ms = performance.now() - began;
    clearInterval(writer);
    writer = null;
    const exported = Object.values(exporter.stats.exported).reduce((a, b) => a + b, 0);
    ctx.note(
      `caught up in ${(ms / 1000).toFixed(1)} s while ${written.toLocaleString('en-US')} more events were written; ` +
        `${exported.toLocaleString('en-US')} rows exported (events, runs) in ${exporter.stats.batches} batches`,
    );
    const [events] = await pg.query<{ n: string; ms: string }>(
      'SELECT count(*) AS n, extract(epoch FROM max(exported) - min(exported)) * 1000 AS ms FROM events',
    );
    return [
      {
        label: `catch-up after a ${outageS / 60}-minute outage at ${RATE} events/s, writes going on`,
        value: ms / 1000,
        unit: 's',
        n: `${backlog.toLocaleString('en-US')} events behind, 1 run`,
      },
      {
        label: 'export rate during the catch-up (events, with their runs)',
        value: (Number(events!.n) * 1000) / Number(events!.ms),
        unit: 'events/s',
        n: `${Number(events!.n).toLocaleString('en-US')} events`,
      },
    ];
  } finally {
    if (writer) clearInterval(writer);
    await exporter.stop();
    store.close();
    pg.remove();
  }
}

/** `count` events of a crash loop: spawned, exited, spawned, … each at `time`. */
function crashLoopEvents(buddy: { seq: number }, count: number, time: number): BuddyEvent[] {
  return Array.from({ length: count }, (_, i): BuddyEvent => {
    const seq = ++buddy.seq;
    return i % 2 === 0
      ? { seq, time, type: 'spawned', pid: 200_000 + (seq % 100_000) }
      : { seq, time, type: 'exited', pid: 200_000 + ((seq - 1) % 100_000), code: 1, signal: null, detail: { uptimeMs: 3 } };
  });
}

/** `ssh benchhost true`: what a new ssh connection alone costs. */
async function timeSsh(config: string, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const r = spawnSync('ssh', ['-F', config, 'benchhost', 'true'], { stdio: 'ignore', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`ssh benchhost true: exit ${r.status}`);
    if (i > 0) times.push(performance.now() - t0);
  }
  return times;
}

/** `upk --host H list` through a real sshd on 127.0.0.1, from process start to exit, against `upk list` on the host. */
async function roundTrip(ctx: BenchContext): Promise<Figure[]> {
  const runs = ctx.quick ? 3 : 10;
  const sshd = new TestSshd();
  const home = new TestSandbox('benchhost');
  home.writeServices(
    Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`svc${i}`, { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 }]),
    ),
  );
  try {
    await Promise.all([home.startController(), sshd.start()]);
    sshd.writeAliases({ benchhost: { config: home.configFile }, muxhost: { config: home.configFile } });
    // The same host through one ssh connection kept open (ControlMaster): what a user who asks many
    // hosts often would set in ~/.ssh/config (docs/fleet.md).
    const controlPath = join(sshd.dir, 'cm-%C');
    appendFileSync(
      sshd.sshConfig,
      `\nMatch originalhost muxhost\n  ControlMaster auto\n  ControlPath ${controlPath}\n  ControlPersist 60\n`,
    );
    // Node's start would be slowed by these in every process: the user's shell may have them.
    const clean = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
      const copy = { ...env };
      delete copy['NODE_OPTIONS'];
      delete copy['NODE_EXTRA_CA_CERTS'];
      return copy;
    };
    const time = async (args: string[], env: NodeJS.ProcessEnv): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const t0 = performance.now();
        const r = await run(process.execPath, [UPK, ...args], clean(env), 60_000);
        if (r.code !== 0) throw new Error(`upk ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
        if (i > 0) times.push(performance.now() - t0); // the first warms the caches
      }
      return times;
    };
    const remote = await time(['--host', 'benchhost', 'list'], sshd.env);
    const mux = await time(['--host', 'muxhost', 'list'], sshd.env);
    spawnSync('ssh', ['-F', sshd.sshConfig, '-O', 'exit', 'muxhost'], { stdio: 'ignore' });
    const bare = await timeSsh(sshd.sshConfig, runs);
    const local = await time(['list'], home.env);
    const rc = performance.now();
    spawnSync('bash', ['-c', '. ~/.bashrc'], { stdio: 'ignore', timeout: 60_000 });
    ctx.note(
      `10 services on the host; ssh to 127.0.0.1 (no network latency); the remote command runs in the account's shell, ` +
        `which reads ~/.bashrc: ${Math.round(performance.now() - rc)} ms here, in every figure through ssh`,
    );
    return [
      { label: 'upk --host H list, process start to exit, p50', value: median(remote), unit: 'ms', n: `${runs} runs` },
      { label: 'upk --host H list over a kept ssh connection (ControlMaster), p50', value: median(mux), unit: 'ms', n: `${runs} runs` },
      { label: 'ssh H true alone (a new connection), p50', value: median(bare), unit: 'ms', n: `${runs} runs` },
      { label: 'upk list on the host itself, p50', value: median(local), unit: 'ms', n: `${runs} runs` },
    ];
  } finally {
    await home.cleanup();
    await sshd.stop();
  }
}

/**
 * A fleet's history written straight into PostgreSQL: `events` events of 1,000 hosts × 10 services
 * over the last 30 days, as crash loops and restarts make them (a spawned and an exited event per
 * run, a third of the runs failed), and their runs. Returns the range it covers.
 */
export async function fleetHistory(pg: ThrowawayPostgres, events: number): Promise<{ from: Date; to: Date }> {
  const to = new Date();
  const from = new Date(to.getTime() - 30 * 86_400_000);
  const client = await pg.connect();
  try {
    const { migrateFleet } = await import('../controller/fleet-migrations.js');
    await migrateFleet(client);
    for (let t = from.getTime(); t <= to.getTime() + 31 * 86_400_000; t += 28 * 86_400_000)
      for (const table of ['events', 'runs'])
        await client.query('SELECT fleet_ensure_partition($1, $2)', [table, new Date(t).toISOString()]);
    const runs = Math.floor(events / 2);
    const span = to.getTime() - from.getTime();
    // Run r: host r % 1000, service (r / 1000) % 10, spread evenly over the 30 days, 3 s long.
    const RUN = `SELECT r, 'host-' || (r % 1000) AS host, 'svc' || ((r / 1000) % 10) AS service,
        md5('host-' || (r % 1000) || '/svc' || ((r / 1000) % 10))::uuid AS instance,
        md5('svc' || ((r / 1000) % 10))::uuid AS service_uuid,
        $1::timestamptz + (r::float8 * $2 / $3) * interval '1 millisecond' AS started
      FROM generate_series(0::bigint, $3 - 1) AS r`;
    const params = [from.toISOString(), span, runs];
    await client.query(
      `INSERT INTO runs (host, uid, started, service_uuid, service, buddy_instance, pid, cause, ended, outcome, code, signal, repaired)
       SELECT host, instance || ':' || (2 * r), started, service_uuid, service, instance, 1000 + r % 30000,
              CASE WHEN r % 50 = 0 THEN 'start' ELSE 'restart' END, started + interval '3 seconds',
              CASE WHEN r % 3 = 0 THEN 'failed' ELSE 'stopped' END, CASE WHEN r % 3 = 0 THEN 1 ELSE 0 END, NULL,
              CASE WHEN r % 3 = 0 THEN started + interval '4 seconds' END
       FROM (${RUN}) AS g`,
      params,
    );
    await client.query(
      `INSERT INTO events (host, buddy_instance, seq, time, service_uuid, service, type, pid, code, signal, detail)
       SELECT host, instance, 2 * r + k, started + k * interval '3 seconds', service_uuid, service,
              CASE WHEN k = 0 THEN 'spawned' ELSE 'exited' END, 1000 + r % 30000,
              CASE WHEN k = 1 THEN CASE WHEN r % 3 = 0 THEN 1 ELSE 0 END END, NULL,
              CASE WHEN k = 1 THEN '{"uptimeMs":3000}'::jsonb END
       FROM (${RUN}) AS g CROSS JOIN (VALUES (0), (1)) AS e (k)`,
      params,
    );
    // Each host's services as its start recorded them: what the fleet dates a service from.
    await client.query(
      `INSERT INTO config_changes (host, uid, time, service_uuid, service, change, trigger)
       SELECT 'host-' || h, gen_random_uuid(), $1, md5('svc' || v)::uuid, 'svc' || v, 'added', 'start'
       FROM generate_series(0, 999) AS h, generate_series(0, 9) AS v`,
      [from.toISOString()],
    );
    await client.query('ANALYZE');
    return { from, to };
  } finally {
    await client.end();
  }
}

/** The fleet's questions over `fleetHistory`: trends by host and by service, and one host's events, through FleetReader. */
async function fleetQueries(ctx: BenchContext, bin: string): Promise<Figure[]> {
  const events = ctx.quick ? 1_000_000 : 10_000_000;
  const runs = ctx.quick ? 3 : 5;
  const pg = await ThrowawayPostgres.create(bin);
  try {
    const t0 = performance.now();
    const { to } = await fleetHistory(pg, events);
    const [size] = await pg.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    ctx.note(
      `fleet history: ${events.toLocaleString('en-US')} events and ${(events / 2).toLocaleString('en-US')} runs of 1,000 hosts × 10 ` +
        `services over 30 days, written in ${((performance.now() - t0) / 1000).toFixed(0)} s; the database: ${size!.size}`,
    );
    const reader = await FleetReader.open(pg.url, { env: { ...process.env, PGPASSWORD: pg.password } });
    try {
      const day = 86_400_000;
      const ago = (ms: number): string => new Date(to.getTime() - ms).toISOString();
      const until = to.toISOString();
      const tenHosts = Array.from({ length: 10 }, (_, i) => `host-${i + 7}`);
      const asks: { label: string; ask: () => Promise<unknown> }[] = [
        {
          label: 'trend --fleet --by host: restarts per host this week (7 d, 1 d buckets)',
          ask: () => reader.trend({ metric: 'restarts', bucketMs: day, since: ago(7 * day), until, by: 'host' }),
        },
        {
          label: 'trend --fleet --by host: restarts per host over 30 d, 1 d buckets',
          ask: () => reader.trend({ metric: 'restarts', bucketMs: day, since: ago(30 * day), until, by: 'host' }),
        },
        {
          label: 'trend svc3 --fleet --by host: which hosts had svc3 fail last night (24 h, 1 h buckets)',
          ask: () => reader.trend({ metric: 'failures', bucketMs: 3_600_000, since: ago(day), until, by: 'host', services: ['svc3'] }),
        },
        {
          label: 'trend --fleet: failures of every host and service over 7 d, 1 d buckets (10,000 series)',
          ask: () => reader.trend({ metric: 'failures', bucketMs: day, since: ago(7 * day), until, by: 'host,service' }),
        },
        {
          label: 'trend --fleet --by service: uptime over 24 h, 1 h buckets',
          ask: () => reader.trend({ metric: 'uptime', bucketMs: 3_600_000, since: ago(day), until, by: 'service' }),
        },
        {
          label: 'trend --fleet --host H: failures of one host over 30 d, 1 d buckets',
          ask: () => reader.trend({ metric: 'failures', bucketMs: day, since: ago(30 * day), until, hosts: ['host-7'] }),
        },
        {
          label: 'events --fleet --host H --since 1d: the newest 100',
          ask: () => reader.events({ hosts: ['host-7'], since: ago(day), until }),
        },
        {
          label: 'events --fleet --type exited --since 1d: every host, the newest 100',
          ask: () => reader.events({ types: ['exited'], since: ago(day), until }),
        },
        {
          label: 'status --at T --fleet --host H: one host (10 services, each in a crash loop of 30 days) 12 h ago',
          ask: () => reader.statusAt(ago(day / 2), { hosts: ['host-7'] }),
        },
        {
          label: 'status --at T --fleet --host H1,…,H10: ten hosts (100 services) 12 h ago',
          ask: () => reader.statusAt(ago(day / 2), { hosts: tenHosts }),
        },
        {
          label: 'correlate svc3 --fleet --host H: one host, the last 7 d',
          ask: () => reader.correlate({ service: 'svc3', host: 'host-7', since: ago(7 * day), until }),
        },
        {
          label: 'correlate H/svc3 --fleet --host H1,…,H10: against 100 services of ten hosts, the last 7 d',
          ask: () => reader.correlate({ service: 'host-7/svc3', hosts: tenHosts, since: ago(7 * day), until }),
        },
      ];
      const figures: Figure[] = [];
      for (const { label, ask } of asks) {
        const times: number[] = [];
        for (let i = 0; i <= runs; i++) {
          const t = performance.now();
          await ask();
          if (i > 0) times.push(performance.now() - t); // the first warms PostgreSQL's caches
        }
        figures.push({
          label: `${label}, p50`,
          value: median(times),
          unit: 'ms',
          n: `${runs} runs, ${(events / 1e6).toFixed(0)} M events`,
        });
      }
      return figures;
    } finally {
      reader.close();
    }
  } finally {
    pg.remove();
  }
}
