// Controller start to 50 services running: from calling startController until client.list() shows all running.
import { manyServices, median, waitForState, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 50;
const POLL_MS = 20;
const TIMEOUT_MS = 60_000;

export const startup: Benchmark = {
  name: 'startup',
  title: `Controller start to ${SERVICES} services running`,
  async run(ctx) {
    const runs = ctx.quick ? 1 : 3;
    const totals: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const { answered, allRunning } = await withSandbox('up', timeStartup);
      ctx.note(
        `run ${run}: controller answered after ${answered.toFixed(0)} ms, all ${SERVICES} running after ${allRunning.toFixed(0)} ms`,
      );
      totals.push(allRunning);
    }
    const figures: Figure[] = [
      {
        label: `start to ${SERVICES} running, median`,
        value: median(totals) / 1000,
        unit: 's',
        n: runs === 1 ? '1 run' : `${runs} runs`,
        target: { op: '<=', value: 3 },
      },
    ];
    totals.forEach((t, i) => figures.push({ label: `start to ${SERVICES} running, run ${i + 1}`, value: t / 1000, unit: 's', n: 1 }));
    return figures;
  },
};

async function timeStartup(sandbox: Sandbox): Promise<{ answered: number; allRunning: number }> {
  sandbox.writeConfig();
  sandbox.writeServices(manyServices(SERVICES));
  const t0 = performance.now();
  await sandbox.startController();
  const answered = performance.now() - t0;
  const client = await sandbox.connect();
  try {
    await waitForState(client, { count: SERVICES, pollMs: POLL_MS, timeoutMs: TIMEOUT_MS });
    return { answered, allRunning: performance.now() - t0 };
  } finally {
    client.close();
  }
}
