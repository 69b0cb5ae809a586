// A clock for unit tests: time moves only when the test moves it, and the timers that fall due on
// the way run at their time, in order; a test of a policy on it waits for nothing.
import type { Clock, Timer } from '../../system/clock.js';

interface Pending {
  at: number;
  seq: number;
  run: () => void;
}

/** Let every promise chain that can move, move (a few turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  constructor(start = 1_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): Timer {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, run };
    this.pending.add(timer);
    return { clear: () => void this.pending.delete(timer) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Move time on by `ms`, running each timer due by then at its own time (a timer it sets runs too, if due). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let next = this.next(); next !== null && next.at <= end; next = this.next()) {
      this.pending.delete(next);
      this.time = next.at;
      next.run();
    }
    this.time = end;
  }

  /** As `advance`, for a policy that awaits: promise chains settle after each timer, before the next is due. */
  async pass(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (let next = this.next(); next !== null && next.at <= end; next = this.next()) {
      this.pending.delete(next);
      this.time = next.at;
      next.run();
      await settle();
    }
    this.time = end;
  }

  /** How long until the next timer is due, or null when none is set. */
  get untilNext(): number | null {
    const next = this.next();
    return next === null ? null : next.at - this.time;
  }

  private next(): Pending | null {
    let first: Pending | null = null;
    for (const p of this.pending) if (first === null || p.at < first.at || (p.at === first.at && p.seq < first.seq)) first = p;
    return first;
  }
}
