// Reads the fleet's PostgreSQL database (docs/fleet.md, "Fleet queries"): the events of every host,
// filtered as `upk events` filters a host's, with the host of each; trends and failure stories are
// in fleet-trend.ts and fleet-story.ts. Callers pass filters, never SQL.
import { CONFIG_HISTORY_MAX, REQUESTS_MAX } from '../schema/audit-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { signalName, type EventMatch } from '../schema/event-filter.js';
import { EVENT_TYPE_NAMES } from '../schema/records.js';
import { FleetDatabase, type FleetOpenOptions } from './fleet-database.js';
import {
  EVENT_COLUMNS,
  Params,
  hostMatch,
  refuseUnknownHosts,
  serviceMatch,
  timeMs,
  toFleetEvent,
  type EventRow,
  type FleetEvent,
  type FleetHosts,
} from './fleet-sql.js';
import { fleetStatusAt, type FleetStatusAt } from './fleet-status-at.js';
import { fleetStory, type FleetFailureStory } from './fleet-story.js';
import { FleetCorrelations, type FleetCorrelateOptions } from './fleet-correlate.js';
import type { CorrelationResult } from '../schema/correlation-protocol.js';
import { fleetTimeline, type FleetTimelineQuery, type FleetTimelineResult } from './fleet-timeline.js';
import {
  fleetConfigHistory,
  fleetRequests,
  type FleetConfigChange,
  type FleetConfigHistoryFilter,
  type FleetRequestFilter,
  type FleetRequestRecord,
} from './fleet-audit.js';
import { fleetTrend, type FleetTrendQuery, type FleetTrendResult } from './fleet-trend.js';

/** The filters of `upk events`, over the fleet. Times as ISO 8601 (or Date). */
export interface FleetEventFilter extends EventMatch, FleetHosts {
  service?: string;
  types?: string[];
  since?: string | Date | number;
  until?: string | Date | number;
  /** The newest `limit` events (default 100, at most FLEET_EVENTS_MAX). */
  limit?: number;
}

/** The most events one fleet answer holds (read into memory at once, unlike a host's pages of EVENTS_QUERY_MAX). */
export const FLEET_EVENTS_MAX = 100_000;

/** The fleet database, read: open() it, ask, close(). */
export class FleetReader {
  constructor(readonly db: FleetDatabase) {}

  /** Connect to the fleet database at `url` (FleetDatabase.open: the password, time limits, the schema checked). */
  static async open(url: string, options: FleetOpenOptions = {}): Promise<FleetReader> {
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

  /** A metric per bucket, by host, service or both, summed in PostgreSQL (fleet-trend.ts). */
  trend(q: FleetTrendQuery): Promise<FleetTrendResult> {
    return fleetTrend(this.db, q);
  }

  /** The story of `service`'s last failure on `host`, as the host's `why` tells it, as far as the database holds it (fleet-story.ts). */
  why(host: string, service: string, options: { window?: number } = {}): Promise<FleetFailureStory> {
    return fleetStory(this.db, host, service, options.window);
  }

  /**
   * What fails together, from the fleet database (`upk correlate --fleet`; fleet-correlate.ts): around
   * the last failures of `service` on `host` (or `HOST/NAME`), the events of every service of `hosts`
   * (default: its host), ranked against chance as a host's `correlate()` ranks them; without `service`,
   * the pairs of services of `hosts` (default: every host) whose failures co-occur.
   */
  async correlate(options: FleetCorrelateOptions = {}): Promise<CorrelationResult> {
    return new FleetCorrelations(this.db).correlate(options, await this.hosts());
  }

  /**
   * Each host's services at a past time (those `names` mean), as the host's own `status.at` answers
   * from its database (fleet-status-at.ts): the hosts asked, else every host.
   */
  async statusAt(time: string | Date | number, q: FleetHosts & { names?: string[] } = {}): Promise<FleetStatusAt[]> {
    const known = await this.hosts();
    const hosts = q.hosts && q.hosts.length > 0 ? q.hosts : known;
    refuseUnknownHosts(hosts, new Set(known));
    return fleetStatusAt(this.db, hosts, timeMs('time', time), q.names);
  }

  /** The newest `limit` finished client requests that match, oldest first (`upk audit --fleet`; fleet-audit.ts). */
  requests(filter: FleetRequestFilter = {}): Promise<FleetRequestRecord[]> {
    return fleetRequests(this.db, filter, REQUESTS_MAX);
  }

  /** The newest `limit` configuration changes of a service on the hosts, oldest first, with values before and after (`upk config-history --fleet`). */
  configHistory(service: string, filter: FleetConfigHistoryFilter = {}): Promise<FleetConfigChange[]> {
    return fleetConfigHistory(this.db, service, filter, CONFIG_HISTORY_MAX);
  }

  /** The events, configuration changes and finished requests between two times, in time order and bursts (`upk timeline --fleet`). */
  timeline(q: FleetTimelineQuery): Promise<FleetTimelineResult> {
    return fleetTimeline(this.db, q);
  }

  /** The newest `limit` events matching the filter, oldest first (as `upk events` gives a host's). */
  async events(q: FleetEventFilter = {}): Promise<FleetEvent[]> {
    const limit = q.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > FLEET_EVENTS_MAX)
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `limit: expected 1 to ${FLEET_EVENTS_MAX} (one answer, read at once: narrow it with --since and --until for more), got ${limit}`,
      );
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
    if (q.service !== undefined && q.service !== 'all') where.push(serviceMatch('service', q.service, p));
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
