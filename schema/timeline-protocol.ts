// One chronological view of the audit (upk timeline): the events of every service, the configuration
// changes and the client requests between two times, interleaved, and grouped into bursts. Its
// params, result and validator; client-protocol.ts adds them to ClientMethods and clientValidators.
import type { ClientRequestRecord, ConfigHistoryRecord } from './audit-protocol.js';
import type { ServiceEvent } from './records.js';
import { asObject, bad, optInt, optIsoTime, optStr, optStrList } from './validate.js';

/** Entries one `timeline` answer carries when the request names no `limit`. */
export const TIMELINE_DEFAULT = 1000;
/** Most entries one `timeline` answer carries (and the largest `limit`). */
export const TIMELINE_MAX = 10_000;
/** Entries closer than this to the one before them belong to its burst; a pause this long or longer begins a new one. */
export const TIMELINE_BURST_GAP_MS = 10_000;

/** `timeline`: what happened from `since` to `until` (default: now), of these services (default: all), the oldest `limit` entries. */
export interface TimelineQuery {
  /** Service names, as for `events`; absent or empty: every service. The requests about no one service are kept either way. */
  services?: string[];
  /** ISO 8601, inclusive. */
  since: string;
  /** ISO 8601, inclusive (default: now). */
  until?: string;
  /** Default TIMELINE_DEFAULT, at most TIMELINE_MAX. */
  limit?: number;
  /**
   * A result's `next`: the entries after the last one that answer carried (with the same `since`,
   * `until` and `services`: its `since` and `until` as it gives them), each entry once.
   */
  after?: string;
}

/** A configuration change as the timeline shows it: a row of config_changes as `upk config-history` has it, without the values. */
export type TimelineConfigChange = Omit<ConfigHistoryRecord, 'values' | 'beforeRecorded'>;

/** One entry of a timeline: an event, a configuration change or a client request, with its record. */
export type TimelineEntry =
  | { time: string; kind: 'event'; service: string; event: ServiceEvent }
  | { time: string; kind: 'config'; service: string; change: TimelineConfigChange }
  /** `service` null: a request about no one service (config.reload, shutdown, controller.stop, remove). */
  | { time: string; kind: 'request'; service: string | null; request: ClientRequestRecord };

/** Entries that follow one another by less than `gapMs`. */
export interface TimelineBurst {
  /** The times of its first and last entries, ISO 8601 UTC. */
  from: string;
  to: string;
  /** Its entries: `entries[first]` to `entries[first + count - 1]`. */
  first: number;
  count: number;
  /** The services its entries name, sorted. */
  services: string[];
}

export interface TimelineResult {
  since: string;
  until: string;
  /** Oldest first (by time; at one time: events, then changes, then requests, each by id). */
  entries: TimelineEntry[];
  bursts: TimelineBurst[];
  /** The pause that separates bursts (TIMELINE_BURST_GAP_MS). */
  gapMs: number;
  /** True when more entries matched than `limit`: the answer ends early (ask again with `after` = `next`). */
  truncated: boolean;
  /** When truncated: where the next page begins, for the query's `after` (opaque; absent when not truncated). */
  next?: string;
}

export interface TimelineMethods {
  /** Events, configuration changes and client requests between two times, interleaved in time order, in bursts. */
  timeline: { params: TimelineQuery; result: TimelineResult };
}

/** The kinds of entry, in their order at one time. */
export const TIMELINE_KINDS = ['event', 'config', 'request'] as const satisfies readonly TimelineEntry['kind'][];

/** An entry's place in the timeline's order: by time (ms), then kind (TIMELINE_KINDS), then id (its table's). */
export interface TimelinePosition {
  ms: number;
  kind: TimelineEntry['kind'];
  id: number;
}

/** The cursor of `next` and `after`: `<ms>-<e|c|r>-<id>`, the position of the last entry a page carried. */
const CURSOR = /^(0|[1-9]\d{0,15})-([ecr])-([1-9]\d{0,15})$/;

/** A position as the cursor text a result's `next` carries. */
export function timelineCursor(p: TimelinePosition): string {
  return `${p.ms}-${p.kind.charAt(0)}-${p.id}`;
}

/** The position a cursor names; a text no timeline answer gives is BAD_REQUEST. */
export function timelinePosition(text: string): TimelinePosition {
  const m = CURSOR.exec(text);
  const [ms, id] = [Number(m?.[1]), Number(m?.[3])];
  const kind = TIMELINE_KINDS.find((k) => k.charAt(0) === m?.[2]);
  if (!m || kind === undefined || !Number.isSafeInteger(ms) || !Number.isSafeInteger(id))
    bad(`after must be the next of a timeline answer (as 1765000991683-e-5012), got ${JSON.stringify(text)}`);
  return { ms, kind, id };
}

export const timelineValidators: { [K in keyof TimelineMethods]: (params: unknown) => TimelineMethods[K]['params'] } = {
  timeline: (p) => {
    const o = asObject(p);
    const since = optIsoTime(o, 'since');
    if (since === undefined) bad('since must be an ISO 8601 time');
    const until = optIsoTime(o, 'until');
    const services = optStrList(o, 'services');
    const limit = optInt(o, 'limit', 1);
    const after = optStr(o, 'after');
    if (after !== undefined) timelinePosition(after);
    if (until !== undefined && Date.parse(until) < Date.parse(since)) bad(`until (${until}) is before since (${since})`);
    if (services?.some((s) => s === '')) bad('services must not hold an empty name');
    const q: TimelineQuery = { since };
    if (until !== undefined) q.until = until;
    if (services !== undefined && services.length > 0) q.services = services;
    if (limit !== undefined) q.limit = Math.min(limit, TIMELINE_MAX);
    if (after !== undefined) q.after = after;
    return q;
  },
};
