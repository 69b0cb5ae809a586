// Idle CPU of the controller and 50 buddies: utime+stime over a window, as % of one core.
import { manyServices, sleep, waitForState, withSandbox } from './harness.js';
import { clockTicksPerSecond, readCpuTicks } from './proc.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 50;
/**
 * Idle means after start-up: some 8 s after it starts, V8 shrinks each buddy's heap once (a ~10 ms
 * "memory reducer" GC that keeps a buddy near 4 MB of heap). The first SETTLE_MS are reported as
 * the start-up transient; the target applies to the window after it.
 */
const SETTLE_MS = 15_000;
const POLLING_INTERVAL_S = 0.5;
const SLICES = 4;

interface Sample {
  at: number;
  controller: number;
  buddies: number;
  missing: number;
}

export const idleCpu: Benchmark = {
  name: 'idle-cpu',
  title: `Idle CPU of controller + ${SERVICES} buddies`,
  run: (ctx) =>
    withSandbox('cpu', async (sandbox) => {
      const windowMs = ctx.quick ? 10_000 : 20_000;
      sandbox.writeConfig({ pollingInterval: POLLING_INTERVAL_S });
      sandbox.writeServices(manyServices(SERVICES));
      const controllerPid = await sandbox.startController();
      const client = await sandbox.connect();
      const list = await waitForState(client, { count: SERVICES }).finally(() => client.close());
      const buddies = list.map((s) => s.buddyPid).filter((pid): pid is number => pid !== null);
      const settleFrom = { at: performance.now(), ...sampleTicks(controllerPid, buddies) };
      await sleep(SETTLE_MS);

      // Our client is closed: nothing but the controller's own polling happens in the window.
      const samples = [{ at: performance.now(), ...sampleTicks(controllerPid, buddies) }];
      for (let i = 0; i < SLICES; i++) {
        await sleep(windowMs / SLICES);
        samples.push({ at: performance.now(), ...sampleTicks(controllerPid, buddies) });
      }
      const pct = (from: Sample, to: Sample, pick: (s: Sample) => number): number =>
        ((pick(to) - pick(from)) / clockTicksPerSecond() / ((to.at - from.at) / 1000)) * 100;
      const first = samples[0] as Sample;
      const last = samples[SLICES] as Sample;
      const all = (s: Sample): number => s.controller + s.buddies;
      const seconds = (last.at - first.at) / 1000;
      const missing = samples.reduce((n, s) => n + s.missing, 0);
      if (missing > 0) ctx.note(`warning: ${missing} readings missing (processes vanished during the window)`);
      ctx.note(
        `BuddyPollingInterval ${POLLING_INTERVAL_S} s, settle ${SETTLE_MS / 1000} s, window ${seconds.toFixed(1)} s, CLK_TCK ${clockTicksPerSecond()}`,
      );
      const slices = samples.slice(1).map((s, i) => pct(samples[i] as Sample, s, all).toFixed(2));
      ctx.note(`controller + buddies, per ${(seconds / SLICES).toFixed(1)} s slice: ${slices.join(' %, ')} %`);
      const n = `${seconds.toFixed(0)} s window`;
      const figures: Figure[] = [
        {
          label: `start-up transient, first ${SETTLE_MS / 1000} s`,
          value: pct(settleFrom, first, all),
          unit: '%',
          n: `${SETTLE_MS / 1000} s`,
        },
        { label: 'controller CPU', value: pct(first, last, (s) => s.controller), unit: '%', n },
        { label: `${buddies.length} buddies CPU, together`, value: pct(first, last, (s) => s.buddies), unit: '%', n },
        { label: 'controller + buddies CPU', value: pct(first, last, all), unit: '%', n, target: { op: '<=', value: 1 } },
        {
          label: 'controller + buddies CPU, last slice',
          value: pct(samples[SLICES - 1] as Sample, last, all),
          unit: '%',
          n: `${(seconds / SLICES).toFixed(1)} s slice`,
        },
      ];
      return figures;
    }),
};

export function sampleTicks(controllerPid: number, buddies: number[]): { controller: number; buddies: number; missing: number } {
  let missing = 0;
  const ticks = (pid: number): number => {
    const t = readCpuTicks(pid);
    if (t === null) missing++;
    return t ?? 0;
  };
  const controller = ticks(controllerPid);
  const total = buddies.reduce((sum, pid) => sum + ticks(pid), 0);
  return { controller, buddies: total, missing };
}
