// The timeline's reads (upk timeline): the events, configuration changes and client requests between
// two times, each the oldest `limit` + 1 by time (on the tables' time indexes, or a service's), merged
// in timeline.ts. The one more tells whether the answer was cut.
import type Database from 'better-sqlite3';
import { isoTime } from '../schema/records.js';
import type { TimelineConfigChange } from '../schema/timeline-protocol.js';
import { configKeys } from './config-history.js';
import { inList, type EventPosition, type EventQueries } from './event-queries.js';
import { toRecord, type RequestRow } from './request-queries.js';
import type { Timed } from './timeline.js';

/** Which entries: times in ms, inclusive; `uuids` of the services asked about (null: every one). */
export interface TimelineFilter {
  since: number;
  until: number;
  uuids: string[] | null;
  limit: number;
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

  /** The three sorted lists, each of at most `limit` + 1 entries: events, configuration changes, client requests. */
  lists(f: TimelineFilter): Timed[][] {
    return [this.eventList(f), this.changeList(f), this.requestList(f)];
  }

  private eventList(f: TimelineFilter): Timed[] {
    // (time, id) after (since - 1, any id) up to (until, any id): the events_by_time index, or a service's.
    const from: EventPosition = [f.since - 1, Number.MAX_SAFE_INTEGER];
    const to: EventPosition = [f.until, Number.MAX_SAFE_INTEGER];
    return this.events
      .between({}, f.uuids, { from, to, upTo: Number.MAX_SAFE_INTEGER }, f.limit + 1)
      .map((event) => ({ ms: Date.parse(event.time), entry: { time: event.time, kind: 'event', service: event.service, event } }));
  }

  private changeList(f: TimelineFilter): Timed[] {
    const only = f.uuids === null ? '' : `AND service_uuid IN ${inList(f.uuids)}`;
    const rows = this.db
      .prepare<unknown[], ChangeRow>(
        `SELECT id, time, service_uuid AS uuid, service, change, trigger, detail, keys FROM config_changes
         WHERE time >= ? AND time <= ? ${only} ORDER BY time, id LIMIT ?`,
      )
      .all(f.since, f.until, ...(f.uuids ?? []), f.limit + 1);
    return rows.map((r) => {
      const change: TimelineConfigChange = { ...r, time: isoTime(r.time), keys: configKeys(r.keys) };
      return { ms: r.time, entry: { time: change.time, kind: 'config', service: r.service, change } };
    });
  }

  private requestList(f: TimelineFilter): Timed[] {
    // A request about no one service (config.reload, shutdown) belongs to every service's timeline.
    const only = f.uuids === null ? '' : `AND (r.service_uuid IS NULL OR r.service_uuid IN ${inList(f.uuids)})`;
    const rows = this.db
      .prepare<unknown[], RequestRow>(
        `SELECT r.id, r.time, r.client, r.client_pid, r.client_user, r.requester, r.request, i.service, r.params, r.finished, r.ok, r.outcome
         FROM client_requests r LEFT JOIN service_ids i ON i.uuid = r.service_uuid
         WHERE r.time >= ? AND r.time <= ? ${only} ORDER BY r.time, r.id LIMIT ?`,
      )
      .all(f.since, f.until, ...(f.uuids ?? []), f.limit + 1);
    return rows.map((row) => {
      const request = toRecord(row);
      return { ms: row.time, entry: { time: request.time, kind: 'request', service: request.service, request } };
    });
  }
}
