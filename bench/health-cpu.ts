// CPU of the controller and 50 buddies whose services each have an HTTP health check every second,
// beside the same 50 without: what the checks cost, as % of one core. One HTTP server in this
// process answers every check (its own CPU is not counted: a real service would answer them).
import { createServer } from 'node:http';
import { idleService, manyServices, sleep, waitForState, withSandbox } from './harness.js';
import { sampleTicks } from './idle-cpu.js';
import { clockTicksPerSecond } from './proc.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 50;
/** After start-up (see idle-cpu.ts: V8 shrinks each buddy's heap some 8 s in). */
const SETTLE_MS = 15_000;
const POLLING_INTERVAL_S = 0.5;

/** Controller + buddies CPU over `windowMs` after the settle, in % of one core; checks answered by `port` when given. */
async function measure(port: number | null, windowMs: number): Promise<{ pct: number; controller: number; seconds: number }> {
  return withSandbox(port === null ? 'nocheck' : 'health', async (sandbox) => {
    const check = port === null ? {} : { HealthCheck: `http://127.0.0.1:${port}/health`, HealthInterval: 1 };
    sandbox.writeConfig({ pollingInterval: POLLING_INTERVAL_S });
    sandbox.writeServices(manyServices(SERVICES, () => idleService(check)));
    const controllerPid = await sandbox.startController();
    const client = await sandbox.connect();
    const list = await waitForState(client, { count: SERVICES }).finally(() => client.close());
    const buddies = list.map((s) => s.buddyPid).filter((pid): pid is number => pid !== null);
    await sleep(SETTLE_MS);
    const from = { at: performance.now(), ...sampleTicks(controllerPid, buddies) };
    await sleep(windowMs);
    const to = { at: performance.now(), ...sampleTicks(controllerPid, buddies) };
    const seconds = (to.at - from.at) / 1000;
    const ticks = to.controller + to.buddies - (from.controller + from.buddies);
    const pctOf = (t: number): number => (t / clockTicksPerSecond() / seconds) * 100;
    return { pct: pctOf(ticks), controller: pctOf(to.controller - from.controller), seconds };
  });
}

export const healthCpu: Benchmark = {
  name: 'health-cpu',
  title: `CPU of controller + ${SERVICES} buddies with a 1 s HTTP health check each`,
  run: async (ctx) => {
    const windowMs = ctx.quick ? 10_000 : 20_000;
    let answered = 0;
    const server = createServer((_req, res) => {
      answered += 1;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const checked = await measure(port, windowMs);
      const plain = await measure(null, windowMs);
      ctx.note(`BuddyPollingInterval ${POLLING_INTERVAL_S} s, settle ${SETTLE_MS / 1000} s, ${answered} checks answered in all`);
      const n = `${checked.seconds.toFixed(0)} s window`;
      const figures: Figure[] = [
        { label: 'with checks: controller + buddies CPU', value: checked.pct, unit: '%', n },
        { label: 'without checks: controller + buddies CPU', value: plain.pct, unit: '%', n: `${plain.seconds.toFixed(0)} s window` },
        { label: 'with checks: the controller alone', value: checked.controller, unit: '%', n },
        { label: 'without checks: the controller alone', value: plain.controller, unit: '%', n: `${plain.seconds.toFixed(0)} s window` },
        { label: 'what the checks cost', value: checked.pct - plain.pct, unit: '%', n: `${SERVICES} checks a second` },
        // % of a core over 50 checks a second: 1 % is 0.2 ms of CPU per check.
        { label: 'CPU per check', value: ((checked.pct - plain.pct) / SERVICES) * 10, unit: 'ms', n: `${SERVICES} checks a second` },
      ];
      return figures;
    } finally {
      server.close();
    }
  },
};
