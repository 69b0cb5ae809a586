// Health checks and limits on real programs: an HTTP server that starts answering 500 is restarted and
// `upk why` tells it; TCP and command checks; HealthAction none records only; an output check;
// ReadyCheck holds `starting`; a memory hog passes MaxMemory; a stale ActivityFile; checks go on while
// no controller runs, their events collected later; a CPU burner passes MaxCPU (after its 60 s window).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

/** A port nothing listens on now (the kernel's pick, closed again). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** An HTTP server on PORT that answers 200 to its first GOOD requests, then 500 (argv: port, good). */
const HTTP_SERVER = `
const [port, good] = process.argv.slice(2).map(Number);
let n = 0;
require('node:http').createServer((req, res) => {
  n += 1;
  res.writeHead(n <= good ? 200 : 500).end(n <= good ? 'ok' : 'broken');
}).listen(port, '127.0.0.1');
`;
/** A TCP server on PORT, listening after DELAY ms (argv: port, delay). */
const TCP_SERVER = `
const [port, delay] = process.argv.slice(2).map(Number);
setTimeout(() => require('node:net').createServer((s) => s.end()).listen(port, '127.0.0.1'), delay);
`;
/** Holds about 150 MiB, written so that it is resident. */
const HOG = `
const b = Buffer.alloc(150 * 1024 * 1024, 1);
setInterval(() => b[0]++, 1000);
`;

const detail = (e: { detail: string | null }): Record<string, unknown> => JSON.parse(e.detail ?? '{}') as Record<string, unknown>;

