// The journal file: events a buddy could not hand over, in its run directory. One definition of the
// format for the buddy that writes and serves it and the controller that takes in a lost buddy's.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { BuddyIdentity } from './buddy-protocol.js';
import type { BuddyEvent } from './records.js';

/** The first line of a journal: whose events these are. */
export interface JournalHeader extends BuddyIdentity {
  journal: 1;
}

export const journalLine = (value: JournalHeader | BuddyEvent): string => JSON.stringify(value) + '\n';

export interface JournalRead {
  header: JournalHeader | null;
  /** Events read, each with the byte offset just after its line. */
  events: { event: BuddyEvent; end: number }[];
  /** Offset just after the header line. */
  bodyStart: number;
}

/** Most bytes one read takes from a journal. */
const READ_BYTES = 1 << 20;

/**
 * Read up to `max` events from `offset` (0: from the start, header included). Only whole lines are
 * taken: a line cut by a crash while it was written is left for later (and ignored at the end).
 */
export function readJournal(file: string, offset: number, max: number): JournalRead {
  const fd = openSync(file, 'r');
  try {
    // No more than the file holds past `offset`; only the bytes read are ever looked at.
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(READ_BYTES, fstatSync(fd).size - offset)));
    const n = readSync(fd, buf, 0, buf.length, offset);
    let pos = 0;
    let header: JournalHeader | null = null;
    let bodyStart = offset;
    const events: JournalRead['events'] = [];
    for (;;) {
      const wantHeader = offset === 0 && pos === 0;
      if (events.length >= max && !wantHeader) break;
      const nl = buf.indexOf(10, pos);
      if (nl < 0 || nl >= n) break;
      const line = buf.subarray(pos, nl).toString('utf8');
      pos = nl + 1;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue; // a damaged line: skipped, never fatal
      }
      if (offset === 0 && header === null && (value as JournalHeader).journal === 1) {
        header = value as JournalHeader;
        bodyStart = offset + pos;
        continue;
      }
      events.push({ event: value as BuddyEvent, end: offset + pos });
    }
    return { header, events, bodyStart };
  } finally {
    closeSync(fd);
  }
}
