// Restarts under load: a real HTTP server restarted RESTARTS times while a bounded client sends RATE
// requests a second, each on a connection of its own; what failed (refused, reset, timed out) and the
// worst latency. One row per way of restarting: upkeeper without Listen (the server binds its port
// itself), with Listen (the buddy's holder keeps the socket), with Listen and RestartMode overlap (the
// new run starts beside the old one, which drains once the new one is ready), and PM2's `pm2 restart` of the same server when PM2 is installed (../shared/bench's
// setup.sh puts it in $BENCH_TMP/pm2; BENCH_PM2_DIR overrides).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { max, percentile, sleep, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

/** Answers every request; at SIGTERM stops accepting, finishes what it accepted, and exits. */
const SERVER = `
const http = require('http');
const server = http.createServer((req, res) => res.end('ok'));
if (process.env.LISTEN_FDS) server.listen({ fd: 3 });
else server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
});
`;

interface LoadResult {
  sent: number;
  failed: number;
  /** What the failures were: error code → count. */
  errors: Map<string, number>;
  latencies: number[];
}

/** RATE requests a second (at most 500 at once) until `until` settles; each its own connection. */
async function load(port: number, rate: number, until: Promise<unknown>): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, failed: 0, errors: new Map(), latencies: [] };
  const inFlight = new Set<Promise<void>>();
  let done = false;
  void until.finally(() => (done = true));
  const fail = (code: string): void => {
    result.failed += 1;
    result.errors.set(code, (result.errors.get(code) ?? 0) + 1);
  };
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          result.latencies.push(performance.now() - t0);
          if (res.statusCode !== 200) fail(`HTTP ${res.statusCode}`);
          resolve();
        });
        res.on('error', (err: NodeJS.ErrnoException) => {
          fail(err.code ?? 'error');
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => {
        result.latencies.push(performance.now() - t0);
        fail(err.code ?? 'error');
        resolve();
      });
      req.end();
    });
  const tickMs = 10;
  const perTick = rate / (1000 / tickMs);
  let owed = 0;
  while (!done) {
    owed += perTick;
    while (owed >= 1 && inFlight.size < 500) {
      owed -= 1;
      result.sent += 1;
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(tickMs);
  }
  await Promise.all(inFlight);
  return result;
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Restart RESTARTS times under load; the figures of one row. */
async function measure(label: string, port: number, restarts: number, rate: number, restartOnce: () => Promise<void>): Promise<Figure[]> {
  let resolveUntil: () => void = () => undefined;
  const until = new Promise<void>((resolve) => (resolveUntil = resolve));
  const loading = load(port, rate, until);
  try {
    await sleep(1000); // load first, then the restarts
    for (let i = 0; i < restarts; i++) {
      await restartOnce();
      await sleep(300);
    }
    await sleep(1000);
  } finally {
    resolveUntil(); // (a failed restart ends the load too)
  }
  const r = await loading;
  const n = `${r.sent} requests, ${restarts} restarts`;
  const why = [...r.errors].map(([code, count]) => `${count} ${code}`).join(', ');
  return [
    { label: `${label}: failed requests`, value: r.failed, unit: '', n: why ? `${n}; ${why}` : n },
    { label: `${label}: worst latency`, value: max(r.latencies), unit: 'ms', n },
    { label: `${label}: p99 latency`, value: percentile(r.latencies, 99), unit: 'ms', n },
  ];
}

/** One upkeeper row: the server as a service (with or without Listen; overlap: RestartMode overlap), restarted by the client. */
function upkRow(label: string, how: 'plain' | 'listen' | 'overlap', restarts: number, rate: number): Promise<Figure[]> {
  const listen = how !== 'plain';
  return withSandbox(how === 'plain' ? 'zdp' : how === 'listen' ? 'zdl' : 'zdo', async (sandbox: Sandbox) => {
    const port = await freePort();
    writeFileSync(join(sandbox.dir, 'server.js'), SERVER);
    sandbox.writeConfig();
    sandbox.writeServices({
      web: {
        ExecStart: [process.execPath, join(sandbox.dir, 'server.js')],
        Environment: { PORT: String(port) },
        ...(listen ? { Listen: [`tcp:127.0.0.1:${port}`] } : {}),
        ...(how === 'overlap' ? { RestartMode: 'overlap' } : {}),
        MinUptime: 0.3,
        KillTimeout: 5,
        InitialState: 'running',
      },
    });
    await sandbox.startController();
    const client = await sandbox.connect();
    try {
      for (let i = 0; i < 100 && (await client.status('web'))[0]?.state !== 'running'; i++) await sleep(100);
      return await measure(label, port, restarts, rate, async () => {
        const [outcome] = await client.restart('web');
        if (outcome && !outcome.ok) throw new Error(`restart failed: ${outcome.message}`);
      });
    } finally {
      client.close();
    }
  });
}

/** PM2's row: the same server as a fork-mode app, `pm2 restart` each time (PM2_HOME of its own). */
async function pm2Row(pm2Bin: string, restarts: number, rate: number): Promise<Figure[]> {
  const dir = join(tmpdir(), `upkb-pm2-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  writeFileSync(join(dir, 'server.js'), SERVER);
  const env = { ...process.env, PM2_HOME: join(dir, 'home'), PORT: String(port) };
  const pm2 = (args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [pm2Bin, ...args], { env, cwd: dir, stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pm2 ${args.join(' ')}: exit ${code}`))));
    });
  try {
    await pm2(['start', join(dir, 'server.js'), '--name', 'web', '--kill-timeout', '5000']);
    await sleep(1500);
    return await measure('PM2 (pm2 restart, fork mode)', port, restarts, rate, () => pm2(['restart', 'web']));
  } finally {
    await pm2(['kill']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const zeroDowntime: Benchmark = {
  name: 'zero-downtime',
  title: 'Restarts under load: failed requests and worst latency',
  run: async (ctx) => {
    const restarts = ctx.quick ? 5 : 20;
    const rate = 300;
    const figures: Figure[] = [];
    figures.push(...(await upkRow('upk restart, no Listen', 'plain', restarts, rate)));
    figures.push(...(await upkRow('upk restart, Listen', 'listen', restarts, rate)));
    figures.push(...(await upkRow('upk restart, Listen, RestartMode overlap', 'overlap', restarts, rate)));
    const pm2Dir = process.env.BENCH_PM2_DIR ?? join(process.env.BENCH_TMP ?? join(tmpdir(), 'bench'), 'pm2');
    const pm2Bin = join(pm2Dir, 'node_modules/pm2/bin/pm2');
    if (existsSync(pm2Bin)) figures.push(...(await pm2Row(pm2Bin, restarts, rate)));
    else ctx.note(`PM2 not found at ${pm2Bin} (../shared/bench/setup.sh installs it): no PM2 row`);
    ctx.note(
      `a Node HTTP server (graceful at SIGTERM), ${rate} requests a second each on its own connection, ${restarts} restarts 0.3 s apart`,
    );
    return figures;
  },
};
