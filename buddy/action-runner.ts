// Runs action scripts (stop, reload, custom actions): output through a FIFO to log/actions and, the tail of it, to the caller.
import { closeSync, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { LOG } from '../schema/run-dir.js';
import { openLogFile, stillNamed } from '../schema/output-file.js';
import { ActionPipes, type OpenActionPipe } from './action-pipes.js';
import { spawnScript, type ScriptChild, type SpawnScript } from './spawn-script.js';
import { REAL_CLOCK, type Clock, type Timer } from '../system/clock.js';
import { TailBuffer } from './tail-buffer.js';
import type { ActionResult } from '../schema/records.js';
import type { SpawnContext } from './service-output.js';
import type { NewEvent } from '../schema/event-details.js';

/** How much of an action's output its caller gets back (all of it goes to log/actions). */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** After the script exits, how long to wait for its output pipe to drain (a background child may hold it). */
export const DRAIN_MS = 200;

interface Ending {
  code: number | null;
  signal: string | null;
  error?: string;
}

export class ActionRunner {
  private log: WriteStream | null = null;
  private logFd = -1;
  private logFailing = false;
  private readonly logPath: string;
  private readonly pipes: ActionPipes;
  /** Scripts started and not yet finished. */
  running = 0;

  constructor(
    private readonly logDir: string,
    private readonly context: () => SpawnContext,
    private readonly emit: (event: NewEvent) => void,
    /** Writes a line to the buddy's log. */
    private readonly say: (message: string) => void = () => undefined,
    /** Time (an action's duration, the wait for its output) and the spawn of its script; injected for unit tests. */
    private readonly clock: Pick<Clock, 'now' | 'setTimeout'> = REAL_CLOCK,
    private readonly spawn: SpawnScript = spawnScript,
  ) {
    this.logPath = join(logDir, LOG.actions);
    this.pipes = new ActionPipes(logDir);
  }

  run(action: string, script: string, args: string[]): Promise<ActionResult> {
    // A run needs neither its log nor its pipe: a stop must work with log/ deleted or unwritable.
    const log = this.logStream();
    const write = (text: string | Buffer, done?: () => void): void => {
      if (log) log.write(text, () => done?.());
      else done?.();
    };
    const ctx = this.context();
    const started = this.clock.now();
    const tail = new TailBuffer(OUTPUT_TAIL_BYTES);
    this.running += 1;
    return new Promise((resolve) => {
      let pid: number | null = null;
      let lost: string | null = null;
      const finish = ({ code, signal, error }: Ending): void => {
        this.running -= 1;
        const durationMs = this.clock.now() - started;
        const how = error ? `could not run: ${error}` : signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.emit({ type: 'action_finished', pid, code, signal, detail: { action, durationMs, ...(error ? { error } : {}) } });
        const output = error ? `could not run ${script}: ${error}\n` : lost ? `(its output is lost: ${lost})\n` : tail.text();
        const result = { action, pid, code, signal, durationMs, output };
        // The caller is answered once log/actions holds the whole run (or the write failed: a full disk).
        write(`=== ${new Date().toISOString()} ${action} (pid ${pid ?? '-'}) ${how} after ${durationMs} ms\n`, () => resolve(result));
      };

      let pipe: OpenActionPipe | null = null;
      try {
        pipe = this.pipes.open({ uid: ctx.uid ?? process.getuid!(), gid: ctx.gid ?? process.getgid!() });
      } catch (err) {
        lost = `cannot open its output pipe: ${(err as Error).message}`;
        this.say(`${action}: ${lost}; it runs without one`);
      }
      // The script has ended (or never started) and its output is read (or there is none): the run is over.
      let ending: Ending | null = null;
      let readerClosed = pipe === null;
      let eof = false;
      let timer: Timer | null = null;
      const settle = (): void => {
        if (ending === null || !readerClosed) return;
        timer?.clear();
        if (pipe) this.pipes.release(pipe.slot, !eof);
        finish(ending);
      };
      let reader: Socket | null = null;
      if (pipe) {
        reader = new Socket({ fd: pipe.readFd, readable: true, writable: false });
        reader.on('data', (chunk: Buffer) => {
          write(chunk);
          tail.add(chunk);
        });
        reader.on('error', () => undefined); // ends in 'close' all the same
        reader.once('end', () => (eof = true));
        reader.once('close', () => {
          readerClosed = true;
          settle();
        });
      }
      const ended = (how: Ending): void => {
        if (ending !== null) return;
        ending = how;
        // End of file comes when the script and everything it started have closed the FIFO; a
        // background child that keeps it open is not waited for longer than DRAIN_MS.
        if (reader) timer = this.clock.setTimeout(() => reader.destroy(), DRAIN_MS);
        settle();
      };

      let child: ScriptChild;
      try {
        child = this.spawn(script, args, pipe ? ['ignore', pipe.writeFd, pipe.writeFd] : 'ignore', ctx);
      } catch (err) {
        ended({ code: null, signal: null, error: (err as Error).message });
        return;
      } finally {
        if (pipe) closeSync(pipe.writeFd); // the script has its own copies: the buddy must not hold end of file off
      }
      pid = child.pid ?? null;
      if (pid !== null) {
        write(`=== ${new Date(started).toISOString()} ${action} (pid ${pid}) started: ${[script, ...args].join(' ')}\n`);
        this.emit({ type: 'action_started', pid, detail: { action } });
      }
      child.on('error', (err) => ended({ code: null, signal: null, error: err.message }));
      child.on('exit', (code, signal) => ended({ code, signal }));
    });
  }

  close(): void {
    this.log?.end();
    this.log = null;
  }

  /**
   * log/actions, open for appending; opened again when the path no longer names it (deleted, moved),
   * and the folder made again when it is gone. Null, said once until it works, when it cannot be.
   */
  private logStream(): WriteStream | null {
    if (this.log && !stillNamed(this.logFd, this.logPath)) this.close();
    if (this.log) return this.log;
    try {
      mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
      const fd = openLogFile(this.logPath);
      this.logFd = fd;
      this.log = createWriteStream(this.logPath, { fd });
      this.log.on('error', () => undefined);
      this.logFailing = false;
    } catch (err) {
      if (!this.logFailing)
        this.say(`cannot write ${this.logPath} (action output goes only to its caller until it can be): ${(err as Error).message}`);
      this.logFailing = true;
    }
    return this.log;
  }
}
