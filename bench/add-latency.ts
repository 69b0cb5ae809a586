// `upk add NAME -- COMMAND`: from running the command line to the service's program running (its
// first instruction writes the time), and to `upk add` returning (it waits for the start to count:
// MinUptime, 1 s by default). Each service is removed again (`upk remove --delete-file`) before the next.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, percentile, sleep, UPK_PROGRAM, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

/** Runs upk as a user would, without the shell's NODE_OPTIONS; resolves with its exit code once it exits. */
function upk(sandbox: Sandbox, args: string[]): Promise<number | null> {
  const { NODE_OPTIONS: _o, NODE_EXTRA_CA_CERTS: _c, ...env } = process.env;
  const child = spawn(process.execPath, [UPK_PROGRAM, ...args], {
    env: { ...env, UPKEEPER_CONFIG: sandbox.configFile },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

const now = (): number => performance.timeOrigin + performance.now();

export const addLatency: Benchmark = {
  name: 'add-latency',
  title: '`upk add` to the service running',
  run: (ctx) =>
    withSandbox('add', async (sandbox: Sandbox): Promise<Figure[]> => {
      const runs = ctx.quick ? 5 : 20;
      sandbox.writeConfig();
      sandbox.writeServices({});
      await sandbox.startController();
      const toRunning: number[] = [];
      const toReturn: number[] = [];
      for (let i = 0; i < runs; i++) {
        const mark = join(sandbox.dir, `started-${i}`);
        const t0 = now();
        const code = await upk(sandbox, ['add', `added-${i}`, '--', 'sh', '-c', `date +%s%N > ${mark}; exec sleep 1000`]);
        const returned = now();
        if (code !== 0) throw new Error(`upk add exited ${code}`);
        for (let w = 0; w < 100 && !existsSync(mark); w++) await sleep(20);
        const started = Number(readFileSync(mark, 'utf8').trim()) / 1e6;
        toRunning.push(started - t0);
        toReturn.push(returned - t0);
        if ((await upk(sandbox, ['remove', `added-${i}`, '--delete-file'])) !== 0) throw new Error(`upk remove added-${i} failed`);
      }
      ctx.note(
        `${runs} services added one after another to a running controller, each removed before the next; upk run as a process with a clean Node environment`,
      );
      const n = `${runs} adds`;
      return [
        { label: 'upk add to the service running, median', value: median(toRunning), unit: 'ms', n },
        { label: 'upk add to the service running, p90', value: percentile(toRunning, 90), unit: 'ms', n },
        { label: 'upk add returning (after MinUptime 1 s), median', value: median(toReturn), unit: 'ms', n },
      ];
    }),
};
