// Virtual time for unit tests of the controller's policy (controller/timers.ts): nothing waits for
// real; `advance` runs every timer that falls due, in time order, letting promises settle between.
import type { Timers } from '../../controller/timers.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Let every promise chain that can move, move (a few turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export class VirtualTimers implements Timers {
  private t = 0;
  private seq = 0;
  private pending: Pending[] = [];

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(p);
    return () => {
      this.pending = this.pending.filter((x) => x !== p);
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Timers waiting now. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Move time on by `ms`, running each timer as its moment comes (and what it sets off, before the next). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const next = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
  }
}
