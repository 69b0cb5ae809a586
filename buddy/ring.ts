// The buddy's event ring: every event gets the next sequence number and waits here until acknowledged.
import type { BuddyEvent, EventType } from '../schema/records.js';

export type EventInit = Omit<BuddyEvent, 'seq' | 'time' | 'type'>;

/**
 * A fixed-capacity FIFO of events. When it is full the oldest event is dropped and counted; the
 * count is recorded as an `events_dropped` event as soon as an acknowledgement makes room, so loss
 * is never silent.
 */
export class EventRing {
  private slots: (BuddyEvent | undefined)[];
  private head = 0;
  private count = 0;
  private seq = 0;
  private dropped = 0;

  constructor(capacity: number, lastSeq = 0) {
    this.slots = new Array<BuddyEvent | undefined>(Math.max(1, capacity));
    this.seq = lastSeq;
  }

  get capacity(): number {
    return this.slots.length;
  }
  get pending(): number {
    return this.count;
  }
  get lastSeq(): number {
    return this.seq;
  }
  get droppedSinceReport(): number {
    return this.dropped;
  }

  push(type: EventType, init: EventInit, time: number): BuddyEvent {
    const event: BuddyEvent = { seq: ++this.seq, time, type, ...init };
    if (this.count === this.slots.length) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.slots.length;
      this.count -= 1;
      this.dropped += 1;
    }
    this.slots[(this.head + this.count) % this.slots.length] = event;
    this.count += 1;
    return event;
  }

  /** Forget every event up to and including `seq`; returns how many went. */
  ack(seq: number, now: number): number {
    let removed = 0;
    while (this.count > 0) {
      const oldest = this.slots[this.head]!;
      if (oldest.seq > seq) break;
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.slots.length;
      this.count -= 1;
      removed += 1;
    }
    if (this.dropped > 0 && this.count < this.slots.length) {
      const count = this.dropped;
      this.dropped = 0;
      this.push('events_dropped', { detail: { count } }, now);
    }
    return removed;
  }

  /** Up to `max` pending events, oldest first. */
  peek(max: number): BuddyEvent[] {
    const out: BuddyEvent[] = [];
    for (let i = 0; i < Math.min(max, this.count); i++) out.push(this.slots[(this.head + i) % this.slots.length]!);
    return out;
  }

  /** Change the capacity, keeping the newest events (older ones count as dropped). */
  resize(capacity: number): void {
    const keep = this.peek(this.count);
    const cap = Math.max(1, capacity);
    this.dropped += Math.max(0, keep.length - cap);
    const kept = keep.slice(-cap);
    this.slots = new Array<BuddyEvent | undefined>(cap);
    this.head = 0;
    this.count = kept.length;
    kept.forEach((e, i) => (this.slots[i] = e));
  }
}
