// Carries one of the service's output streams from its FIFO to a log file or into a pipe program.
//
// The service writes into log/stdout_pipe (or stderr_pipe), opened read-write so that it is itself a
// reader: it never gets SIGPIPE, even while no buddy runs; the kernel keeps what it wrote until the
// next buddy opens the FIFO and drains it.
import type { ChildProcess } from 'node:child_process';
import { spawnScript } from './spawn-script.js';
import { closeSync, constants, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { ensureFifo } from '../system/files.js';
import { Socket } from 'node:net';

export interface OutputSpec {
  /** The FIFO the service writes into. */
  fifo: string;
  /** Where the output lands: log/stdout, log/stderr or a RedirectStdout/RedirectStderr file. */
  file: string;
  /** A program that reads the output instead of the buddy (its stdout goes to `file`). */
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

export class OutputChannel {
  private keeper: number | null = null;
  private reader: Socket | null = null;
  private sink: WriteStream | null = null;
  private piper: ChildProcess | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    private readonly spec: OutputSpec,
    private readonly context: () => SpawnContext,
    private readonly log: (message: string) => void,
  ) {}

  open(): void {
    ensureFifo(this.spec.fifo);
    // Held read-write: a reader always exists for the service, and readers never see end-of-file.
    this.keeper = openSync(this.spec.fifo, constants.O_RDWR);
    if (this.spec.pipeScript) {
      this.startPipe();
    } else {
      this.sink = createWriteStream(this.spec.file, { flags: 'a', mode: 0o600 });
      this.sink.on('error', (err) => this.log(`cannot write ${this.spec.file}: ${err.message}`));
      this.reader = new Socket({ fd: this.keeper, readable: true, writable: false });
      this.keeper = null; // the socket owns it now
      this.reader.on('error', (err) => this.log(`reading ${this.spec.fifo}: ${err.message}`));
      this.reader.pipe(this.sink);
    }
  }

  /** A new descriptor for the service's stdout or stderr; the caller closes it after spawning. */
  serviceFd(): number {
    return openSync(this.spec.fifo, constants.O_RDWR);
  }

  close(): void {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.piper?.pid) {
      try {
        process.kill(-this.piper.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    this.reader?.destroy();
    this.sink?.end();
    if (this.keeper !== null) closeSync(this.keeper);
    this.keeper = null;
  }

  private startPipe(): void {
    const ctx = this.context();
    const input = openSync(this.spec.fifo, constants.O_RDONLY);
    const output = openSync(this.spec.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    const errors = openSync(this.spec.pipeErrors, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      this.piper = spawnScript(this.spec.pipeScript!, [], [input, output, errors], ctx);
    } finally {
      closeSync(input);
      closeSync(output);
      closeSync(errors);
    }
    const piper = this.piper;
    piper.on('error', (err) => this.log(`pipe program ${this.spec.pipeScript}: ${err.message}`));
    piper.on('exit', (code, signal) => {
      if (this.closing) return;
      this.log(`pipe program ${this.spec.pipeScript} exited (${signal ?? code}); restarting in ${PIPE_RESTART_MS} ms`);
      this.restartTimer = setTimeout(() => this.startPipe(), PIPE_RESTART_MS);
    });
  }
}
