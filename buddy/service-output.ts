// Carries one of the service's output streams from its FIFO to a log file or into a pipe program.
//
// The service writes into log/stdout_pipe (or stderr_pipe), opened read-write so that it is itself a
// reader: it never gets SIGPIPE, even while no buddy runs; the kernel keeps what it wrote until the
// next buddy opens the FIFO and drains it.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { ensureFifo } from '../system/files.js';
import { REAL_CLOCK, type Clock, type Timer } from '../system/clock.js';
import { openLogFile, openOutputFile } from '../schema/output-file.js';
import { processAlive, processStartTime, signalGroup } from '../system/process-group.js';
import { LineStamper } from './line-stamper.js';
import { RotatingLog } from './rotating-log.js';
import { spawnScript, type SpawnContext } from './spawn-script.js';

export type { SpawnContext } from './spawn-script.js';
import { TailBuffer } from './tail-buffer.js';
import type { EventOf } from '../schema/event-details.js';
import type { ProcessRef } from '../schema/records.js';

export interface OutputSpec {
  /** The FIFO the service writes into. */
  fifo: string;
  /** Where the output lands: log/stdout, log/stderr or a RedirectStdout/RedirectStderr file. */
  file: string;
  /** `file` is a RedirectStdout/RedirectStderr file: its mode is its owner's, left alone (log/stdout and log/stderr are kept 0600). */
  redirected: boolean;
  /** Rotation of `file` (LogMaxSize bytes, 0: never; LogKeep files). */
  maxBytes: number;
  keep: number;
  /** LogTimestamps: begin every line written to `file` with the time it arrived. */
  timestamps: boolean;
  /** A program that reads the output instead of the buddy (its stdout goes to `file`, unrotated). */
  pipeScript: string | null;
  /** Where the pipe program's own stderr goes. */
  pipeErrors: string;
}

const PIPE_RESTART_MS = 1000;
/** Output kept in memory for an exit's last lines: the last 4 KiB, of which at most 10 lines and 2 KiB are told. */
const TAIL_KEEP_BYTES = 4096;
const TAIL_LINES = 10;
const TAIL_BYTES = 2048;
/** How often a pipe program adopted from a lost buddy (not our child) is looked for in /proc. */
const ADOPTED_PIPE_CHECK_MS = 1000;

export class OutputChannel {
  private keeper: number | null = null;
  private reader: Socket | null = null;
  private sink: RotatingLog | null = null;
  /** With LogTimestamps: stamps the lines on their way to the file (not those of the last output). */
  private stamper: LineStamper | null = null;
  private piper: ProcessRef | null = null;
  private timer: Timer | null = null;
  private closing = false;
  /** The last output carried since the service last started (not kept when a pipe program reads it). */
  private tail = new TailBuffer(TAIL_KEEP_BYTES);
  /** A second, non-blocking reader of the FIFO, to take at once what the service wrote before it exited. */
  private drainFd: number | null = null;
  /**
   * Another descriptor of the FIFO, never read: the FIFO is opened again through it
   * (/proc/self/fd/N), for the service, the drain and a pipe program, even once its name is gone
   * (log/ deleted under the buddy).
   */
  private handle: number | null = null;
  /** Reads the FIFO while a pipe program cannot be started (see startPipe). */
  private discarder: Socket | null = null;
  /** Bytes of output lost since writing the file failed; null while it works. */
  private lostBytes: number | null = null;
  /** Sees every chunk the buddy carries (ReadyLine, HealthFailLine); not what a pipe program reads. */
  watch: (chunk: Buffer) => void = () => undefined;

  constructor(
    private readonly spec: OutputSpec,
    private readonly context: () => SpawnContext,
    private readonly log: (message: string) => void,
    /** The stream this channel carries, as its events name it. */
    private readonly stream: 'stdout' | 'stderr',
    /** Records output_failed and output_resumed. */
    private readonly emit: (event: EventOf<'output_failed'> | EventOf<'output_resumed'>) => void = () => undefined,
    /** When a pipe program is started again, or an adopted one looked for; injected for unit tests. */
    private readonly clock: Pick<Clock, 'setTimeout'> = REAL_CLOCK,
  ) {}

  /** The pipe program running now, if any (recorded in the status file for the next buddy). */
  get pipe(): ProcessRef | null {
    return this.piper;
  }