describe('health checks and limits', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let webPort: number;
  let tcpPort: number;
  let readyPort: number;
  before(async () => {
    box = new Sandbox('health');
    [webPort, tcpPort, readyPort] = [await freePort(), await freePort(), await freePort()];
    for (const [name, text] of [
      ['http.js', HTTP_SERVER],
      ['tcp.js', TCP_SERVER],
      ['hog.js', HOG],
    ])
      writeFileSync(box.file(name!), text!);
    const fast = { HealthInterval: 0.2, HealthTimeout: 1, MinUptime: 0.1, UserRateLimit: 0.2, InitialState: 'stopped' };
    box.writeServices({
      web: {
        ExecStart: [process.execPath, box.file('http.js'), String(webPort), '2'],
        HealthCheck: `http://127.0.0.1:${webPort}/health`,
        HealthExpect: 'ok',
        ...fast,
      },
      tcp: { ExecStart: [process.execPath, box.file('tcp.js'), String(tcpPort), '0'], HealthCheck: `tcp://127.0.0.1:${tcpPort}`, ...fast },
      cmd: {
        ExecStart: 'sleep 60',
        Environment: { FLAG: box.file('flag') },
        HealthCheck: 'test -e "$FLAG" || { echo "no $FLAG"; exit 1; }',
        HealthAction: 'none',
        HealthRetries: 2,
        ...fast,
      },
      hung: {
        ExecStart: 'sleep 60',
        HealthCheck: ['sh', '-c', 'sleep 31.25 & sleep 31.5'],
        ...fast,
        HealthTimeout: 0.3,
        HealthRetries: 1,
        HealthAction: 'none',
      },
      ...(process.getuid?.() === 0
        ? { asnobody: { ExecStart: 'sleep 60', SetUID: 'nobody', HealthCheck: 'test "$(id -u)" = "$(id -u nobody)"', ...fast } }
        : {}),
      out: {
        ExecStart: ['sh', '-c', 'echo starting; sleep 0.5; echo "FATAL: it broke"; sleep 60'],
        HealthFailLine: 'FATAL|out of memory',
        HealthRetries: 1,
        ...fast,
      },
      ready: {
        ExecStart: [process.execPath, box.file('tcp.js'), String(readyPort), '1500'],
        ReadyCheck: `tcp://127.0.0.1:${readyPort}`,
        ReadyCheckInterval: 0.1,
        ...fast,
      },
      hog: { ExecStart: [process.execPath, box.file('hog.js')], MaxMemory: '64M', SampleInterval: 0.3, ...fast },
      idle: { ExecStart: 'sleep 60', ActivityFile: box.file('heartbeat'), ActivityTimeout: 1, ActivityAction: 'stop', ...fast },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('an HTTP server that answers 500 is restarted after HealthRetries failures, and upk why says so', async () => {
    const c = await box.client();
    await c.start('web');
    const healthy = await box.waitFor('web healthy', async () => {
      const [s] = await c.status('web');
      return s?.health?.status === 'healthy' ? s : undefined;
    });
    assert.equal(healthy.state, 'running');
    await box.waitFor('a restart', () => box.events('web').filter((e) => e.type === 'spawned').length >= 2, 10_000);
    const unhealthy = box.events('web').find((e) => e.type === 'unhealthy')!;
    assert.deepEqual(detail(unhealthy), {
      check: `GET http://127.0.0.1:${webPort}/health`,
      failures: 3,
      output: 'HTTP 500: broken',
      action: 'restart',
    });
    const why = await box.upk(['why', 'web']);
    assert.match(why.stdout, new RegExp(`restarted .*: GET http://127\\.0\\.0\\.1:${webPort}/health failed 3 times in a row: HTTP 500`));
    assert.match(why.stdout, /HealthAction restart/);
    const typed = await box.upk(['events', 'web', '--type', 'unhealthy', '--json']);
    assert.ok((JSON.parse(typed.stdout) as unknown[]).length >= 1);
    await c.stop('web');
  });

  it('a TCP check passes while the port is open', async () => {
    const c = await box.client();
    await c.start('tcp');
    await box.waitFor('tcp healthy', async () => (await c.status('tcp'))[0]?.health?.status === 'healthy');
    const list = await box.upk(['status', 'tcp', '--json']);
    assert.equal((JSON.parse(list.stdout) as { health: { status: string } }[])[0]!.health.status, 'healthy');
    await c.stop('tcp');
  });

  it('a command check with HealthAction none only records, and healthy follows a pass', async () => {
    const c = await box.client();
    await c.start('cmd');
    const s = await box.waitFor('cmd unhealthy', async () => {
      const [st] = await c.status('cmd');
      return st?.health?.status === 'unhealthy' ? st : undefined;
    });
    assert.equal(s.state, 'running');
    const shown = await box.upk(['status', 'cmd']);
    assert.match(shown.stdout, /running \(unhealthy\)/);
    assert.match(shown.stdout, new RegExp(`cmd: health: unhealthy, \\d+ failed checks in a row: exit 1: no ${box.file('flag')}`));
    writeFileSync(box.file('flag'), '');
    await box.waitFor('the healthy event', () => box.events('cmd').some((e) => e.type === 'healthy'));
    const events = box.events('cmd');
    assert.equal(events.filter((e) => e.type === 'spawned').length, 1, 'never restarted');
    assert.equal(detail(events.find((e) => e.type === 'unhealthy')!).action, 'none');
    // The time from unhealthy to healthy is in upk trend's unhealthy metric.
    const trend = await box.upk(['trend', 'cmd', '--metric', 'unhealthy', '--bucket', '1h', '--since', '1h', '--json']);
    const total = (JSON.parse(trend.stdout) as { series: { total: number }[] }).series[0]!.total;
    assert.ok(total > 0 && total < 100, `unhealthy ${total} % of the hour known`);
    await c.stop('cmd');
  });

  it('a hung command check is killed at HealthTimeout, with what it started', async () => {
    const c = await box.client();
    await c.start('hung');
    await box.waitFor('unhealthy', () => box.events('hung').some((e) => e.type === 'unhealthy'));
    assert.equal(detail(box.events('hung').find((e) => e.type === 'unhealthy')!).output, 'timed out after 0.3 s');
    await c.stop('hung');
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return /sleep\x0031\.(25|5)/.test(readFileSync(`/proc/${p}/cmdline`, 'latin1'));
        } catch {
          return false;
        }
      });
    assert.deepEqual(left, [], 'no process of a check is left');
  });

  it("a command check runs as the service's user", { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    const c = await box.client();
    await c.start('asnobody');
    await box.waitFor('asnobody healthy', async () => (await c.status('asnobody'))[0]?.health?.status === 'healthy');
    await c.stop('asnobody');
  });

  it('a line of output matching HealthFailLine is a failed check', async () => {
    const c = await box.client();
    await c.start('out');
    await box.waitFor('a restart', () => box.events('out').filter((e) => e.type === 'spawned').length >= 2);
    const unhealthy = box.events('out').find((e) => e.type === 'unhealthy')!;
    assert.deepEqual(detail(unhealthy), {
      check: 'output /FATAL|out of memory/',
      failures: 1,
      output: 'FATAL: it broke',
      action: 'restart',
    });
    await c.stop('out');
  });

  it('ReadyCheck holds starting until the probe passes', async () => {
    const c = await box.client();
    const t0 = Date.now();
    void c.start('ready');
    await box.waitForState('ready', 'starting');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await c.status('ready'))[0]!.state, 'starting');
    await box.waitForState('ready', 'running', 10_000);
    assert.ok(Date.now() - t0 >= 1400, 'not running before the server listens');
    const ready = box.events('ready').find((e) => e.type === 'ready')!;
    assert.equal(detail(ready).how, 'probe');
    await c.stop('ready');
  });

  it('a memory hog is restarted at MaxMemory', async () => {
    const c = await box.client();
    await c.start('hog');
    await box.waitFor('a restart', () => box.events('hog').filter((e) => e.type === 'spawned').length >= 2, 15_000);
    const limit = detail(box.events('hog').find((e) => e.type === 'limit_exceeded')!);
    assert.equal(limit.limit, 'MaxMemory');
    assert.equal(limit.max, 64 * 1024 * 1024);
    assert.ok((limit.value as number) > 64 * 1024 * 1024);
    const why = await box.upk(['why', 'hog']);
    assert.match(why.stdout, /restarted .*: MaxMemory exceeded: \d+ MiB against 64 MiB/);
    await c.stop('hog');
  });

  it('a stale ActivityFile stops the service (ActivityAction stop)', async () => {
    const c = await box.client();
    await c.start('idle');
    const s = await box.waitFor('idle stopped, and wanted stopped', async () => {
      const [st] = await c.status('idle');
      return st?.state === 'stopped' && st.desired === 'stopped' ? st : undefined;
    });
    assert.equal(s.pid, null);
    const limit = detail(box.events('idle').find((e) => e.type === 'limit_exceeded')!);
    assert.equal(limit.limit, 'ActivityTimeout');
    assert.equal(limit.action, 'stop');
    const desired = box.events('idle').filter((e) => e.type === 'desired');
    assert.deepEqual(detail(desired[desired.length - 1]!), { desired: 'stopped', cause: 'limit' });
    // A controller started again keeps it stopped (the buddy's own stop is a desired state of record).
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    await box.startController();
    const c2 = await box.client();
    await new Promise((r) => setTimeout(r, 1000));
    const [after] = await c2.status('idle');
    assert.deepEqual([after!.state, after!.desired], ['stopped', 'stopped']);
    assert.equal(box.events('idle').filter((e) => e.type === 'spawned').length, 1);
  });

  it('checks go on while the controller is down; their events arrive later', async () => {
    const c = await box.client();
    await c.start('web');
    await box.waitFor('web running', async () => (await c.status('web'))[0]?.state === 'running');
    const spawnedBefore = box.events('web').filter((e) => e.type === 'spawned').length;
    const unhealthyBefore = box.events('web').filter((e) => e.type === 'unhealthy').length;
    c.close();
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    await new Promise((r) => setTimeout(r, 3000)); // restarted at least once meanwhile: every ~1 s
    await box.startController();
    await box.waitFor(
      'the events of meanwhile',
      () => box.events('web').filter((e) => e.type === 'unhealthy').length >= unhealthyBefore + 2,
    );
    const events = box.events('web');
    assert.ok(events.filter((e) => e.type === 'spawned').length >= spawnedBefore + 2);
    // Every automatic restart has the unhealthy event that caused it, and none was dropped.
    const restarts = events.filter((e) => e.type === 'spawned' && detail(e).restart === true).length;
    assert.ok(events.filter((e) => e.type === 'unhealthy').length >= restarts);
    assert.equal(events.filter((e) => e.type === 'events_dropped').length, 0);
    const c2 = await box.client();
    await c2.stop('web');
  });
});

