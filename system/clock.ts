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

/** Node fires a timer of more than this many ms (about 24.8 days) after 1 ms: longer ones are set again in parts. */
const TIMER_MAX_MS = 2 ** 31 - 1;

export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => {
    let timer: NodeJS.Timeout;
    const arm = (left: number): void => {
      timer = setTimeout(left > TIMER_MAX_MS ? () => arm(left - TIMER_MAX_MS) : run, Math.min(left, TIMER_MAX_MS));
    };
    arm(ms);
    return { clear: () => clearTimeout(timer) };
  },
  sleep: (ms) => new Promise((resolve) => REAL_CLOCK.setTimeout(resolve, ms)),
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
