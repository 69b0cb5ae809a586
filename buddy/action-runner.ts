// Runs action scripts (stop, reload, custom actions): output to log/actions and, the tail of it, to the caller.
import type { ChildProcess } from 'node:child_process';
import { spawnScript } from './spawn-script.js';
import { TailBuffer } from './tail-buffer.js';
import { createWriteStream, type WriteStream } from 'node:fs';
import { openLogFile } from '../system/files.js';
import type { ActionResult } from '../schema/records.js';
import type { EventFields } from './machine.js';
import type { SpawnContext } from './service-output.js';
import type { EventType } from '../schema/records.js';

/** How much of an action's output its caller gets back (all of it goes to log/actions). */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** After the script exits, how long to wait for its output pipes to drain (a background child may hold them). */
const DRAIN_MS = 200;

export class ActionRunner {
  private log: WriteStream | null = null;
  /** Scripts started and not yet finished. */
  running = 0;

  constructor(
    private readonly logPath: string,
    private readonly context: () => SpawnContext,
    private readonly emit: (type: EventType, fields: EventFields) => void,
  ) {}

  run(action: string, script: string, args: string[]): Promise<ActionResult> {
    const log = this.logStream();
    const ctx = this.context();
    const started = Date.now();
    const tail = new TailBuffer(OUTPUT_TAIL_BYTES);
    return new Promise((resolve) => {
      let done = false;
      let pid: number | null = null;
      this.running += 1;
      const finish = (code: number | null, signal: string | null, error?: string): void => {
        if (done) return;
        done = true;
        this.running -= 1;
        const durationMs = Date.now() - started;
        const how = error ? `could not run: ${error}` : signal ? `killed by ${signal}` : `exited with code ${code}`;
        log.write(`=== ${new Date().toISOString()} ${action} (pid ${pid ?? '-'}) ${how} after ${durationMs} ms\n`);
        this.emit('action_finished', { pid, code, signal, detail: { action, durationMs, ...(error ? { error } : {}) } });
        resolve({ action, pid, code, signal, durationMs, output: error ? `could not run ${script}: ${error}\n` : tail.text() });
      };
      let child: ChildProcess;
      try {
        child = spawnScript(script, args, ['ignore', 'pipe', 'pipe'], ctx);
      } catch (err) {
        finish(null, null, (err as Error).message);
        return;
      }
      pid = child.pid ?? null;
      if (pid !== null) {
        log.write(`=== ${new Date(started).toISOString()} ${action} (pid ${pid}) started: ${[script, ...args].join(' ')}\n`);
        this.emit('action_started', { pid, detail: { action } });
      }
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on('data', (chunk: Buffer) => {
          log.write(chunk);
          tail.add(chunk);
        });
      }
      child.on('error', (err) => finish(null, null, err.message));
      child.on('exit', (code, signal) => {
        let drained = 0;
        const settle = (): void => finish(code, signal);
        const timer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          settle();
        }, DRAIN_MS);
        for (const stream of [child.stdout, child.stderr]) {
          if (!stream || stream.readableEnded || stream.destroyed) drained += 1;
          else
            stream.once('close', () => {
              if (++drained === 2) {
                clearTimeout(timer);
                settle();
              }
            });
        }
        if (drained === 2) {
          clearTimeout(timer);
          settle();
        }
      });
    });
  }

  close(): void {
    this.log?.end();
    this.log = null;
  }

  private logStream(): WriteStream {
    if (!this.log) {
      this.log = createWriteStream(this.logPath, { fd: openLogFile(this.logPath) });
      this.log.on('error', () => undefined);
    }
    return this.log;
  }
}
