// Appends one of the service's output streams to its file, rotating by size at a line boundary:
// FILE becomes FILE.1, FILE.1 becomes FILE.2 … up to LogKeep files. The buddy is the only writer
// (it drains the FIFO), so rotation needs nothing of the service and loses nothing.
import { closeSync, existsSync, fstatSync, mkdirSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { inFolder, makeLogFilePrivate, openFolder, openOutputFileIn, stillNamed } from '../schema/output-file.js';

const NEWLINE = 10;

/** A file that could not be opened is tried again at most this often (on the next write after it). */
const REOPEN_MS = 1000;
/** After a rotation failed, the file grows past LogMaxSize this long before the next try. */
const ROTATION_RETRY_MS = 60_000;
/** How often the path is checked to still name the open file (moved or deleted by someone else). */
const CHECK_PATH_MS = 1000;

export class RotatingLog {
  /** Null while the file cannot be opened: output is lost (the caller says so once) until it can be. */
  private fd: number | null = null;
  private size = 0;
  /** The file does not end with a newline: a line is open, and must not be split across files. */
  private midLine = false;
  private failure: Error | null = null;
  private retryAt = 0;
  private checkAt = 0;
  /** A regular file (rotated); /dev/null is written and never rotated, never renamed. */
  private regular = true;
  private noRotationUntil = 0;
  private rotationFailure: Error | null = null;
  /**
   * The file's folder, held open (reached by `openFolder`): rotation renames and checks happen in it
   * through the descriptor, so that a link planted on the path later leads nowhere else.
   */
  private dir: number | null = null;
  private readonly name: string;

  /**
   * `own`: the file is upkeeper's own (log/stdout, log/stderr): it and its rotated files are made
   * 0600 even when they existed with a wider mode. A user's RedirectStdout/RedirectStderr file
   * (false) keeps the mode its owner gave it; a new one is created 0600. Never throws: a file that
   * cannot be opened (a directory, a FIFO, a symbolic link, a missing folder) is `failure`, and each
   * write tries again, at most once a second.
   */
  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
    private readonly own = true,
  ) {
    this.name = basename(path);
    this.reopen();
    if (own)
      for (let i = 1; i <= keep; i++) {
        try {
          if (this.dir !== null) makeLogFilePrivate(inFolder(this.dir, `${this.name}.${i}`));
        } catch {
          /* a rotated file that cannot be made private is left as it is */
        }
      }
  }

  /** Why the file is not open now, or null. */
  get error(): Error | null {
    return this.failure;
  }

  /** Append `data`, rotating as it goes; throws why it could not (the output is then lost). */
  write(data: Buffer): void {
    this.checkPath();
    if (this.fd === null) {
      if (Date.now() < this.retryAt || !this.reopen()) throw this.failure!;
    }
    let chunk = data;
    while (chunk.length > 0) {
      const room = this.maxBytes - this.size;
      // No rotation for /dev/null, nor for a while after one failed (the file grows past the limit).
      if (this.maxBytes <= 0 || !this.regular || chunk.length <= room || Date.now() < this.noRotationUntil) return this.append(chunk);
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

  private closeFile(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) closeQuietly(fd);
  }

  /** A name in the file's folder, through its descriptor. */
  private at(name: string): string {
    return inFolder(this.dir!, name);
  }

  /** Close the file and its folder; never throws, and may be called again. */
  close(): void {
    this.closeFile();
    if (this.dir !== null) closeQuietly(this.dir);
    this.dir = null;
  }

  /** The file ends without a newline: what comes next continues a line already begun. */
  get endsMidLine(): boolean {
    return this.midLine;
  }

  private append(buf: Buffer): void {
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd!, buf, done);
    this.size += buf.length;
    this.midLine = buf[buf.length - 1] !== NEWLINE;
  }

  /** FILE → FILE.1 → … FILE.keep, then a new FILE. A file gone meanwhile (deleted by hand) is simply begun again. */
  private rotate(): void {
    this.closeFile();
    let failed: unknown = null;
    try {
      if (this.keep === 0) {
        unlinkSync(this.at(this.name));
      } else {
        const name = (i: number): string => this.at(`${this.name}.${i}`);
        if (existsSync(name(this.keep))) unlinkSync(name(this.keep));
        for (let i = this.keep - 1; i >= 1; i--) if (existsSync(name(i))) renameSync(name(i), name(i + 1));
        renameSync(this.at(this.name), name(1));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed = err;
    }
    if (!this.reopen(false)) throw this.failure!;
    if (failed) {
      // The output is not lost: it goes on into the same file, past LogMaxSize, and rotation is tried
      // again a minute later. Told once by the caller (rotationFailure).
      this.noRotationUntil = Date.now() + ROTATION_RETRY_MS;
      this.rotationFailure = failed as Error;
    }
  }

  /** Why the last rotation failed, once: the caller tells it (the output itself is kept). */
  takeRotationFailure(): Error | null {
    const failure = this.rotationFailure;
    this.rotationFailure = null;
    return failure;
  }

  /**
   * Once a second: is the file at the path still the one being written? Moved away (logrotate without
   * copytruncate) or deleted, a new one is begun at the path, as s6-log and svlogd would.
   */
  private checkPath(): void {
    if (this.fd === null || Date.now() < this.checkAt) return;
    this.checkAt = Date.now() + CHECK_PATH_MS;
    if (!stillNamed(this.fd, this.at(this.name))) {
      this.close();
      this.reopen();
    }
  }

  /**
   * Open the file (after a failure, a rotation, or at the start); false, with `failure` set, when it
   * cannot be. `walk`: reach the folder again by its path (not after a rotation, which stays in it).
   */
  private reopen(walk = true): boolean {
    this.closeFile();
    let fd: number;
    try {
      if (walk || this.dir === null) {
        if (this.dir !== null) closeQuietly(this.dir);
        this.dir = null;
        // The run directory's log/ is upkeeper's own: made again if someone deleted it.
        if (this.own) mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
        this.dir = openFolder(dirname(this.path));
      }
      fd = openOutputFileIn(this.dir, this.name, this.path, this.own);
    } catch (err) {
      this.failure = err as Error;
      this.retryAt = Date.now() + REOPEN_MS;
      return false;
    }
    this.fd = fd;
    this.failure = null;
    this.checkAt = Date.now() + CHECK_PATH_MS;
    const st = fstatSync(fd);
    this.regular = st.isFile();
    this.size = st.size;
    this.midLine = false;
    if (this.regular && this.size > 0) {
      const last = Buffer.alloc(1);
      try {
        readSync(fd, last, 0, 1, this.size - 1);
        this.midLine = last[0] !== NEWLINE;
      } catch {
        /* write-only (or /dev/null): taken as ending with a newline */
      }
    }
    return true;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* nothing is left to do with it */
  }
}
