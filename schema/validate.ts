// Small checks for request and notification params arriving over a socket; every failure is BAD_REQUEST.
import { ErrorCode, UpkError } from './errors.js';
import { ISO_INSTANT_WORDS, isoInstant } from './iso-time.js';

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
 * An optional time: a date and time in ISO 8601 with its offset (`Z` or `±hh:mm`), as `toISOString()`
 * writes it, that exists in the calendar (isoInstant, schema/iso-time.ts). Without the offset a time
 * would be read in the zone of whatever process reads it; V8's other forms of `Date.parse` (`5`,
 * `May 1`) and the dates it moves (2026-02-31 → March 3rd) are refused too.
 */
export function optIsoTime(o: Obj, key: string): string | undefined {
  const v = optStr(o, key);
  if (v !== undefined) checkIsoTime(key, v);
  return v;
}

/** `value` as isoInstant takes it, else BAD_REQUEST naming `key` (the one text of the error, for libclient too). */
export function checkIsoTime(key: string, value: string): number {
  const ms = isoInstant(value);
  if (Number.isNaN(ms)) bad(`${key} must be an ISO 8601 time, got ${JSON.stringify(value)} (${ISO_INSTANT_WORDS})`);
  return ms;
}
