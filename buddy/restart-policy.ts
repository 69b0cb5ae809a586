// When may a wanted service start again? Pure: rate limit, jitter and runaway window, on given times.

export interface RestartPolicy {
  /** Milliseconds between two starts (start to start). */
  rateLimitMs: number;
  /** Add a uniformly random 0–50 % of rateLimitMs. */
  randomize: boolean;
  /** More than this many starts within windowMs hold further starts; <0: no limit. */
  maxRestarts: number;
  windowMs: number;
}

export type RestartPlan = { kind: 'now' } | { kind: 'delay'; until: number; reason: 'ratelimit' | 'runaway' };

/** Share of the rate limit that RandomizeRateLimit may add, at most. */
export const JITTER_SHARE = 0.5;
/**
 * A hold is a runaway hold only when the window delays the start by at least this much beyond the
 * rate limit: a crash loop at the rate limit meets the window's edge a few ms late now and then,
 * which is no hold a person would notice or act on (it is counted as the rate limit's).
 */
export const RUNAWAY_NOTICEABLE_MS = 100;

/**
 * `starts` holds the times of recent starts, oldest first. A start at time t is allowed when at most
 * `maxRestarts` earlier starts fall within (t - windowMs, t]: the first start plus maxRestarts restarts
 * fit in any window; the next is held until the oldest of them leaves the window.
 */
export function planRestart(policy: RestartPolicy, starts: readonly number[], now: number, random: () => number): RestartPlan {
  const last = starts.length > 0 ? starts[starts.length - 1]! : undefined;
  const jitter = policy.randomize ? random() * JITTER_SHARE : 0;
  const rateUntil = last === undefined ? now : last + Math.round(policy.rateLimitMs * (1 + jitter));

  let runawayUntil = now;
  if (policy.maxRestarts >= 0) {
    const recent = starts.filter((t) => t > now - policy.windowMs);
    if (recent.length > policy.maxRestarts) {
      runawayUntil = recent[recent.length - policy.maxRestarts - 1]! + policy.windowMs;
    }
  }

  const until = Math.max(rateUntil, runawayUntil);
  if (until <= now) return { kind: 'now' };
  const byWindow = runawayUntil - Math.max(rateUntil, now);
  return { kind: 'delay', until, reason: byWindow >= RUNAWAY_NOTICEABLE_MS ? 'runaway' : 'ratelimit' };
}

/** Drop start times that no longer matter to the window (keeps the array small for long-lived buddies). */
export function pruneStarts(starts: number[], policy: RestartPolicy, now: number): number[] {
  const keep = Math.max(policy.maxRestarts + 1, 1);
  const recent = starts.filter((t) => t > now - policy.windowMs);
  const last = starts[starts.length - 1];
  if (recent.length === 0 && last !== undefined) return [last];
  return recent.slice(-keep);
}
