// Parses what users type: times (`90s`, `15m`, `2h`, `7d`, `1w` ago, or an ISO 8601 date and time) and whole numbers.
import { InvalidArgumentError } from 'commander';
import { ErrorCode, UpkError, parseDuration } from '../../libclient/index.js';

export function parseTime(text: string, now = Date.now()): string {
  const ago = parseDuration(text);
  if (ago !== null) return new Date(now - ago).toISOString();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new InvalidArgumentError(`expected a duration ago (90s, 15m, 2h, 7d, 1w) or an ISO 8601 time, got ${JSON.stringify(text)}`);
  }
  return new Date(ms).toISOString();
}

/**
 * A whole number as people type it: decimal digits only (no sign, no `0x10`, no `1e3`, no blanks),
 * from `min` to `max`; else what was expected, in words.
 */
function readWholeNumber(text: string, min: number, max: number): number | { expected: string } {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isNaN(n) && n >= min && n <= max) return n;
  return {
    expected: `expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max.toLocaleString('en-US')}`}`,
  };
}

/** A commander option parser: `wholeNumber(min, max)` reads an option's value (exit 2 with the problem otherwise). */
export const wholeNumber =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (text: string): number => {
    const n = readWholeNumber(text, min, max);
    if (typeof n !== 'number') throw new InvalidArgumentError(`${n.expected}, got ${JSON.stringify(text)}`);
    return n;
  };

/** The same for an argument read in a command's action: `what text: expected …` (BAD_REQUEST, exit 2). */
export function wholeNumberArgument(what: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = readWholeNumber(text, min, max);
  if (typeof n !== 'number') throw new UpkError(ErrorCode.BAD_REQUEST, `${what}${what === '' ? '' : ' '}${text}: ${n.expected}`);
  return n;
}
