// uptop on a past moment (`uptop --at TIME`, or `[` `{` from the live view): the table as the controller
// reconstructs it from the audit history (libclient statusAt), read-only. The keys that move in time,
// the ones refused there, and the words of its header and footer.
import { utcTime } from '../../libclient/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The keys that move the moment shown: `[` `]` a minute, `{` `}` an hour (from the live view, back from now). */
export const PAST_STEPS: Readonly<Record<string, number>> = { '[': -MINUTE, ']': MINUTE, '{': -HOUR, '}': HOUR };

/** The key back to the live view. */
export const LIVE_KEY = 'L';

/** Keys of the live view that change services (or read their present): refused on a past moment. */
export const REFUSED_KEYS: ReadonlySet<string> = new Set(['s', 'x', 'r', 'R', 'a', 'enter']);

/** The moment a step leads to: null when it reaches now or later (the live view again). */
export function steppedTo(at: number | null, step: number, now = Date.now()): number | null {
  const next = (at ?? now) + step;
  return next >= now ? null : next;
}

const shown = (at: number): string => utcTime(new Date(at).toISOString());

/** The header's mark of a past moment. */
export function pastMark(at: number): string {
  return `at ${shown(at)} (read-only)`;
}

/** What a refused key says. */
export function refusal(at: number): string {
  return `read-only: this is the past (${shown(at)}); L returns to live`;
}

/** The footer's hints on a past moment, most needed first. */
export const PAST_HINTS = ['q quit', 'L live', '[ ] minute', '{ } hour', '? help', '/ filter', 'j/k move'];
