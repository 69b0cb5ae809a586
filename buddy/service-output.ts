// Carries one of the service's output streams from its FIFO to a log file or into a pipe program.
//
// The service writes into log/stdout_pipe (or stderr_pipe), opened read-write so that it is itself a
// reader: it never gets SIGPIPE, even while no buddy runs; the kernel keeps what it wrote until the
// next buddy opens the FIFO and drains it.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { ensureFifo } from '../system/files.js';
import { processAlive, processStartTime } from '../system/process-group.js';
import { RotatingLog } from './rotating-log.js';
import { spawnScript } from './spawn-script.js';
import type { ProcessRef } from '../schema/records.js';

export interface OutputSpec {
  /** The FIFO the service writes into. */
  fifo: string;
  /** Where the output lands: log/stdout, log/stderr or a RedirectStdout/RedirectStderr file. */
  file: string;
  /** Rotation of `file` (LogMaxSize bytes, 0: never; LogKeep files). */
  maxBytes: number;
  keep: number;
  /** A program that reads the output instead of the buddy (its stdout goes to `file`, unrotated). */
  pipeScript: string | null;
  /** Where the pipe program's own stderr goes. */
  pipeErrors: string;
}

export interface SpawnContext {
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}


const PIPE_RESTART_MS = 1000;
/** How often a pipe program adopted from a lost buddy (not our child) is looked for in /proc. */
const ADOPTED_PIPE_CHECK_MS = 1000;

export class OutputChannel {
  private keeper: number | null = null;
  private reader: Socket | null = null;
  private sink: RotatingLog | null = null;
  private piper: ProcessRef | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    private readonly spec: OutputSpec,
    private readonly context: () => SpawnContext,
    private readonly log: (message: string) => void,
  ) {}

  /** The pipe program running now, if any (recorded in the status file for the next buddy). */
  get pipe(): ProcessRef | null {
    return this.piper;
  }

  /** Start carrying output; `previous` is a pipe program a lost buddy left running, to adopt. */
  open(previous: ProcessRef | null = null): void {
    ensureFifo(this.spec.fifo);
    // Held read-write: a reader always exists for the service, and readers never see end-of-file.
    this.keeper = openSync(this.spec.fifo, constants.O_RDWR);
    if (this.spec.pipeScript) {
      if (previous && processAlive(previous.pid, previous.startTime)) this.adoptPipe(previous);
      else this.startPipe();
      return;
    }
    if (previous) stopProcess(previous); // no longer configured: the lost buddy's reader must not compete
    const sink = new RotatingLog(this.spec.file, this.spec.maxBytes, this.spec.keep);
    this.sink = sink;
    this.reader = new Socket({ fd: this.keeper, readable: true, writable: false });
    this.keeper = null; // the socket owns it now
    this.reader.on('error', (err) => this.log(`reading ${this.spec.fifo}: ${err.message}`));
    this.reader.on('data', (chunk: Buffer) => {
      try {
        sink.write(chunk);
      } catch (err) {
        this.log(`cannot write ${this.spec.file}: ${(err as Error).message}`);
      }
    });
  }

  /** A new descriptor for the service's stdout or stderr; the caller closes it after spawning. */
  serviceFd(): number {
    return openSync(this.spec.fifo, constants.O_RDWR);
  }

  close(): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.piper) stopProcess(this.piper);
    this.reader?.destroy();
    this.sink?.close();
    if (this.keeper !== null) closeSync(this.keeper);
    this.keeper = null;
  }

  private startPipe(): void {
    const ctx = this.context();
    const input = openSync(this.spec.fifo, constants.O_RDONLY);
    const output = openSync(this.spec.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    const errors = openSync(this.spec.pipeErrors, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    let child: ChildProcess;
    try {
      child = spawnScript(this.spec.pipeScript!, [], [input, output, errors], ctx);
    } finally {
      closeSync(input);
      closeSync(output);
      closeSync(errors);
    }
    const pid = child.pid;
    this.piper = pid === undefined ? null : { pid, startTime: processStartTime(pid) ?? 0 };
    child.on('error', (err) => this.log(`pipe program ${this.spec.pipeScript}: ${err.message}`));
    child.on('exit', (code, signal) => this.pipeGone(`${signal ?? code}`));
  }

  private adoptPipe(previous: ProcessRef): void {
    this.piper = previous;
    this.log(`adopted pipe program ${previous.pid} of ${this.spec.fifo}`);
    const check = (): void => {
      if (processAlive(previous.pid, previous.startTime)) this.timer = setTimeout(check, ADOPTED_PIPE_CHECK_MS);
      else this.pipeGone('unknown');
    };
    this.timer = setTimeout(check, ADOPTED_PIPE_CHECK_MS);
  }

  private pipeGone(how: string): void {
    this.piper = null;
    if (this.closing) return;
    this.log(`pipe program ${this.spec.pipeScript} exited (${how}); restarting in ${PIPE_RESTART_MS} ms`);
    this.timer = setTimeout(() => this.startPipe(), PIPE_RESTART_MS);
  }
}

/** SIGTERM to a pipe program's process group (it runs in its own session), if it is still that process. */
function stopProcess(ref: ProcessRef): void {
  if (!processAlive(ref.pid, ref.startTime)) return;
  try {
    process.kill(-ref.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
}
