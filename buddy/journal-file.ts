// The buddy's journal: the oldest undelivered events, on disk, when the ring overflows and no
// controller takes them. Appended in order; read and acknowledged from the front; removed when empty.
import { closeSync, existsSync, ftruncateSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { journalLine, readJournal, type JournalHeader } from '../schema/journal.js';
import type { BuddyEvent } from '../schema/records.js';

export class JournalFile {
  private fd: number | null = null;
  /** Unacknowledged events in the file, and the offset of the first one. */
  private count = 0;
  private offset = 0;
  /** Bytes written to the file: where the next line goes. */
  private end = 0;
  /** Where each event handed out by the last `peek` ends, to move `offset` on acknowledgement. */
  private handedOut: { seq: number; end: number }[] = [];
  /** The highest seq the front of the file was last read past on an acknowledgement (no read for less). */
  private lastReadPast = 0;

  constructor(
    private readonly path: string,
    private readonly header: JournalHeader,
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * Append an event; throws when it cannot be written (a full disk), leaving the file as it was (a
   * line cut short is cut off again), so the caller can count the event as lost.
   */
  append(event: BuddyEvent): void {
    if (this.fd === null) {
      const fd = openSync(this.path, 'w', 0o600);
      try {
        const head = journalLine(this.header);
        writeSync(fd, head);
        this.offset = this.end = Buffer.byteLength(head);
      } catch (err) {
        closeSync(fd);
        unlinkSync(this.path);
        throw err;
      }
      this.fd = fd;
    }
    const line = Buffer.from(journalLine(event));
    try {
      for (let off = 0; off < line.length;) off += writeSync(this.fd, line, off);
    } catch (err) {
      try {
        ftruncateSync(this.fd, this.end);
      } catch {
        /* the reader skips a damaged line */
      }
      throw err;
    }
    this.end += line.length;
    this.count += 1;
  }

  peek(max: number): BuddyEvent[] {
    if (this.count === 0) return [];
    const read = readJournal(this.path, this.offset, Math.min(max, this.count));
    this.handedOut = read.events.map((r) => ({ seq: r.event.seq, end: r.end }));
    return read.events.map((r) => r.event);
  }

  /**
   * Acknowledge up to `seq`; the file goes when nothing is left. Events that overflowed from the
   * ring into the file after the last peek (while what was peeked from the ring was being delivered)
   * may be acknowledged too: they are found by reading on from the front.
   */
  ack(seq: number): void {
    // Nothing handed out from the file: what was acknowledged came from the ring (see above).
    const fromRing = this.handedOut.length === 0;
    let done = 0;
    for (const h of this.handedOut) {
      if (h.seq > seq) break;
      this.offset = h.end;
      done += 1;
    }
    this.handedOut = this.handedOut.slice(done);
    this.count -= done;
    if (fromRing && this.count > 0 && seq > this.lastReadPast) {
      for (const r of readJournal(this.path, this.offset, this.count).events) {
        if (r.event.seq > seq) break;
        this.offset = r.end;
        this.count -= 1;
      }
      this.lastReadPast = seq;
    }
    if (this.count === 0) this.remove();
  }

  /** Close the file and leave it as journal.<instance> for the controller to take in. */
  retire(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    renameSync(this.path, `${this.path}.${this.header.instance}`);
  }

  private remove(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.handedOut = [];
    if (existsSync(this.path)) unlinkSync(this.path);
  }
}

/** At a buddy's start: a journal a lost predecessor left becomes journal.<its instance>. */
export function setAsideOldJournal(path: string): string | null {
  if (!existsSync(path)) return null;
  let instance = 'unknown';
  try {
    instance = readJournal(path, 0, 0).header?.instance ?? instance;
  } catch {
    /* unreadable header: keep it under a name the controller still tries */
  }
  const aside = `${path}.${instance}`;
  renameSync(path, aside);
  return aside;
}
