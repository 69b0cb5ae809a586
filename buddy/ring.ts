// The buddy's event ring: the newest events, in memory, in order, until acknowledged.
import type { BuddyEvent } from '../schema/records.js';

/** A fixed-capacity FIFO of events. A push into a full ring evicts (and returns) the oldest. */
export class EventRing {
  private slots: (BuddyEvent | undefined)[];
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    this.slots = new Array<BuddyEvent | undefined>(Math.max(1, capacity));
  }

  get capacity(): number {
    return this.slots.length;
  }
  get size(): number {
    return this.count;
  }

  /** Add the newest event; returns the oldest one when the ring was full (it is no longer held). */
  push(event: BuddyEvent): BuddyEvent | undefined {
    const evicted = this.count === this.slots.length ? this.shift() : undefined;
    this.slots[(this.head + this.count) % this.slots.length] = event;
    this.count += 1;
    return evicted;
  }

  /** Remove and return the oldest event. */
  shift(): BuddyEvent | undefined {
    if (this.count === 0) return undefined;
    const oldest = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.slots.length;
    this.count -= 1;
    return oldest;
  }

  /** Forget every event up to and including `seq`; returns how many went. */
  ack(seq: number): number {
    let removed = 0;
    while (this.count > 0 && this.slots[this.head]!.seq <= seq) {
      this.shift();
      removed += 1;
    }
    return removed;
  }

  /** The oldest event's sequence number (undefined when empty). */
  get firstSeq(): number | undefined {
    return this.count === 0 ? undefined : this.slots[this.head]!.seq;
  }

  /** Up to `max` events, oldest first. */
  peek(max: number): BuddyEvent[] {
    const out: BuddyEvent[] = [];
    for (let i = 0; i < Math.min(max, this.count); i++) out.push(this.slots[(this.head + i) % this.slots.length]!);
    return out;
  }

  /** Change the capacity; returns the oldest events that no longer fit (oldest first). */
  resize(capacity: number): BuddyEvent[] {
    const all = this.peek(this.count);
    const cap = Math.max(1, capacity);
    const overflow = all.slice(0, Math.max(0, all.length - cap));
    const kept = all.slice(overflow.length);
    this.slots = new Array<BuddyEvent | undefined>(cap);
    this.head = 0;
    this.count = kept.length;
    kept.forEach((e, i) => (this.slots[i] = e));
    return overflow;
  }
}
