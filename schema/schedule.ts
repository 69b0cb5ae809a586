// Schedules as written in Schedule and CronRestart: a cron expression (read by croner, in
// schema/config/check-schedule.ts and buddy/schedule.ts) or "@every DURATION" (robfig/cron's spelling).
// Imports no package, so that what only splits the text costs nothing to load.
import { DURATION_WORDS, parseDuration } from './durations.js';

/** A schedule: runs every `ms` from when it begins, or at the times a cron expression matches. */
export type ScheduleSpec = { kind: 'every'; ms: number } | { kind: 'cron'; pattern: string };

/** The shortest @every interval: a run a second is as often as a job may be asked to start. */
export const EVERY_MIN_MS = 1000;

/** What a schedule may be, in words (configuration errors). */
export const SCHEDULE_WORDS =
  'a cron expression ("MIN HOUR DAY MONTH WEEKDAY", with an optional seconds field first, such as "*/15 * * * *" or "0 3 * * MON"; or @hourly, @daily, @weekly, @monthly, @yearly) or "@every DURATION" ("@every 30s")';

/** "@every 30s" → an interval; anything else is left to the cron reader; an @every without a duration is an error. */
export function splitSchedule(text: string): ScheduleSpec | { message: string } {
  const trimmed = text.trim();
  const every = /^@every(?:\s+(.*))?$/i.exec(trimmed);
  if (!every) return { kind: 'cron', pattern: trimmed };
  const ms = parseDuration((every[1] ?? '').trim());
  if (ms === null) return { message: `"@every" needs ${DURATION_WORDS} after it ("@every 30s")` };
  if (ms < EVERY_MIN_MS) return { message: `"@every" runs at most once a second: ${JSON.stringify(text)} is shorter` };
  return { kind: 'every', ms };
}
