// Checks a Schedule or CronRestart value: "@every DURATION", or a cron expression croner can read and
// that runs again at some time. The buddy reads it with the same library (buddy/schedule.ts).
import { Cron } from 'croner';
import { SCHEDULE_WORDS, splitSchedule } from '../schedule.js';

/** Why `text` is no schedule (naming what was expected), or null when it is one. */
export function scheduleProblem(text: string): string | null {
  const spec = splitSchedule(text);
  if ('message' in spec) return spec.message;
  if (spec.kind === 'every') return null;
  const got = JSON.stringify(text);
  let cron: Cron;
  try {
    cron = new Cron(spec.pattern);
  } catch (err) {
    // croner's own words say which field is wrong ("CronPattern: Invalid value for minute: 61").
    const why = (err as Error).message.replace(/^CronPattern:\s*/, '');
    return `expected ${SCHEDULE_WORDS}; got ${got}: ${why}`;
  }
  // croner also takes a date ("2030-01-01T00:00:00") as a one-time run: not a schedule.
  if (cron.getOnce() !== null) return `expected ${SCHEDULE_WORDS}; got ${got}, a single time`;
  if (cron.nextRun() === null) return `${got} never comes again: expected ${SCHEDULE_WORDS}`;
  return null;
}
