// Reads the fleet's PostgreSQL database (docs/fleet.md, "Fleet queries"): the events of every host,
// filtered as `upk events` filters a host's, with the host of each; trends and failure stories are
// in fleet-trend.ts and fleet-story.ts. Callers pass filters, never SQL.
import { EVENTS_QUERY_MAX } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { signalName, type EventMatch } from '../schema/event-filter.js';
import { EVENT_TYPE_NAMES, type EventType, type ServiceEvent } from '../schema/records.js';
import { FleetDatabase } from './fleet-database.js';

/** Which hosts a fleet query reads: the ones named (none named: every host). */
export interface FleetHosts {
  hosts?: string[];
}

/** The filters of `upk events`, over the fleet. Times as ISO 8601 (or Date). */
export interface FleetEventFilter extends EventMatch, FleetHosts {
  service?: string;
  types?: string[];
  since?: string | Date | number;
  until?: string | Date | number;
  /** The newest `limit` events (default 100, at most EVENTS_QUERY_MAX). */
  limit?: number;
}

/** An event of the fleet: the host's own event (ServiceEvent) with its host, without the host's local row id. */
export type FleetEvent = Omit<ServiceEvent, 'id'> & { host: string };

/** The SQL parameters of a query, numbered as they are added. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** A time option as ms since the epoch; BAD_REQUEST naming it when it is none. */
export function timeMs(what: string, t: string | Date | number): number {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  if (Number.isNaN(ms)) throw new UpkError(ErrorCode.BAD_REQUEST, `${what}: ${String(t)} is not a time (ISO 8601)`);
  return ms;
}

/**
 * The condition that a `service` column (the id at export: `web`, `pkg::web`, `web@2`) means `name`
 * as a command names a service: its id, its bare name, or the service with Instances it is one of.
 */
export function serviceMatch(column: string, name: string, p: Params): string {
  const n = p.add(name);
  const group = `regexp_replace(${column}, '@[0-9]+$', '')`;
  return `(${column} = ${n} OR ${group} = ${n} OR regexp_replace(${group}, '^.*::', '') = ${n})`;
}

/** The condition on a `host` column for the hosts asked (none: every host). */
export function hostMatch(column: string, q: FleetHosts, p: Params): string | null {
  if (!q.hosts || q.hosts.length === 0) return null;
  return `${column} = ANY(${p.add(q.hosts)}::text[])`;
}

interface EventRow {
  host: string;
  buddy_instance: string;
  seq: string;
  time: Date;
  service_uuid: string;
  service: string;
  type: EventType;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: Record<string, unknown> | null;
}

export const EVENT_COLUMNS = 'host, buddy_instance::text, seq, time, service_uuid::text, service, type, pid, code, signal, detail';

export function toFleetEvent(r: EventRow): FleetEvent {
  return {
    host: r.host,
    service: r.service,
    uuid: r.service_uuid,
    buddy: r.buddy_instance,
    seq: Number(r.seq),
    time: r.time.toISOString(),
    type: r.type,
    pid: r.pid,
    code: r.code,
    signal: r.signal,
    detail: r.detail,
  };
}

/** The fleet database, read: open() it, ask, close(). */
export class FleetReader {
  constructor(readonly db: FleetDatabase) {}

  /** Connect to the fleet database at `url` (FleetDatabase.open: the password, time limits, the schema checked). */
  static async open(url: string, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<FleetReader> {
    return new FleetReader(await FleetDatabase.open(url, options));
  }

  close(): void {
    this.db.close();
  }

  /** Every host's names (`host` of any event), sorted. */
  async hosts(): Promise<string[]> {
    const rows = await this.db.query<{ host: string }>(
      `WITH RECURSIVE h AS (SELECT min(host) AS host FROM events
         UNION ALL SELECT (SELECT min(host) FROM events WHERE host > h.host) FROM h WHERE h.host IS NOT NULL)
       SELECT host FROM h WHERE host IS NOT NULL`,
    );
    return rows.map((r) => r.host);
  }

  /** The newest `limit` events matching the filter, oldest first (as `upk events` gives a host's). */
  async events(q: FleetEventFilter = {}): Promise<FleetEvent[]> {
    const limit = q.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > EVENTS_QUERY_MAX)
      throw new UpkError(ErrorCode.BAD_REQUEST, `limit: expected 1 to ${EVENTS_QUERY_MAX}, got ${limit}`);
    for (const t of q.types ?? [])
      if (!(EVENT_TYPE_NAMES as string[]).includes(t))
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `unknown event type ${JSON.stringify(t)}: expected one of ${EVENT_TYPE_NAMES.join(', ')}`,
        );
    const p = new Params();
    const where: string[] = [];
    const host = hostMatch('host', q, p);
    if (host) where.push(host);
    if (q.service !== undefined) where.push(serviceMatch('service', q.service, p));
    if (q.types && q.types.length > 0) where.push(`type = ANY(${p.add(q.types)}::text[])`);
    if (q.since !== undefined) where.push(`time >= ${p.add(new Date(timeMs('since', q.since)))}`);
    if (q.until !== undefined) where.push(`time <= ${p.add(new Date(timeMs('until', q.until)))}`);
    if (q.pid !== undefined) where.push(`pid = ${p.add(q.pid)}`);
    if (q.code !== undefined) where.push(`code = ${p.add(q.code)}`);
    if (q.signal !== undefined) where.push(`signal = ${p.add(signalName(q.signal))}`);
    // The detail as text contains it, ASCII letters in any case (jsonb's text: `{"a": 1}`, a space after each colon and comma).
    if (q.text !== undefined) where.push(`strpos(lower(detail::text), lower(${p.add(q.text)})) > 0`);
    const rows = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY time DESC, host DESC, buddy_instance DESC, seq DESC LIMIT ${p.add(limit)}`,
      p.values,
    );
    return rows.reverse().map(toFleetEvent);
  }
}
