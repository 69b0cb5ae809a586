// The controller's time, injected into the parts whose policy depends on it (the poller, the buddies'
// relaunch backoff, a reload's settle time), so that unit tests drive that policy on virtual time.

export interface Timers {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Call `fn` after `ms`; the function returned cancels it (calling it later does nothing). */
  after(ms: number, fn: () => void): () => void;
  /** Resolve after `ms`. */
  sleep(ms: number): Promise<void>;
}

export const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Wait until `done()` (checked every 20 ms); false if it is not after `ms`. */
export async function waitUntil(done: () => boolean, ms: number, timers: Timers = REAL_TIMERS): Promise<boolean> {
  const deadline = timers.now() + ms;
  while (!done()) {
    if (timers.now() >= deadline) return false;
    await timers.sleep(20);
  }
  return true;
}
