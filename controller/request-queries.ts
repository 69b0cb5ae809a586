// The audit trail read back (upk audit): the rows of client_requests, who asked, what, and how it ended.
import type Database from 'better-sqlite3';
import type { ClientRequestRecord } from '../schema/audit-protocol.js';
import { isoTime } from '../schema/records.js';
import { inList } from './event-queries.js';

export interface RequestRow {
  id: number;
  time: number;
  client: string;
  client_pid: number | null;
  client_user: string | null;
  requester: string | null;
  request: string;
  service: string | null;
  params: string;
  finished: number | null;
  ok: 0 | 1 | null;
  outcome: string | null;
}

/**
 * Which requests: times in ms, inclusive; `client` a text in the client's name or the requester (ASCII
 * letters in any case); `uuids` of a service, and the requests about no one service (aboutServices).
 */
export interface RequestFilter {
  since?: number;
  until?: number;
  client?: string;
  uuids: string[] | null;
  limit: number;
}

/**
 * The SQL condition on `client_requests` (as `table`) of the requests about these services: those
 * recorded for one of them, and those about no one service (service_uuid NULL: config.reload,
 * shutdown, controller.stop, remove), which concern every service. Its arguments: the uuids.
 * The one rule of `requests` (upk audit --service) and the timeline (upk timeline NAME).
 */
export function aboutServices(table: string, uuids: string[]): string {
  return `(${table}.service_uuid IS NULL OR ${table}.service_uuid IN ${inList(uuids)})`;
}

export class RequestQueries {
  constructor(private readonly db: Database.Database) {}

  /** The newest `limit` requests that match, oldest first. */
  query(f: RequestFilter): ClientRequestRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.since !== undefined) {
      where.push('r.time >= ?');
      args.push(f.since);
    }
    if (f.until !== undefined) {
      where.push('r.time <= ?');
      args.push(f.until);
    }
    if (f.client !== undefined) {
      where.push(`(instr(lower(r.client), lower(?)) > 0 OR instr(lower(coalesce(r.requester, '')), lower(?)) > 0)`);
      args.push(f.client, f.client);
    }
    if (f.uuids !== null) {
      where.push(aboutServices('r', f.uuids));
      args.push(...f.uuids);
    }
    const rows = this.db
      .prepare<(string | number)[], RequestRow>(
        `SELECT r.id, r.time, r.client, r.client_pid, r.client_user, r.requester, r.request, i.service, r.params, r.finished, r.ok, r.outcome
         FROM client_requests r LEFT JOIN service_ids i ON i.uuid = r.service_uuid
         ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.time DESC, r.id DESC LIMIT ${Math.trunc(f.limit)}`,
      )
      .all(...args);
    return rows.reverse().map(toRecord);
  }
}

export function toRecord(r: RequestRow): ClientRequestRecord {
  let params: unknown = r.params;
  try {
    params = JSON.parse(r.params);
  } catch {
    // kept as the text stored
  }
  return {
    id: r.id,
    time: isoTime(r.time),
    client: r.client,
    pid: r.client_pid,
    user: r.client_user,
    requester: r.requester,
    request: r.request,
    service: r.service,
    params,
    ok: r.ok === null ? null : r.ok === 1,
    outcome: r.outcome,
    finished: r.finished === null ? null : isoTime(r.finished),
    durationMs: r.finished === null ? null : r.finished - r.time,
  };
}
