// Answers `events.page`: a query's events in pages that each fit in one message, with a cursor.
//
// With `afterId` the events follow by id; else they are the newest `limit` by time, as `events`
// gives them: the first page fixes that range (its oldest and newest event), and every page goes on
// after the last event sent, oldest first, so later events never slip into the range.
import {
  EVENTS_PAGE_BYTES,
  EVENTS_PAGE_MAX,
  EVENTS_QUERY_MAX,
  type EventPage,
  type EventPageQuery,
  type EventQuery,
} from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { ServiceEvent } from '../schema/records.js';
import type { AuditStore } from './audit-store.js';
import type { EventPosition } from './event-queries.js';

/** Rows read from the database at a time while a page fills. */
const CHUNK = 500;

/**
 * Where the next page begins: after an id, or after a (time, id) up to the range's end, among events
 * stored when the first page was made (id at most `upTo`: a journal taken in later, whose events
 * carry older times, does not slip into the range); and how many are left.
 */
type Cursor = { after: number; left: number } | { at: EventPosition; to: EventPosition; upTo: number; left: number };

export function eventPage(store: Pick<AuditStore, 'events'>, q: EventPageQuery, uuids: string[] | null): EventPage {
  const { afterId: _ignored, ...filter } = q; // paging goes by its cursor, never by afterId
  const events = store.events;
  const cursor = q.cursor !== undefined ? decode(q.cursor) : firstCursor(store, q, filter, uuids);
  if (cursor === null) return { events: [], next: null };
  const page: ServiceEvent[] = [];
  let bytes = 0;
  let full = false;
  while (cursor.left > 0 && !full) {
    const chunk =
      'after' in cursor
        ? events.after(filter, uuids, cursor.after, Math.min(CHUNK, cursor.left))
        : events.between(filter, uuids, { from: cursor.at, to: cursor.to, upTo: cursor.upTo }, Math.min(CHUNK, cursor.left));
    for (const event of chunk) {
      const size = JSON.stringify(event).length;
      if (bytes + size > EVENTS_PAGE_BYTES && page.length > 0) {
        full = true;
        break;
      }
      bytes += size;
      page.push(event);
      cursor.left -= 1;
      if ('after' in cursor) cursor.after = event.id;
      else cursor.at = [Date.parse(event.time), event.id];
    }
    if (chunk.length < CHUNK && !full) cursor.left = 0; // nothing more matches
  }
  return { events: page, next: cursor.left > 0 ? encode(cursor) : null };
}

/** The first page's cursor: after `afterId`, or the range of the newest `limit` events (null: none). */
function firstCursor(store: Pick<AuditStore, 'events'>, q: EventPageQuery, filter: EventQuery, uuids: string[] | null): Cursor | null {
  const limit = q.limit ?? EVENTS_PAGE_MAX;
  if (q.afterId !== undefined) return { after: q.afterId, left: limit };
  const upTo = store.events.lastId();
  const position = (offset: number): EventPosition | null => store.events.position(filter, uuids, upTo, offset);
  const newest = position(0);
  if (newest === null) return null;
  const oldest = position(limit - 1);
  // Start just before the oldest event of the range (or before everything, when fewer match).
  return { at: oldest ? [oldest[0], oldest[1] - 1] : [-1, 0], to: newest, upTo, left: limit };
}

function encode(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decode(text: string): Cursor {
  const bad = (): never => {
    throw new UpkError(ErrorCode.BAD_REQUEST, 'cursor: not one that events.page gave');
  };
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  const int = (v: unknown): v is number => Number.isSafeInteger(v);
  const pair = (v: unknown): v is EventPosition => Array.isArray(v) && v.length === 2 && v.every(int);
  if (typeof c !== 'object' || c === null) return bad();
  const o: Partial<Record<string, unknown>> = c;
  if (!int(o.left) || o.left < 0) return bad();
  // A cursor asks for nothing a query could not: what is left is bounded as a limit is.
  const left = Math.min(o.left, EVENTS_QUERY_MAX);
  if (int(o.after)) return { after: o.after, left };
  if (pair(o.at) && pair(o.to) && int(o.upTo)) return { at: o.at, to: o.to, upTo: o.upTo, left };
  return bad();
}
