// Following one output file by its path, as `tail -F` does: the last lines first, then each whole line as it
// is appended; across a rotation (FILE renamed to FILE.1, a new FILE begun) the rest of the old file is read,
// then any file rotated in between, then the new one; a file that shrank is read again from its start.
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

const NEWLINE = 10;
/** History is read backwards in blocks of this size, at most HISTORY_MAX_BYTES of a file. */
const BLOCK = 16 * 1024;
const HISTORY_MAX_BYTES = 1024 * 1024;
/** Most bytes one check reads (the rest is read at once after, `more`): at most some 40,000 short lines made objects at a time. */
const CHECK_MAX_BYTES = 256 * 1024;
/** A line longer than this, still without its newline, is handed out in pieces of this size. */
const PARTIAL_MAX_BYTES = 1024 * 1024;
/** Rotated files looked at, FILE.1 … FILE.N, when looking for those rotated in between. */
const ROTATED_MAX = 1000;

interface Opened {
  fd: number;
  ino: number;
  dev: number;
}

export class LogFile {
  private file: Opened | null = null;
  private offset = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The last check stopped at CHECK_MAX_BYTES: there is more to read at once. */
  more = false;

  constructor(readonly path: string) {}

  /**
   * Begin following at the end of the file: returns its last `lines` whole lines (and, when the file has
   * fewer, the last of FILE.1). A line not yet ended is read when it ends. A file that does not exist
   * yet is followed from its first byte once it does.
   */
  start(lines: number): string[] {
    this.file = openFile(this.path);
    if (!this.file) return lines > 0 ? lastLines(openFile(`${this.path}.1`), Infinity, lines).lines : [];
    const size = fstatSync(this.file.fd).size;
    // Follow from just after the last newline: a line still being written is read when it ends.
    this.offset = followFrom(this.file.fd, size);
    if (lines <= 0) return [];
    const own = lastLines(this.file, this.offset, lines, false);
    if (own.lines.length >= lines || !own.whole) return own.lines;
    const previous = openFile(`${this.path}.1`);
    if (previous && previous.ino === this.file.ino && previous.dev === this.file.dev) {
      closeSync(previous.fd);
      return own.lines;
    }
    return [...lastLines(previous, Infinity, lines - own.lines.length).lines, ...own.lines];
  }

  /** The whole lines appended since the last check, across a rotation or a truncation. */
  check(): string[] {
    const out: string[] = [];
    if (!this.file) {
      this.file = openFile(this.path);
      if (!this.file) return out;
      this.offset = 0;
    }
    this.readNew(out);
    if (this.more) return out;
    const now = statOrNull(this.path);
    if (now && (now.ino !== this.file.ino || now.dev !== this.file.dev)) this.rotated(out);
    else if (now && now.size < this.offset) {
      // Shrunk in place (truncated, as logrotate's copytruncate does): read it again from its start.
      this.offset = 0;
      this.dropPartial(out);
      this.readNew(out);
    }
    return out;
  }

  close(): void {
    if (this.file) closeSync(this.file.fd);
    this.file = null;
  }

  /**
   * FILE is another file now. The old one was closed by its writer before the rename, so what it holds
   * is final: read the rest of it, then the files rotated after it (FILE.k … FILE.1, oldest first:
   * those up to the old one, or when it is gone, those last written after it), then the new FILE from
   * its start.
   */
  private rotated(out: string[]): void {
    const old = this.file!;
    this.readNew(out, Infinity);
    this.dropPartial(out);
    const ended = fstatSync(old.fd).mtimeMs;
    closeSync(old.fd);
    this.file = null;
    const next = openFile(this.path);
    const between: Opened[] = [];
    for (let k = 1; k <= ROTATED_MAX; k++) {
      const f = openFile(`${this.path}.${k}`);
      if (!f) break;
      const same = (o: Opened | null): boolean => o !== null && f.ino === o.ino && f.dev === o.dev;
      // Ours, or older than ours (ours was rotated out, and this one was left by a larger LogKeep): the end.
      if (same(old) || fstatSync(f.fd).mtimeMs < ended) {
        closeSync(f.fd);
        break;
      }
      if (same(next)) {
        // Rotated again after it was opened: what lies before it in the scan is newer than it (read later).
        for (const b of between.splice(0)) closeSync(b.fd);
        closeSync(f.fd);
        continue;
      }
      between.push(f);
    }
    for (const f of between.reverse()) {
      this.file = f;
      this.offset = 0;
      this.readNew(out, Infinity);
      this.dropPartial(out);
      closeSync(f.fd);
    }
    this.file = next;
    this.offset = 0;
    if (next) this.readNew(out);
  }

