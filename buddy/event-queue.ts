// Every event a buddy records waits here, in order, until a controller has stored it: the newest in
// the ring (RingbufferSize, memory), older ones in the journal (JournalMaxEvents, disk) when the
// ring overflows. Beyond both, events are dropped and counted: an events_dropped event says so.
import { detailOf, type EventDetails, type RecordDetails } from '../schema/event-details.js';
import type { BuddyEvent, BuddyRecordType } from '../schema/records.js';
import type { JournalFile } from './journal-file.js';
import { EventRing } from './ring.js';

/** A record's fields besides its sequence number, time and type: its detail is its type's. */
export type EventInit<T extends BuddyRecordType> = Omit<BuddyEvent, 'seq' | 'time' | 'type' | 'detail'> & {
  detail?: RecordDetails[T] | null;
};

export class EventQueue {
  private readonly ring: EventRing;
  private seq = 0;
  private dropped = 0;
  private droppedFrom = 0;
  private droppedTo = 0;
  /** The newest event handed to the connected controller, not yet acknowledged (0: none). */
  private collectedTo = 0;
  /** Hears why the journal could not be written (the event is then counted as dropped). */
  onJournalError: (message: string) => void = () => undefined;

  constructor(
    capacity: number,
    private readonly journal: JournalFile,
    private journalMax: number,
  ) {
    this.ring = new EventRing(capacity);
  }

  /** Events waiting for acknowledgement, in memory and on disk. */
  get pending(): number {
    return this.ring.size + this.journal.size;
  }
  /**
   * Share of the ring (0..1) that holds events no controller has collected yet: the 75 % rule looks
   * at it. What a poll handed out waits for its acknowledgement (usage records, for the next poll),
   * but it was collected: it is not why a ring fills.
   */
  get fill(): number {
    const first = this.ring.firstSeq;
    const collected = first === undefined ? 0 : Math.max(0, Math.min(this.ring.size, this.collectedTo - first + 1));
    return (this.ring.size - collected) / this.ring.capacity;
  }

  /** A poll handed out the events up to `seq`; `0` when the controller that took them is gone. */
  collected(seq: number): void {
    this.collectedTo = seq === 0 ? 0 : Math.max(this.collectedTo, seq);
  }
  get journaled(): number {
    return this.journal.size;
  }
  get lastSeq(): number {
    return this.seq;
  }
  get droppedSinceReport(): number {
    return this.dropped;
  }

  push<T extends BuddyRecordType>(type: T, init: EventInit<T>, time: number): BuddyEvent {
    const event: BuddyEvent = { seq: ++this.seq, time, type, ...init };
    const evicted = this.ring.push(event);
    if (evicted) this.keep(evicted);
    return event;
  }

  /** Up to `max` waiting events, oldest first (the journal's before the ring's). */
  peek(max: number): BuddyEvent[] {
    const fromJournal = this.journal.peek(max);
    return fromJournal.length > 0 ? fromJournal : this.ring.peek(max);
  }

  /** Forget every event up to and including `seq`; a loss counted meanwhile is then recorded. */
  ack(seq: number, now: number): void {
    this.journal.ack(seq);
    this.ring.ack(seq);
    const room = this.ring.size < this.ring.capacity || this.journal.size < this.journalMax;
    const detail = room ? this.lossReport() : null;
    if (detail) this.push('events_dropped', { detail }, now);
  }

  /**
   * Put everything still in memory on disk (a buddy exiting with events no controller took). A loss
   * is written down too, even one event past the bound: it must never be silent.
   */
  spill(now: number): void {
    for (let e = this.ring.shift(); e; e = this.ring.shift()) this.keep(e);
    const detail = this.lossReport();
    if (!detail) return;
    try {
      this.journal.append({ seq: ++this.seq, time: now, type: 'events_dropped', detail });
    } catch (err) {
      this.onJournalError((err as Error).message);
    }
  }

  resize(capacity: number, journalMax: number): void {
    this.journalMax = journalMax;
    for (const e of this.ring.resize(capacity)) this.keep(e);
  }

  /** The loss counted since the last report, for an events_dropped event (the count starts again). */
  private lossReport(): EventDetails['events_dropped'] | null {
    if (this.dropped === 0) return null;
    const detail = { count: this.dropped, firstSeq: this.droppedFrom, lastSeq: this.droppedTo };
    this.dropped = 0;
    return detail;
  }

  private keep(event: BuddyEvent): void {
    if (this.journal.size < this.journalMax) {
      try {
        this.journal.append(event);
        return;
      } catch (err) {
        // A full disk: the event is lost, and counted like one past the bound.
        this.onJournalError((err as Error).message);
      }
    }
    // A loss record lost in its turn hands its loss on: the next record covers both, never silently.
    // firstSeq and lastSeq then bound every loss counted (events kept may lie between: count is exact).
    const earlier = detailOf(event, 'events_dropped');
    const from = Math.min(earlier.firstSeq ?? event.seq, event.seq);
    this.droppedFrom = this.dropped === 0 ? from : Math.min(this.droppedFrom, from);
    this.droppedTo = this.dropped === 0 ? event.seq : Math.max(this.droppedTo, event.seq);
    this.dropped += 1 + (earlier.count ?? 0);
  }
}
