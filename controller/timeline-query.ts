// The timeline's reads (upk timeline): the events, configuration changes and client requests between
// two times, each the oldest `limit` + 1 by (time, id) (on the tables' time indexes, or a service's)
// after a page's last entry, merged in timeline.ts. The one more tells whether the answer was cut.
import type Database from 'better-sqlite3';
import { isoTime } from '../schema/records.js';
import { TIMELINE_KINDS, type TimelineConfigChange, type TimelinePosition } from '../schema/timeline-protocol.js';
import { configKeys } from './config-history.js';
import { inList, type EventPosition, type EventQueries } from './event-queries.js';
import { aboutServices, toRecord, type RequestRow } from './request-queries.js';
import type { Timed } from '../schema/timeline-merge.js';

/**
 * Which entries: times in ms, inclusive; `uuids` of the services asked about (null: every one, and
 * the requests about no one service always); only those after `after` (a page's last entry) in the
 * timeline's order, when given.
 */
export interface TimelineFilter {
  since: number;
  until: number;
  uuids: string[] | null;
  limit: number;
  after: TimelinePosition | null;
}

/**
 * Where a list of one kind begins, as a (time, id) to be after: past `after` in the timeline's order
 * (at its time, a kind before its kind is done, one after it not begun), else just before `since`.
 */
function startOf(kind: TimelinePosition['kind'], f: Pick<TimelineFilter, 'since' | 'after'>): [time: number, id: number] {
  const a = f.after;
  if (a === null || a.ms < f.since) return [f.since - 1, Number.MAX_SAFE_INTEGER];
  const [mine, its] = [TIMELINE_KINDS.indexOf(kind), TIMELINE_KINDS.indexOf(a.kind)];
  return mine === its ? [a.ms, a.id] : mine < its ? [a.ms, Number.MAX_SAFE_INTEGER] : [a.ms - 1, Number.MAX_SAFE_INTEGER];
}

interface ChangeRow extends Omit<TimelineConfigChange, 'time' | 'keys' | 'uuid'> {
  time: number;
  uuid: string | null;
  keys: string | null;
}

export class TimelineQueries {
  constructor(
    private readonly db: Database.Database,
    private readonly events: EventQueries,
  ) {}

  /**
   * The three sorted lists, each of at most `limit` + 1 entries, in TIMELINE_KINDS' order (mergeByTime
   * puts the earlier list first at one time): events, configuration changes, client requests.
   */
  lists(f: TimelineFilter): Timed[][] {
    return [this.eventList(f), this.changeList(f), this.requestList(f)];
  }

  private eventList(f: TimelineFilter): Timed[] {
    // (time, id) after where the list begins, up to (until, any id): the events_by_time index, or a service's.
    const from: EventPosition = startOf('event', f);
    const to: EventPosition = [f.until, Number.MAX_SAFE_INTEGER];
    return this.events
      .between({}, f.uuids, { from, to, upTo: Number.MAX_SAFE_INTEGER }, f.limit + 1)
      .map((event) => ({ ms: Date.parse(event.time), entry: { time: event.time, kind: 'event', service: event.service, event } }));
  }

  private changeList(f: TimelineFilter): Timed[] {
    const only = f.uuids === null ? '' : `AND service_uuid IN ${inList(f.uuids)}`;
    const [time, id] = startOf('config', f);
    const rows = this.db
      .prepare<unknown[], ChangeRow>(
        `SELECT id, time, service_uuid AS uuid, service, change, trigger, detail, keys FROM config_changes
         WHERE time >= ? AND (time, id) > (?, ?) AND time <= ? ${only} ORDER BY time, id LIMIT ?`,
      )
      .all(time, time, id, f.until, ...(f.uuids ?? []), f.limit + 1);
    return rows.map((r) => {
      const change: TimelineConfigChange = { ...r, time: isoTime(r.time), keys: configKeys(r.keys) };
      return { ms: r.time, entry: { time: change.time, kind: 'config', service: r.service, change } };
    });
  }

  private requestList(f: TimelineFilter): Timed[] {
    const only = f.uuids === null ? '' : `AND ${aboutServices('r', f.uuids)}`;
    const [time, id] = startOf('request', f);
    const rows = this.db
      .prepare<unknown[], RequestRow>(
        `SELECT r.id, r.time, r.client, r.client_pid, r.client_user, r.requester, r.request, i.service, r.params, r.finished, r.ok, r.outcome
         FROM client_requests r LEFT JOIN service_ids i ON i.uuid = r.service_uuid
         WHERE r.time >= ? AND (r.time, r.id) > (?, ?) AND r.time <= ? ${only} ORDER BY r.time, r.id LIMIT ?`,
      )
      .all(time, time, id, f.until, ...(f.uuids ?? []), f.limit + 1);
    return rows.map((row) => {
      const request = toRecord(row);
      return { ms: row.time, entry: { time: request.time, kind: 'request', service: request.service, request } };
    });
  }
}