  /** Read from the offset to the end of the file (at most `limit` bytes), whole lines into `out`. */
  private readNew(out: string[], limit = CHECK_MAX_BYTES): void {
    this.more = false;
    const fd = this.file!.fd;
    const buf = Buffer.allocUnsafe(64 * 1024);
    let read = 0;
    for (;;) {
      if (read >= limit) {
        this.more = true;
        return;
      }
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      if (n === 0) return;
      this.offset += n;
      read += n;
      this.take(buf.subarray(0, n), out);
    }
  }

  /** Split `chunk` into lines, joined to the line begun before it. */
  private take(chunk: Buffer, out: string[]): void {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      const piece = chunk.subarray(from, nl);
      if (this.partialBytes > 0) {
        this.partial.push(piece);
        out.push(Buffer.concat(this.partial).toString('utf8'));
        this.partial = [];
        this.partialBytes = 0;
      } else {
        out.push(piece.toString('utf8'));
      }
      from = nl + 1;
    }
    if (from < chunk.length) {
      this.partial.push(Buffer.from(chunk.subarray(from)));
      this.partialBytes += chunk.length - from;
      if (this.partialBytes >= PARTIAL_MAX_BYTES) this.dropPartial(out);
    }
  }

  /** A line that will never end (its file is done), or a piece too long to hold: hand it out as it is. */
  private dropPartial(out: string[]): void {
    if (this.partialBytes > 0) out.push(Buffer.concat(this.partial).toString('utf8'));
    this.partial = [];
    this.partialBytes = 0;
  }
}

function openFile(path: string): Opened | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    return null;
  }
  return { fd, ino: st.ino, dev: st.dev };
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * Where following begins: just after the last newline before `end`; the start of the file when it has
 * none; `end` when none is within HISTORY_MAX_BYTES (the rest of that long line then comes as a line).
 */
function followFrom(fd: number, end: number): number {
  const buf = Buffer.allocUnsafe(BLOCK);
  let pos = end;
  while (pos > 0 && end - pos < HISTORY_MAX_BYTES) {
    const from = Math.max(0, pos - BLOCK);
    const n = readSync(fd, buf, 0, pos - from, from);
    const nl = buf.subarray(0, n).lastIndexOf(NEWLINE);
    if (nl >= 0) return from + nl + 1;
    pos = from;
  }
  return pos === 0 ? 0 : end;
}

/**
 * The last `count` lines of the bytes before `end` (Infinity: the whole file, its last line even
 * without a newline), read backwards, at most HISTORY_MAX_BYTES; `whole` when that reached the start.
 * Closes the file afterwards unless `close` is false.
 */
function lastLines(file: Opened | null, end: number, count: number, close = true): { lines: string[]; whole: boolean } {
  if (!file) return { lines: [], whole: true };
  try {
    const stop = end === Infinity ? fstatSync(file.fd).size : end;
    const blocks: Buffer[] = [];
    let newlines = 0;
    let pos = stop;
    while (pos > 0 && stop - pos < HISTORY_MAX_BYTES && newlines <= count) {
      const from = Math.max(0, pos - BLOCK);
      const buf = Buffer.allocUnsafe(pos - from);
      readSync(file.fd, buf, 0, buf.length, from);
      blocks.unshift(buf);
      for (let i = buf.indexOf(NEWLINE); i >= 0; i = buf.indexOf(NEWLINE, i + 1)) newlines++;
      pos = from;
    }
    const whole = pos === 0;
    let text = Buffer.concat(blocks).toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    if (text === '') return { lines: [], whole };
    const all = text.split('\n');
    if (!whole) all.shift(); // the read began inside that line
    return { lines: all.slice(-count), whole };
  } finally {
    if (close) closeSync(file.fd);
  }
}