  /** Start carrying output; `previous` is a pipe program a lost buddy left running, to adopt. */
  open(previous: ProcessRef | null = null, fifo: number | null = null): void {
    // `fifo`: the FIFO a channel before this one held (a reconfigure), taken over through its descriptor:
    // the service writes into that FIFO, even if its name was deleted and another made since.
    if (fifo === null) ensureFifo(this.spec.fifo);
    const path = fifo === null ? this.spec.fifo : `/proc/self/fd/${fifo}`;
    // Held read-write: a reader always exists for the service, and readers never see end-of-file.
    try {
      this.keeper = openSync(path, constants.O_RDWR);
      this.handle = openSync(path, constants.O_RDWR);
    } finally {
      if (fifo !== null) closeSync(fifo);
    }
    if (this.spec.pipeScript) {
      if (previous && processAlive(previous.pid, previous.startTime)) this.adoptPipe(previous);
      else this.startPipe();
      return;
    }
    if (previous && processAlive(previous.pid, previous.startTime)) signalGroup(previous.pid, 'SIGTERM'); // no longer configured: the lost buddy's reader must not compete
    const sink = new RotatingLog(this.spec.file, this.spec.maxBytes, this.spec.keep, !this.spec.redirected);
    this.sink = sink;
    if (sink.error) this.failed(sink.error, 0);
    if (this.spec.timestamps) this.stamper = new LineStamper(!sink.endsMidLine);
    this.reader = new Socket({ fd: this.keeper, readable: true, writable: false });
    this.keeper = null; // the socket owns it now
    this.reader.on('error', (err) => this.log(`reading ${this.spec.fifo}: ${err.message}`));
    this.reader.on('data', (chunk: Buffer) => this.carry(chunk));
  }

  /** Forget the output kept so far (the service starts again). */
  resetTail(): void {
    this.tail = new TailBuffer(TAIL_KEEP_BYTES);
  }

  /**
   * The last lines the service wrote (at most TAIL_LINES lines and TAIL_BYTES bytes), after taking in
   * what it wrote that the buddy has not read yet: called when it exits, before its exit is recorded.
   */
  lastLines(): string {
    this.drain();
    const kept = this.tail.bytes;
    let text = kept.subarray(-TAIL_BYTES).toString('utf8');
    if (kept.length > TAIL_BYTES) text = text.slice(text.indexOf('\n') + 1); // no partial first line
    return text.replace(/\n$/, '').split('\n').slice(-TAIL_LINES).join('\n');
  }

  private carry(chunk: Buffer): void {
    this.tail.add(chunk);
    this.watch(chunk);
    try {
      this.sink?.write(this.stamper ? this.stamper.stamp(chunk) : chunk);
      const rotation = this.sink?.takeRotationFailure();
      if (rotation) this.log(`cannot rotate ${this.spec.file} (it grows past LogMaxSize; tried again in a minute): ${rotation.message}`);
      this.resumed();
    } catch (err) {
      this.failed(err as Error, chunk.length);
    }
  }

  /** Output reaches its file (or pipe program) again: told once, with what was lost. */
  private resumed(): void {
    if (this.lostBytes === null) return;
    this.log(`writing ${this.spec.file} again (${this.lostBytes} bytes of output were lost)`);
    this.emit({ type: 'output_resumed', detail: { stream: this.stream, file: this.spec.file, lostBytes: this.lostBytes } });
    this.lostBytes = null;
  }

  /** Told once, not for every chunk, until it works again (a full disk, a file gone, loses output, not the buddy). */
  private failed(err: Error, bytes: number): void {
    if (this.lostBytes === null) {
      this.log(`cannot write ${this.spec.file} (output is lost until it can be): ${err.message}`);
      this.emit({ type: 'output_failed', detail: { stream: this.stream, file: this.spec.file, error: err.message } });
    }
    this.lostBytes = (this.lostBytes ?? 0) + bytes;
  }

