// What the audit counts as a failure, one definition for every query that needs it
// (docs/correlation.md, "What is counted"). The trends count the failed runs only (FAILED_RUN);
// `upk why`, `upk correlate` and the chain of failures also count a run its buddy ended for a failed
// health check or a limit passed (RUN_ENDING_HEALTH), which closes as `stopped`.

/** A run that failed (on a row of runs): an exit nobody asked for, or a start that could not execute. */
export const FAILED_RUN = `outcome IN ('failed', 'spawn_failed')`;

/** The condition of the partial index events_health (migration 010), word for word: a query uses it only if it repeats it. */
export const EVENTS_HEALTH = `type IN ('unhealthy', 'limit_exceeded', 'start_timeout')`;

/** The action of an `unhealthy` or `limit_exceeded` event (on a row of events) that ended the run. */
export const RUN_ENDING_ACTION = `json_extract(detail, '$.action') IN ('restart', 'stop')`;

/** An event (on a row of events) by which the buddy ended its run: a failed health check or a limit passed, with action restart or stop. */
export const RUN_ENDING_HEALTH = `type IN ('unhealthy', 'limit_exceeded') AND ${RUN_ENDING_ACTION}`;

/**
 * The health events `upk correlate` counts as failures: RUN_ENDING_HEALTH, and a `start_timeout`,
 * which the buddy counts towards MaxConsecutiveFailures (docs/correlation.md).
 */
export const FAILURE_EVENT = `(type = 'start_timeout' OR (${RUN_ENDING_HEALTH}))`;
