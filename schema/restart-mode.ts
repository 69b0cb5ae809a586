// RestartMode: how `upk restart` (and CronRestart) replaces a run. "stop-start" stops the run, then
// starts a new one; "overlap" starts the new run beside the old one, which drains once the new one
// is ready (docs/configuration.md, RestartMode). One rule for the configuration check and the buddy.

export const RESTART_MODES = ['stop-start', 'overlap'] as const;
export type RestartMode = (typeof RESTART_MODES)[number];

/** Why a service's runs cannot overlap, or null when they can. */
export function overlapRefused(s: { serviceType: string; pidFile: string | null; processMatch: string | null }): string | null {
  if (s.serviceType === 'oneshot') return 'a oneshot job does not overlap its runs (ScheduleOverlap says what a run due meanwhile does)';
  if (s.serviceType === 'forking' || s.pidFile !== null || s.processMatch !== null)
    return 'a service found by PidFile or ProcessMatch (or Type forking) cannot overlap its runs: the new start would find the running one';
  return null;
}
