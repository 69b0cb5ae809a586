// The time a policy runs on: the real clock, or a test's virtual one (the policy is then tested in milliseconds).

/** A timer set on a clock: `clear` cancels it (harmless once it has fired). */
export interface Timer {
  clear(): void;
}

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /** Calls `run` once `ms` have passed, as setTimeout does. */
  setTimeout(run: () => void, ms: number): Timer;
  /** Resolves once `ms` have passed. */
  sleep(ms: number): Promise<void>;
}

export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => {
    const timer = setTimeout(run, ms);
    return { clear: () => clearTimeout(timer) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Wait until `done()` (checked every 20 ms); false if it is not after `ms`. */
export async function waitUntil(done: () => boolean, ms: number, clock: Pick<Clock, 'now' | 'sleep'> = REAL_CLOCK): Promise<boolean> {
  const deadline = clock.now() + ms;
  while (!done()) {
    if (clock.now() >= deadline) return false;
    await clock.sleep(20);
  }
  return true;
}
