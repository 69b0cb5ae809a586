// Reads events back from the audit database, every one the same way: a query with its filters, the
// reads events.page pages with, and the signals a failure story tells. Callers pass filters and
// cursors, never SQL.
import type Database from 'better-sqlite3';
import { EVENTS_PAGE_MAX, type EventQuery } from '../schema/client-protocol.js';
import { parseDetail } from '../schema/event-details.js';
import { isoTime, type EventType, type ServiceEvent } from '../schema/records.js';

interface EventRow {
  id: number;
  seq: number;
  time: number;
  type: EventType;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: string | null;
  uuid: string;
  name: string;
  package: string | null;
  instance: string;
}

/** A position among events ordered by time: [time, id]. */
export type EventPosition = [time: number, id: number];

const SELECT_EVENTS = `SELECT e.id, e.seq, e.time, e.type, e.pid, e.code, e.signal, e.detail, s.uuid, s.name, s.package, b.instance
  FROM events e JOIN services s ON s.uuid = e.service_uuid JOIN buddies b ON b.id = e.buddy_id`;

/** `(?,?,…)`, one placeholder per value (`(NULL)` for none: matches nothing). */
/** `(?, ?, …)` for the values of an IN; `(NULL)`, which matches nothing, for none. */
export const inList = (values: unknown[]): string => `(${values.map(() => '?').join(',') || 'NULL'})`;

export class EventQueries {
  private readonly s: { lastId: Database.Statement<[], { id: number | null }>; byId: Database.Statement<[id: number], EventRow> };

  constructor(private readonly db: Database.Database) {
    this.s = {
      lastId: db.prepare('SELECT max(id) AS id FROM events'),
      byId: db.prepare(`${SELECT_EVENTS} WHERE e.id = ? ORDER BY e.id LIMIT 1`),
    };
  }

  /** The id of the newest stored event (0 when none). */
  lastId(): number {
    return this.s.lastId.get()?.id ?? 0;
  }

  /** One event by its id, or null. */
  byId(id: number): ServiceEvent | null {
    const row = this.s.byId.get(id);
    return row ? toServiceEvent(row) : null;
  }

  /**
   * Events matching the query, oldest first. With `afterId`: the next ones by id (paging, following).
   * Without: the newest `limit` ones by time.
   */
  query(q: EventQuery, serviceUuids: string[] | null): ServiceEvent[] {
    const { condition, args } = filter(q, serviceUuids);
    const limit = Math.min(q.limit ?? EVENTS_PAGE_MAX, EVENTS_PAGE_MAX);
    const order = q.afterId !== undefined ? 'e.id ASC' : 'e.time DESC, e.id DESC';
    const events = this.select(condition, args, order, limit);
    return q.afterId === undefined ? events.reverse() : events;
  }

  /** Up to `limit` events matching the filters (not `afterId`) with an id above `afterId`, by id. */
  after(q: EventQuery, serviceUuids: string[] | null, afterId: number, limit: number): ServiceEvent[] {
    const { condition, args } = filter(q, serviceUuids);
    return this.select(`${condition} AND e.id > ?`, [...args, afterId], 'e.id ASC', limit);
  }

  /** Up to `limit` events matching the filters, after `from` up to `to` by (time, id), of id at most `upTo`; by time. */
  between(
    q: EventQuery,
    serviceUuids: string[] | null,
    range: { from: EventPosition; to: EventPosition; upTo: number },
    limit: number,
  ): ServiceEvent[] {
    const { condition, args } = filter(q, serviceUuids);
    return this.select(
      `${condition} AND (e.time, e.id) > (?, ?) AND (e.time, e.id) <= (?, ?) AND e.id <= ?`,
      [...args, ...range.from, ...range.to, range.upTo],
      'e.time ASC, e.id ASC',
      limit,
    );
  }

  /** The position of the event `offset` places from the newest matching the filters (id at most `upTo`), or null. */
  position(q: EventQuery, serviceUuids: string[] | null, upTo: number, offset: number): EventPosition | null {
    const { condition, args } = filter(q, serviceUuids);
    const row = this.db
      .prepare<unknown[], { time: number; id: number }>(
        `SELECT e.time, e.id FROM events e WHERE ${condition} AND e.id <= ? ORDER BY e.time DESC, e.id DESC LIMIT 1 OFFSET ?`,
      )
      .get(...args, upTo, offset);
    return row ? [row.time, row.id] : null;
  }

  /** The signals the buddies of these services sent from `from` to `to` (ms), by id, at most `limit`. */
  signalsSent(serviceUuids: string[], from: number, to: number, limit: number): ServiceEvent[] {
    return this.select(
      `e.service_uuid IN ${inList(serviceUuids)} AND e.type = 'signal_sent' AND e.time >= ? AND e.time <= ?`,
      [...serviceUuids, from, to],
      'e.id ASC',
      limit,
    );
  }

  /** Events matching an SQL condition on `e` (events), in the given SQL order: only this file writes them. */
  private select(condition: string, args: unknown[], order: string, limit: number): ServiceEvent[] {
    return this.db
      .prepare<unknown[], EventRow>(`${SELECT_EVENTS} WHERE ${condition} ORDER BY ${order} LIMIT ?`)
      .all(...args, limit)
      .map(toServiceEvent);
  }
}

/** The SQL condition on `e` (events) and its arguments for a query's filters. */
function filter(q: EventQuery, serviceUuids: string[] | null): { condition: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (serviceUuids) {
    where.push(`e.service_uuid IN ${inList(serviceUuids)}`);
    args.push(...serviceUuids);
  }
  if (q.types && q.types.length > 0) {
    where.push(`e.type IN (${q.types.map(() => '?').join(',')})`);
    args.push(...q.types);
  }
  // Each condition with its value, when the query sets it. The text test is the one matchesEvent
  // (schema/event-filter.ts) makes on live events.
  const conditions: [string, unknown][] = [
    ['e.time >= ?', q.since ? Date.parse(q.since) : undefined],
    ['e.time <= ?', q.until ? Date.parse(q.until) : undefined],
    ['e.id > ?', q.afterId],
    ['e.pid = ?', q.pid],
    ['e.code = ?', q.code],
    ['e.signal = ?', q.signal],
    ['instr(lower(e.detail), lower(?)) > 0', q.text],
  ];
  for (const [condition, value] of conditions) {
    if (value === undefined) continue;
    where.push(condition);
    args.push(value);
  }
  return { condition: where.length > 0 ? where.join(' AND ') : '1', args };
}

function toServiceEvent(r: EventRow): ServiceEvent {
  return {
    id: r.id,
    service: r.package ? `${r.package}::${r.name}` : r.name,
    uuid: r.uuid,
    buddy: r.instance,
    seq: r.seq,
    time: isoTime(r.time),
    type: r.type,
    pid: r.pid,
    code: r.code,
    signal: r.signal,
    detail: parseDetail(r.detail),
  };
}
