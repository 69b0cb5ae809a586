// Small checks for request and notification params arriving over a socket; every failure is BAD_REQUEST.
import { ErrorCode, UpkError } from './errors.js';

export type Obj = Record<string, unknown>;

export function bad(message: string): never {
  throw new UpkError(ErrorCode.BAD_REQUEST, message);
}

export function asObject(value: unknown, what = 'params'): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(`${what} must be an object`);
  return value as Obj;
}

export function str(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) bad(`${key} must be a non-empty string`);
  return v;
}

export function optStr(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(`${key} must be a string`);
  return v;
}

/** A required integer: a missing one is refused, never taken as 0. */
export function int(o: Obj, key: string, min = Number.MIN_SAFE_INTEGER): number {
  const v = optInt(o, key, min);
  if (v === undefined) bad(`${key} is missing: an integer ≥ ${min} is required`);
  return v;
}

export function optInt(o: Obj, key: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(`${key} must be an integer ≥ ${min}`);
  return v;
}

/** One of `values` (a string the sender may only choose from these). */
export function oneOf<T extends string>(o: Obj, key: string, values: readonly T[]): T {
  const v = values.find((x) => x === o[key]);
  if (v === undefined) bad(`${key} must be one of ${values.join(', ')}, got ${JSON.stringify(o[key])}`);
  return v;
}

export function optBool(o: Obj, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') bad(`${key} must be true or false`);
  return v;
}

export function strList(o: Obj, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length === 0)) {
    bad(`${key} must be a list of non-empty strings`);
  }
  return v as string[];
}

export function optStrList(o: Obj, key: string): string[] | undefined {
  return o[key] === undefined || o[key] === null ? undefined : strList(o, key);
}

/**
 * A date and time in ISO 8601 with its offset (`Z` or `±hh:mm`), as `toISOString()` writes it. Without
 * the offset a time would be read in the zone of whatever process reads it; V8's other forms of
 * `Date.parse` (`5`, `May 1`) are refused too.
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** An optional time (ISO_TIME). */
export function optIsoTime(o: Obj, key: string): string | undefined {
  const v = optStr(o, key);
  if (v !== undefined && (!ISO_TIME.test(v) || Number.isNaN(Date.parse(v))))
    bad(`${key} must be an ISO 8601 time, got ${JSON.stringify(v)} (a date and time with Z or an offset, as 2026-11-21T02:13:00Z)`);
  return v;
}
