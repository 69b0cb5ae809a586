// What the fleet's queries share: parameters numbered as they are added, times, and the conditions on
// the host and the service that every query makes the same way.
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { EventType, ServiceEvent } from '../schema/records.js';

/** A run that failed (on a row of runs; controller/failure-kinds.ts, FAILED_RUN): an exit nobody asked for, or a start that could not execute. */
export const FLEET_FAILED_RUN = `outcome IN ('failed', 'spawn_failed')`;
/** An event by which the buddy ended its run (controller/failure-kinds.ts, RUN_ENDING_HEALTH), on jsonb. */
export const FLEET_RUN_ENDING_HEALTH = `type IN ('unhealthy', 'limit_exceeded') AND detail->>'action' IN ('restart', 'stop')`;
/** The health events counted as failures (controller/failure-kinds.ts, FAILURE_EVENT): FLEET_RUN_ENDING_HEALTH, and a start_timeout. */
export const FLEET_FAILURE_EVENT = `(type = 'start_timeout' OR (${FLEET_RUN_ENDING_HEALTH}))`;
/** The condition of the partial index events_health (fleet migration 007), word for word: a query uses it when it repeats it. */
export const FLEET_EVENTS_HEALTH = `type IN ('unhealthy', 'limit_exceeded', 'start_timeout')`;

/** Which hosts a fleet query reads: the ones named (none named: every host). */
export interface FleetHosts {
  hosts?: string[];
}

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
 * This form reads every row's column: for the small table config_changes (serviceMatch uses it there).
 */
export function serviceMatchScan(column: string, name: string, p: Params): string {
  const n = p.add(name);
  const group = `regexp_replace(${column}, '@[0-9]+$', '')`;
  return `(${column} = ${n} OR ${group} = ${n} OR regexp_replace(${group}, '^.*::', '') = ${n})`;
}

/**
 * The same for the large tables (events, runs, samples): the ids the name means are found in the
 * configuration changes (every service a host ran was recorded there when it was added), and the
 * column is compared with them, which the indexes on `service` serve; not every partition read.
 */
export function serviceMatch(column: string, name: string, p: Params): string {
  return `${column} IN (SELECT DISTINCT service FROM config_changes WHERE ${serviceMatchScan('service', name, p)})`;
}

/**
 * Refuse hosts the fleet database does not know (BAD_REQUEST, `what` before the message: `--host: `):
 * a typo or an ssh form (user@host) is an error, not an empty answer.
 */
export function refuseUnknownHosts(named: Iterable<string>, known: ReadonlySet<string>, what = ''): void {
  const unknown = [...new Set(named)].filter((h) => !known.has(h));
  if (unknown.length === 0) return;
  const listed = [...known].slice(0, 20).join(', ') + (known.size > 20 ? ', …' : '');
  throw new UpkError(
    ErrorCode.BAD_REQUEST,
    `${what}the fleet database knows no host ${unknown.map((h) => JSON.stringify(h)).join(', ')} ` +
      `(its hosts are the FleetHost of each controller that exported: ${listed})`,
  );
}

/** The condition on a `host` column for the hosts asked (none: every host). */
export function hostMatch(column: string, q: FleetHosts, p: Params): string | null {
  if (!q.hosts || q.hosts.length === 0) return null;
  return `${column} = ANY(${p.add(q.hosts)}::text[])`;
}

/** An event of the fleet: the host's own event (ServiceEvent) with its host, without the host's local row id. */
export type FleetEvent = Omit<ServiceEvent, 'id'> & { host: string };

export interface EventRow {
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
