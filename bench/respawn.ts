// Crash-to-respawn latency: SIGKILL the service, time until its new process writes its first line to a FIFO.
import { spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { idleService, max, percentile, sleep, withSandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

const PAUSE_MS = 20;
const LINE_TIMEOUT_MS = 10_000;

export const respawn: Benchmark = {
  name: 'respawn',
  title: 'Crash-to-respawn latency (no rate limit)',
  run: (ctx) =>
    withSandbox('rsp', async (sandbox) => {
      const kills = ctx.quick ? 50 : 200;
      const fifo = join(sandbox.dir, 'up.fifo');
      const made = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`mkfifo ${fifo}: ${made.stderr || made.error?.message}`);
      // O_RDWR: the FIFO always has a writer (us), so reads never see EOF between two service runs.
      const lines = new LineReader(new Socket({ fd: openSync(fifo, 'r+'), readable: true, writable: false }));
      try {
        sandbox.writeConfig();
        sandbox.writeServices({ crashy: idleService({ ExecStart: `sh -c 'echo $$ >> ${fifo}; exec sleep 100000'` }) });
        await sandbox.startController();
        let pid = Number(await lines.next(LINE_TIMEOUT_MS));
        const latencies: number[] = [];
        for (let i = 0; i < kills; i++) {
          await sleep(PAUSE_MS);
          const t0 = performance.now();
          process.kill(pid, 'SIGKILL');
          const line = await lines.next(LINE_TIMEOUT_MS).catch((err: Error) => {
            throw new Error(`respawn ${i + 1}: ${err.message}; controller log:\n${sandbox.controllerLogTail()}`);
          });
          latencies.push(performance.now() - t0);
          pid = Number(line);
        }
        const client = await sandbox.connect();
        const [status] = await client.status('crashy').finally(() => client.close());
        if (status && status.restarts !== kills) ctx.note(`note: upkeeper counts ${status.restarts} restarts for ${kills} kills`);
        const n = kills;
        const figures: Figure[] = [
          { label: 'respawn p50', value: percentile(latencies, 50), unit: 'ms', n, target: { op: '<=', value: 10 } },
          { label: 'respawn p90', value: percentile(latencies, 90), unit: 'ms', n },
          { label: 'respawn p99', value: percentile(latencies, 99), unit: 'ms', n, target: { op: '<=', value: 50 } },
          { label: 'respawn max', value: max(latencies), unit: 'ms', n },
        ];
        return figures;
      } finally {
        lines.close();
      }
    }),
};

/** Lines from a stream, one promise at a time. */
class LineReader {
  private buffered = '';
  private readonly ready: string[] = [];
  private waiter: ((line: string) => void) | null = null;
  private failed: Error | null = null;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('error', (err) => (this.failed = err));
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w(line);
        } else {
          this.ready.push(line);
        }
      }
    });
  }

  next(timeoutMs: number): Promise<string> {
    const line = this.ready.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
