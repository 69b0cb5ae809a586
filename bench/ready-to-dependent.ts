// From a service's readiness to its dependent's start: a server that says it is ready on ReadyFd
// (writing the time just before), and a client with it in Prerequisites, whose first instruction
// writes the time. `upk start client` starts the server, waits for its readiness, then starts the
// client; both are stopped before the next run.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, percentile, sleep, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

/** The time a shell command wrote with `date +%s%N`, in milliseconds; waits a little for the file. */
async function written(file: string): Promise<number> {
  for (let w = 0; w < 100 && !existsSync(file); w++) await sleep(20);
  return Number(readFileSync(file, 'utf8').trim()) / 1e6;
}

export const readyToDependent: Benchmark = {
  name: 'ready-to-dependent',
  title: "from a service's readiness to its dependent's start",
  run: (ctx) =>
    withSandbox('ready', async (sandbox: Sandbox): Promise<Figure[]> => {
      const runs = ctx.quick ? 10 : 50;
      const ready = join(sandbox.dir, 'ready');
      const started = join(sandbox.dir, 'started');
      sandbox.writeConfig();
      sandbox.writeServices({
        server: { ExecStart: ['sh', '-c', `sleep 0.1; date +%s%N > ${ready}; echo >&3; exec sleep 1000`], ReadyFd: 3, KillTimeout: 1 },
        client: { ExecStart: ['sh', '-c', `date +%s%N > ${started}; exec sleep 1000`], MinUptime: 0, Prerequisites: ['server'] },
      });
      await sandbox.startController();
      const c = await sandbox.connect();
      const gaps: number[] = [];
      try {
        for (let i = 0; i < runs; i++) {
          rmSync(ready, { force: true });
          rmSync(started, { force: true });
          const [out] = await c.start('client');
          if (!out?.ok) throw new Error(`upk start client failed: ${out?.message ?? 'no answer'}`);
          gaps.push((await written(started)) - (await written(ready)));
          await c.stop('client');
          await c.stop('server');
        }
      } finally {
        c.close();
      }
      ctx.note(
        `${runs} starts of a client whose prerequisite says it is ready on ReadyFd 0.1 s after its start; both stopped between runs`,
      );
      const n = `${runs} starts`;
      return [
        { label: "server ready (ReadyFd) to the client's first instruction, p50", value: median(gaps), unit: 'ms', n },
        { label: "server ready (ReadyFd) to the client's first instruction, p99", value: percentile(gaps, 99), unit: 'ms', n },
      ];
    }),
};