/**
 * Burns about a quarter of a core, measured in CPU time (busy for 25 ms of CPU, then idle for 75 ms),
 * so that it stays under 30 % on an idle machine and above 10 % on a loaded one.
 */
const BURNER = `
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const burn = () => {
  const until = cpuMs() + 25;
  while (cpuMs() < until);
  setTimeout(burn, 75);
};
burn();
`;

// MaxCPU is judged on the mean of the last MaxCPUWindow seconds of measurements (5 s here, 60 by
// default), and only once that much of them exists after a start.
describe('MaxCPU on real programs', { timeout: 60_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('cpu');
    writeFileSync(box.file('burn.js'), BURNER);
    const burner = {
      ExecStart: [process.execPath, box.file('burn.js')],
      SampleInterval: 1,
      MaxCPUWindow: 5,
      MinUptime: 0.1,
      InitialState: 'stopped',
    };
    box.writeServices({
      hot: { ...burner, MaxCPU: 10 },
      hotstop: { ...burner, MaxCPU: 10, MaxCPUAction: 'stop' },
      // The same burner under its limit.
      cool: { ...burner, MaxCPU: 50 },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('a burner over MaxCPU is restarted (or stopped, MaxCPUAction stop) once MaxCPUWindow is measured; one under it is left alone', async () => {
    const c = await box.client();
    const outcomes = await c.start(['hot', 'hotstop', 'cool']);
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, true, true],
      JSON.stringify(outcomes),
    );
    const [cool] = await c.status('cool');
    await box.waitFor('hot restarted', () => box.events('hot').filter((e) => e.type === 'spawned').length >= 2, 30_000);
    const hot = box.events('hot');
    const exceeded = hot.find((e) => e.type === 'limit_exceeded')!;
    assert.equal(exceeded.pid, hot.find((e) => e.type === 'spawned')!.pid);
    const limit = detail(exceeded);
    assert.deepEqual([limit.limit, limit.max, limit.action], ['MaxCPU', 10, 'restart']);
    // The measured mean, in percent of a core: over the limit, and no more than the burner can take.
    assert.ok((limit.value as number) > 10 && (limit.value as number) <= 35, `measured ${String(limit.value)} %`);
    const [spawnedAt] = box.eventTimes('hot', 'spawned');
    const [exceededAt] = box.eventTimes('hot', 'limit_exceeded');
    assert.ok(exceededAt! - spawnedAt! >= 4_500, `judged ${exceededAt! - spawnedAt!} ms after the start, before the window was covered`);
    const why = await box.upk(['why', 'hot']);
    assert.match(why.stdout, /restarted .*: MaxCPU exceeded: \d+(\.\d)? % against 10 %/);
    assert.match(why.stdout, /MaxCPUAction restart/);

    const s = await box.waitFor('hotstop stopped, and wanted stopped', async () => {
      const [st] = await c.status('hotstop');
      return st?.state === 'stopped' && st.desired === 'stopped' ? st : undefined;
    });
    assert.equal(s.pid, null);
    const stopped = box.events('hotstop');
    const stopLimit = detail(stopped.find((e) => e.type === 'limit_exceeded')!);
    assert.deepEqual([stopLimit.limit, stopLimit.max, stopLimit.action], ['MaxCPU', 10, 'stop']);
    assert.ok((stopLimit.value as number) > 10, `measured ${String(stopLimit.value)} %`);
    assert.deepEqual(detail(stopped.filter((e) => e.type === 'desired').at(-1)!), { desired: 'stopped', cause: 'limit' });
    assert.equal(stopped.filter((e) => e.type === 'spawned').length, 1);

    // The one under its limit: judged too (a measurement taken once its window was covered), never touched.
    const startedAt = Date.parse(cool!.started!);
    const measured = await box.waitFor(
      'cool measured after a full window',
      async () => {
        const [st] = await c.status('cool');
        return st?.usage && Date.parse(st.usage.at) - startedAt >= 6_000 ? st : undefined;
      },
      15_000,
    );
    assert.deepEqual([measured.state, measured.pid], ['running', cool!.pid]);
    const calm = box.events('cool');
    assert.equal(calm.filter((e) => e.type === 'spawned').length, 1);
    assert.equal(calm.filter((e) => e.type === 'limit_exceeded').length, 0);
    await c.stop(['hot', 'cool']);
  });
});
