// `upk logs -f`: from a line written by a service (its own clock, in the line) to `upk logs -f --json`
// printing it, as a reader of upk's standard output sees it.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { max, percentile, UPK_PROGRAM, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

/** The service: `ready`, then, once the file `go` exists, N lines `<i> <ms since the epoch>`, one every 10 ms. */
const WRITER = `
const [go, n] = [process.argv[2], Number(process.argv[3])];
console.log('ready');
const wait = setInterval(() => {
  if (!require('node:fs').existsSync(go)) return;
  clearInterval(wait);
  let i = 0;
  const tick = setInterval(() => {
    process.stdout.write(\`\${++i} \${performance.timeOrigin + performance.now()}\\n\`);
    if (i >= n) clearInterval(tick);
  }, 10);
}, 20);
setInterval(() => undefined, 1 << 30);
`;

export const logsFollow: Benchmark = {
  name: 'logs-follow',
  title: 'A line written by a service to `upk logs -f` printing it',
  run: (ctx) =>
    withSandbox('logs', async (sandbox: Sandbox): Promise<Figure[]> => {
      const wanted = ctx.quick ? 300 : 1000;
      const script = join(sandbox.dir, 'writer.cjs');
      const go = join(sandbox.dir, 'go');
      writeFileSync(script, WRITER);
      sandbox.writeConfig();
      sandbox.writeServices({
        lat: { ExecStart: `${process.execPath} ${script} ${go} ${wanted}`, InitialState: 'running', MinUptime: 0.1 },
      });
      await sandbox.startController();
      const { NODE_OPTIONS: _o, NODE_EXTRA_CA_CERTS: _c, ...env } = process.env;
      const follower = spawn(process.execPath, [UPK_PROGRAM, 'logs', 'lat', '-f', '-n', '1', '--json'], {
        env: { ...env, UPKEEPER_CONFIG: sandbox.configFile },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const latencies: number[] = [];
      const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        let rest = '';
        const timer = setTimeout(() => reject(new Error(`only ${latencies.length} of ${wanted} lines within 60 s`)), 60_000);
        follower.stdout.on('data', (d: Buffer) => {
          const now = performance.timeOrigin + performance.now();
          const parts = (rest + d.toString()).split('\n');
          rest = parts.pop()!;
          for (const p of parts) {
            const line = (JSON.parse(p) as { line: string }).line;
            if (line === 'ready') {
              if (!existsSync(go)) writeFileSync(go, '');
              continue;
            }
            latencies.push(now - Number(line.split(' ')[1]));
          }
          if (latencies.length >= wanted) {
            clearTimeout(timer);
            resolve();
          }
        });
      }).finally(() => follower.kill('SIGINT'));
      await exited;
      ctx.note(`${latencies.length} lines, one every 10 ms, followed by upk logs -f --json; measured where its output is read`);
      const n = `${latencies.length} lines`;
      return [
        { label: 'service to upk logs -f, p50', value: percentile(latencies, 50), unit: 'ms', n },
        { label: 'service to upk logs -f, p99', value: percentile(latencies, 99), unit: 'ms', n, target: { op: '<=', value: 100 } },
        { label: 'service to upk logs -f, max', value: max(latencies), unit: 'ms', n },
      ];
    }),
};
