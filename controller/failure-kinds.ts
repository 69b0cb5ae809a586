// What the audit counts as a failure, one definition for every query that needs it
// (docs/correlation.md, "What is counted"). The trends count the failed runs only (FAILED_RUN);
// `upk why`, `upk correlate` and the chain of failures also count a run its buddy ended for a failed
// health check or a limit passed (RUN_ENDING_HEALTH), which closes as `stopped`.

/** A run that failed (on a row of runs): an exit nobody asked for, or a start that could not execute. */
export const FAILED_RUN = `outcome IN ('failed', 'spawn_failed')`;

/** An event (on a row of events) by which the buddy ended its run: a failed health check or a limit passed, with action restart or stop. */
export const RUN_ENDING_HEALTH = `type IN ('unhealthy', 'limit_exceeded') AND json_extract(detail, '$.action') IN ('restart', 'stop')`;

/** The same test on an event read: its type, and the action its detail names. */
export function endsRun(type: string, action: string | null | undefined): boolean {
  return (type === 'unhealthy' || type === 'limit_exceeded') && (action === 'restart' || action === 'stop');
}
