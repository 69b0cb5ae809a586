// What fails together, in the client protocol: `correlate` ranks the events of other services that
// happen within a window around a service's failures (or, fleet-wide, the pairs of services whose
// failures do), against chance. Its params, records, validator and the thresholds `upk why` uses;
// client-protocol.ts adds it to ClientMethods and clientValidators. The statistic: docs/correlation.md.
import { asObject, bad, int, optInt, str, optIsoTime } from './validate.js';

/**
 * The kinds of another service's events counted around a failure: `failed` (a failure, as for the
 * service itself), `restarted` (a run began: an automatic restart or a start), `stopped` (a run ended
 * by a stop someone or something asked for), `unhealthy` (an `unhealthy` or `limit_exceeded` event),
 * `config` (its configuration changed).
 */
export const CORRELATION_KINDS = ['failed', 'restarted', 'stopped', 'unhealthy', 'config'] as const;
export type CorrelationKind = (typeof CORRELATION_KINDS)[number];

/** The window around each failure when none is given: ±30 s. */
export const CORRELATION_WINDOW_MS = 30_000;
/** The widest window: ±1 day. */
export const CORRELATION_WINDOW_MAX_MS = 86_400_000;
/** How many of a service's last failures count when the request says none, and at most. */
export const CORRELATION_FAILURES = 100;
export const CORRELATION_FAILURES_MAX = 10_000;
/** Rows one answer carries when the request says none, and at most. */
export const CORRELATION_LIMIT = 20;
export const CORRELATION_LIMIT_MAX = 1000;
/** Below this many failures the figures mean nothing: `tooFew`, and `upk why` names none. */
export const CORRELATION_MIN_FAILURES = 3;
/** What `upk why` names: a score (P) below this, from at least CORRELATION_MIN_TOGETHER failures together. */
export const CORRELATION_SIGNIFICANCE = 0.05;
export const CORRELATION_MIN_TOGETHER = 2;

/** `correlate`: around the last `failures` failures of `service` (of every service when absent) from `since` to `until`. */
export interface CorrelateQuery {
  /** The service whose failures are looked around; absent: every pair of services, failures against failures. */
  service?: string;
  /** The window: another service's event counts when it is at most this far before or after a failure. */
  windowMs: number;
  /** ISO 8601 times: the range (until: now when absent). */
  since: string;
  until?: string;
  /** How many of the last failures count (default CORRELATION_FAILURES). */
  failures?: number;
  /** Rows in the answer, the strongest first (default CORRELATION_LIMIT). */
  limit?: number;
}

/** One service's kind of events against another's failures (docs/correlation.md): what was counted, and against chance. */
export interface Correlation {
  /** The service whose failures were looked around. */
  service: string;
  /** The other service, and the kind of its events counted. */
  other: string;
  kind: CorrelationKind;
  /** Whether `other` provides one of the service's Prerequisites now (only said for a configured service). */
  prerequisite: boolean;
  /** n: the failures of `service` counted. */
  failures: number;
  /** k: of them, those with at least one such event of `other` within the window. */
  together: number;
  /** p: the chance that a window put anywhere in the range holds such an event (the share of the range its windows cover). */
  chance: number;
  /** n × p: the failures with such an event nearby expected by chance alone. */
  expected: number;
  /** (k / n) / p: how many times more often than chance; null when p is 0. */
  lift: number | null;
  /** P(X ≥ k) for X binomial (n, p): how likely so many (or more) by chance alone. The rows are ranked by it, lowest first. */
  score: number;
  /** The median, over the k failures, of the time from the failure to the nearest such event (ms; negative: before it). */
  medianOffsetMs: number | null;
  /** Of the k, those whose nearest such event came before the failure (the others: after it, or at the same millisecond). */
  before: number;
  /** Of the k, those whose nearest such event came after the failure. */
  after: number;
  /** score < CORRELATION_SIGNIFICANCE, k ≥ CORRELATION_MIN_TOGETHER and n ≥ CORRELATION_MIN_FAILURES. */
  significant: boolean;
}

/** What `correlate` answers. Times ISO 8601 UTC. */
export interface CorrelationResult {
  /** The service asked about; null for the fleet-wide view (pairs of services, failures against failures). */
  service: string | null;
  windowMs: number;
  /**
   * The range the chance is measured over: from `since`, or from where the history kept begins, or
   * (when the service failed more than `failures` times in it) from its oldest failure counted,
   * whichever is latest; to `until`. In the fleet-wide view, `since` is the earliest of the services' ranges.
   */
  since: string;
  until: string;
  /** The service's failures counted (n); in the fleet-wide view, the services that failed in the range. */
  failures: number;
  /** Fewer than CORRELATION_MIN_FAILURES failures: the figures mean nothing yet. */
  tooFew: boolean;
  /** The rows with k ≥ 1, strongest first: by score, then lift, then k. */
  correlations: Correlation[];
}

export interface CorrelationMethods {
  /** What fails together: the events of other services near a service's failures, or the pairs of services whose failures co-occur. */
  correlate: { params: CorrelateQuery; result: CorrelationResult };
}

/** Whether a correlation is one `upk why` names (CORRELATION_SIGNIFICANCE, CORRELATION_MIN_TOGETHER, CORRELATION_MIN_FAILURES). */
export function isSignificant(c: Pick<Correlation, 'failures' | 'together' | 'score'>): boolean {
  return c.failures >= CORRELATION_MIN_FAILURES && c.together >= CORRELATION_MIN_TOGETHER && c.score < CORRELATION_SIGNIFICANCE;
}

/** A correlation window in ms, as a request gives it: an integer from 1 ms to CORRELATION_WINDOW_MAX_MS. */
export function checkWindow(windowMs: number | undefined): number | undefined {
  if (windowMs !== undefined && windowMs > CORRELATION_WINDOW_MAX_MS) bad(`windowMs must be at most ${CORRELATION_WINDOW_MAX_MS} (a day)`);
  return windowMs;
}

export const correlationValidators: { [K in keyof CorrelationMethods]: (params: unknown) => CorrelationMethods[K]['params'] } = {
  correlate: (p) => {
    const o = asObject(p);
    const since = optIsoTime(o, 'since');
    if (since === undefined) bad('since must be an ISO 8601 time');
    const q: CorrelateQuery = { windowMs: checkWindow(int(o, 'windowMs', 1))!, since };
    const service = o.service === undefined || o.service === null ? undefined : str(o, 'service');
    const until = optIsoTime(o, 'until');
    const failures = optInt(o, 'failures', 1);
    const limit = optInt(o, 'limit', 1);
    if (until !== undefined && Date.parse(until) <= Date.parse(since)) bad('until must be after since');
    if (service !== undefined) q.service = service;
    if (until !== undefined) q.until = until;
    if (failures !== undefined) q.failures = Math.min(failures, CORRELATION_FAILURES_MAX);
    if (limit !== undefined) q.limit = Math.min(limit, CORRELATION_LIMIT_MAX);
    return q;
  },
};
