// Parses the times users type: `90s`, `15m`, `2h`, `7d`, `1w` ago, or an ISO 8601 date and time.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../../libclient/index.js';

export function parseTime(text: string, now = Date.now()): string {
  const ago = parseDuration(text);
  if (ago !== null) return new Date(now - ago).toISOString();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new InvalidArgumentError(`expected a duration ago (90s, 15m, 2h, 7d, 1w) or an ISO 8601 time, got ${JSON.stringify(text)}`);
  }
  return new Date(ms).toISOString();
}

export function parsePositiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}

export function parseCount(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got ${JSON.stringify(text)}`);
  return n;
}
