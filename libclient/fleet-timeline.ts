// `upk timeline --fleet`: the events, configuration changes and client requests of every host
// (or some) between two times, interleaved in time order and in bursts, as a host's timeline
// (controller/timeline-query.ts) with the merge and the bursts of schema/timeline-merge.ts. One page:
// the oldest `limit` entries, `truncated` when more matched (no cursor).
import {
  TIMELINE_BURST_GAP_MS,
  TIMELINE_DEFAULT,
  TIMELINE_MAX,
  type TimelineBurst,
  type TimelineConfigChange,
} from '../schema/timeline-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { burstsOf, mergeByTime, type Timed } from '../schema/timeline-merge.js';
import type { FleetDatabase } from './fleet-database.js';
import { fleetRequests, type FleetRequestRecord } from './fleet-audit.js';
import {
  EVENT_COLUMNS,
  Params,
  hostMatch,
  serviceMatch,
  timeMs,
  toFleetEvent,
  type EventRow,
  type FleetEvent,
  type FleetHosts,
} from './fleet-sql.js';

export interface FleetTimelineQuery extends FleetHosts {
  /** Only these services (as commands name them); the requests about no one service are kept. */
  services?: string[];
  since: string | Date | number;
  /** Default: now. */
  until?: string | Date | number;
  /** The oldest `limit` entries (default TIMELINE_DEFAULT, at most TIMELINE_MAX). */
  limit?: number;
}

/** An entry of the fleet's timeline: a host's entry with its host, its records without the host's row ids. */
export type FleetTimelineEntry =
  | { time: string; host: string; kind: 'event'; service: string; event: FleetEvent }
  | { time: string; host: string; kind: 'config'; service: string; change: Omit<TimelineConfigChange, 'id'> }
  | { time: string; host: string; kind: 'request'; service: string | null; request: FleetRequestRecord };

export interface FleetTimelineResult {
  since: string;
  until: string;
  entries: FleetTimelineEntry[];
  bursts: TimelineBurst[];
  gapMs: number;
  truncated: boolean;
}

interface ChangeRow {
  host: string;
  time: Date;
  uuid: string | null;
  service: string;
  change: TimelineConfigChange['change'];
  trigger: string;
  detail: string | null;
  keys: unknown;
}

/** The timeline of the fleet (FleetReader.timeline). */
export async function fleetTimeline(db: FleetDatabase, q: FleetTimelineQuery, now = Date.now()): Promise<FleetTimelineResult> {
  const limit = q.limit ?? TIMELINE_DEFAULT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > TIMELINE_MAX)
    throw new UpkError(ErrorCode.BAD_REQUEST, `limit: expected 1 to ${TIMELINE_MAX}, got ${limit}`);
  const since = timeMs('since', q.since);
  const until = Math.min(q.until === undefined ? now : timeMs('until', q.until), now);
  const names = q.services && q.services.length > 0 && !q.services.includes('all') ? q.services : null;
  /** The conditions on a table's host, time and service, with their parameters. */
  const conditions = (): { p: Params; where: string } => {
    const p = new Params();
    const where = [`time >= ${p.add(new Date(since))}`, `time <= ${p.add(new Date(until))}`];
    const hosts = hostMatch('host', q, p);
    if (hosts) where.push(hosts);
    if (names) where.push(`(${names.map((n) => serviceMatch('service', n, p)).join(' OR ')})`);
    return { p, where: where.join(' AND ') };
  };
  const e = conditions();
  const events = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE ${e.where} ORDER BY time, host, buddy_instance, seq LIMIT ${limit + 1}`,
    e.p.values,
  );
  const c = conditions();
  const changes = await db.query<ChangeRow>(
    `SELECT host, time, service_uuid::text AS uuid, service, change, trigger, detail, keys FROM config_changes
     WHERE ${c.where} ORDER BY time, host, uid LIMIT ${limit + 1}`,
    c.p.values,
  );
  // Requests: as `upk audit --fleet` reads them (about these services, and those about no one service).
  const requests = await fleetRequests(db, { ...(q.hosts ? { hosts: q.hosts } : {}), since, until, limit: limit + 1 }, TIMELINE_MAX + 1, {
    oldest: true,
    ...(names ? { services: names } : {}),
  });
  const lists: Timed<FleetTimelineEntry>[][] = [
    events.map(toFleetEvent).map((event) => ({
      ms: Date.parse(event.time),
      entry: { time: event.time, host: event.host, kind: 'event', service: event.service, event },
    })),
    changes.map((r) => {
      const change: Omit<TimelineConfigChange, 'id'> = {
        time: r.time.toISOString(),
        uuid: r.uuid,
        service: r.service,
        change: r.change,
        trigger: r.trigger,
        detail: r.detail,
        keys: Array.isArray(r.keys) ? r.keys.filter((k): k is string => typeof k === 'string') : null,
      };
      return { ms: r.time.getTime(), entry: { time: change.time, host: r.host, kind: 'config', service: r.service, change } };
    }),
    requests.map((request) => ({
      ms: Date.parse(request.time),
      entry: { time: request.time, host: request.host, kind: 'request', service: request.service, request },
    })),
  ];
  const { merged, truncated } = mergeByTime(lists, limit);
  return {
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    entries: merged.map((t) => t.entry),
    bursts: burstsOf(merged, TIMELINE_BURST_GAP_MS),
    gapMs: TIMELINE_BURST_GAP_MS,
    truncated,
  };
}