  /** Read, without waiting, whatever waits in the FIFO, and carry it as the reader would. */
  private drain(): void {
    if (!this.reader) return;
    try {
      this.drainFd ??= openSync(this.fifo(), constants.O_RDONLY | constants.O_NONBLOCK);
      const buf = Buffer.allocUnsafe(65536);
      for (;;) {
        const n = readSync(this.drainFd, buf, 0, buf.length, null);
        if (n <= 0) return;
        this.carry(Buffer.from(buf.subarray(0, n)));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') this.log(`reading ${this.spec.fifo}: ${(err as Error).message}`);
    }
  }

  /** A new descriptor of this channel's FIFO, for the channel that replaces it (`open(…, fifo)`). */
  handOver(): number | null {
    return this.handle === null ? null : openSync(this.fifo(), constants.O_RDWR);
  }

  /** The FIFO's path: through the held descriptor while it is open. */
  private fifo(): string {
    return this.handle === null ? this.spec.fifo : `/proc/self/fd/${this.handle}`;
  }

  /** A new descriptor for the service's stdout or stderr; the caller closes it after spawning. */
  serviceFd(): number {
    return openSync(this.fifo(), constants.O_RDWR);
  }

  close(): void {
    this.closing = true;
    this.timer?.clear();
    // (A pipe program runs in a session of its own; an adopted one is signalled only if it is still that process.)
    if (this.piper && processAlive(this.piper.pid, this.piper.startTime)) signalGroup(this.piper.pid, 'SIGTERM');
    this.reader?.destroy();
    this.discarder?.destroy();
    this.discarder = null;
    this.sink?.close();
    if (this.drainFd !== null) closeSync(this.drainFd);
    this.drainFd = null;
    if (this.keeper !== null) closeSync(this.keeper);
    this.keeper = null;
    if (this.handle !== null) closeSync(this.handle);
    this.handle = null;
  }

  /**
   * Start the pipe program. When it cannot be (its output file refused, no descriptor left), the FIFO
   * is drained meanwhile and its output lost and told (the service must never block), and it is tried
   * again PIPE_RESTART_MS later.
   */
  private startPipe(): void {
    if (this.closing) return;
    const fds: number[] = [];
    try {
      const ctx = this.context();
      fds.push(openSync(this.fifo(), constants.O_RDONLY));
      fds.push(openOutputFile(this.spec.file, !this.spec.redirected, true));
      fds.push(openLogFile(this.spec.pipeErrors));
      const child = spawnScript(this.spec.pipeScript!, [], fds, ctx);
      const pid = child.pid;
      this.piper = pid === undefined ? null : { pid, startTime: processStartTime(pid) ?? 0 };
      child.on('error', (err) => this.log(`pipe program ${this.spec.pipeScript}: ${err.message}`));
      child.on('exit', (code, signal) => this.pipeGone(`${signal ?? code}`));
      this.discarder?.destroy();
      this.discarder = null;
      this.resumed();
    } catch (err) {
      this.failed(err as Error, 0);
      this.discard();
      this.timer = this.clock.setTimeout(() => this.startPipe(), PIPE_RESTART_MS);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }

  /** While no pipe program reads the FIFO: read it here, keep the last output, count the rest as lost. */
  private discard(): void {
    if (this.discarder) return;
    try {
      this.discarder = new Socket({
        fd: openSync(this.fifo(), constants.O_RDONLY | constants.O_NONBLOCK),
        readable: true,
        writable: false,
      });
    } catch (err) {
      this.log(`reading ${this.spec.fifo}: ${(err as Error).message}`);
      return;
    }
    this.discarder.on('error', () => undefined);
    this.discarder.on('data', (chunk: Buffer) => {
      this.tail.add(chunk);
      this.lostBytes = (this.lostBytes ?? 0) + chunk.length;
    });
  }

  private adoptPipe(previous: ProcessRef): void {
    this.piper = previous;
    this.log(`adopted pipe program ${previous.pid} of ${this.spec.fifo}`);
    const check = (): void => {
      if (processAlive(previous.pid, previous.startTime)) this.timer = this.clock.setTimeout(check, ADOPTED_PIPE_CHECK_MS);
      else this.pipeGone('unknown');
    };
    this.timer = this.clock.setTimeout(check, ADOPTED_PIPE_CHECK_MS);
  }

  private pipeGone(how: string): void {
    this.piper = null;
    if (this.closing) return;
    this.log(`pipe program ${this.spec.pipeScript} exited (${how}); restarting in ${PIPE_RESTART_MS} ms`);
    this.timer = this.clock.setTimeout(() => this.startPipe(), PIPE_RESTART_MS);
  }
}
