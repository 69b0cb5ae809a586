// Appends one of the service's output streams to its file, rotating by size at a line boundary:
// FILE becomes FILE.1, FILE.1 becomes FILE.2 … up to LogKeep files. The buddy is the only writer
// (it drains the FIFO), so rotation needs nothing of the service and loses nothing.
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { makeLogFilePrivate, openLogFile } from '../system/files.js';

const NEWLINE = 10;

export class RotatingLog {
  private fd: number;
  private size = 0;
  /** The file does not end with a newline: a line is open, and must not be split across files. */
  private midLine = false;

  /**
   * `own`: the file is upkeeper's own (log/stdout, log/stderr): it and its rotated files are made
   * 0600 even when they existed with a wider mode. A user's RedirectStdout/RedirectStderr file
   * (false) keeps the mode its owner gave it; a new one is created 0600.
   */
  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
    private readonly own = true,
  ) {
    this.fd = this.open();
    if (own) for (let i = 1; i <= keep; i++) makeLogFilePrivate(`${path}.${i}`);
  }

  write(data: Buffer): void {
    let chunk = data;
    while (chunk.length > 0) {
      const room = this.maxBytes - this.size;
      if (this.maxBytes <= 0 || chunk.length <= room) return this.append(chunk);
      // End this file after the last whole line that fits …
      let cut = room > 0 ? chunk.lastIndexOf(NEWLINE, room - 1) : -1;
      if (cut < 0 && (this.midLine || this.size === 0)) {
        // … or, when none fits, after the line this file has begun (a long line is never split).
        cut = chunk.indexOf(NEWLINE);
        if (cut < 0) return this.append(chunk);
      }
      if (cut >= 0) {
        this.append(chunk.subarray(0, cut + 1));
        chunk = chunk.subarray(cut + 1);
      }
      this.rotate();
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The file ends without a newline: what comes next continues a line already begun. */
  get endsMidLine(): boolean {
    return this.midLine;
  }

  private append(buf: Buffer): void {
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done);
    this.size += buf.length;
    this.midLine = buf[buf.length - 1] !== NEWLINE;
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.keep === 0) {
      unlinkSync(this.path);
    } else {
      const name = (i: number): string => `${this.path}.${i}`;
      if (existsSync(name(this.keep))) unlinkSync(name(this.keep));
      for (let i = this.keep - 1; i >= 1; i--) if (existsSync(name(i))) renameSync(name(i), name(i + 1));
      renameSync(this.path, name(1));
    }
    this.fd = this.open();
  }

  private open(): number {
    const fd = this.own ? openLogFile(this.path) : openSync(this.path, 'a', 0o600);
    this.size = fstatSync(fd).size;
    this.midLine = false;
    if (this.size > 0) {
      const last = Buffer.alloc(1);
      const rd = openSync(this.path, 'r');
      readSync(rd, last, 0, 1, this.size - 1);
      closeSync(rd);
      this.midLine = last[0] !== NEWLINE;
    }
    return fd;
  }
}
