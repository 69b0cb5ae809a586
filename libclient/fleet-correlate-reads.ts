// What `upk correlate --fleet` reads from the fleet's PostgreSQL database (docs/fleet.md, "upk correlate
// --fleet"), as controller/correlation-reads.ts reads a host's SQLite: a service's last failures walked
// from the newest, and another service's times of one kind oldest first, each source of each (host,
// uuid) read in pages of a few thousand times on an index that holds its time (keyset: the next page
// after the last time of the one before), merged in time order, and handed on one at a time, never held.
// The indexes: runs_by_host_service_ended and events_health (fleet migration 007),
// runs_by_host_service_started, config_changes_by_host_service_time, events_by_host_service_time.
import type { CorrelationKind } from '../schema/correlation-protocol.js';
import type { FleetDatabase } from './fleet-database.js';
import { FLEET_EVENTS_HEALTH, FLEET_FAILED_RUN, FLEET_FAILURE_EVENT } from './fleet-sql.js';

/** Times read in one statement (a page), by default. */
export const FLEET_CORRELATE_PAGE = 5000;

type HealthType = 'unhealthy' | 'limit_exceeded' | 'start_timeout';
const HEALTH_TYPES: readonly HealthType[] = ['unhealthy', 'limit_exceeded', 'start_timeout'];

/** One source of times: its table, its time column and what a row must be (on one host's uuid: $1, $2). */
interface Source {
  table: 'runs' | 'events' | 'config_changes';
  time: 'ended' | 'started' | 'time';
  where: string;
}

const failedRuns: Source = { table: 'runs', time: 'ended', where: `ended IS NOT NULL AND ${FLEET_FAILED_RUN}` };
const stoppedRuns: Source = { table: 'runs', time: 'ended', where: `ended IS NOT NULL AND outcome = 'stopped'` };
const startedRuns: Source = {
  table: 'runs',
  time: 'started',
  where: `cause IN ('start', 'restart') AND outcome IS DISTINCT FROM 'spawn_failed'`,
};
const configChanges: Source = { table: 'config_changes', time: 'time', where: `change = 'changed'` };
/** The type is written in the statement (one of HEALTH_TYPES), so that the planner sees the partial index's condition hold. */
const health = (type: HealthType, failures: boolean): Source => ({
  table: 'events',
  time: 'time',
  where: `${FLEET_EVENTS_HEALTH} AND type = '${type}'${failures ? ` AND ${FLEET_FAILURE_EVENT}` : ''}`,
});

/** The sources of each kind (docs/correlation.md, "What is counted"). */
function sourcesOf(kind: CorrelationKind): Source[] {
  switch (kind) {
    case 'failed':
      return [failedRuns, ...HEALTH_TYPES.map((t) => health(t, true))];
    case 'restarted':
      return [startedRuns];
    case 'stopped':
      return [stoppedRuns];
    case 'unhealthy':
      return [health('unhealthy', false), health('limit_exceeded', false)];
    case 'config':
      return [configChanges];
  }
}

/**
 * The times of one source of one (host, uuid) within [from, to], read a page at a time: oldest first,
 * or newest first. Times of one millisecond may be given once only (a page begins after the last
 * time of the one before): the figures count times, not how many events share one.
 */
class PagedTimes {
  private page: number[] = [];
  private at = 0;
  private done = false;
  /** The last time read (the next page begins after it), null before the first page. */
  private last: number | null = null;

  constructor(
    private readonly db: FleetDatabase,
    private readonly source: Source,
    private readonly host: string,
    private readonly uuid: string,
    private readonly from: number,
    private readonly to: number,
    private readonly newestFirst: boolean,
    private readonly size: number,
  ) {}

  /** Whether the next time must be read first (fill). */
  get empty(): boolean {
    return this.at >= this.page.length && !this.done;
  }

  async fill(): Promise<void> {
    const { table, time, where } = this.source;
    const size = this.size;
    const [low, high] = this.newestFirst
      ? [`${time} >= $3`, `${time} ${this.last === null ? '<=' : '<'} $4`]
      : [`${time} ${this.last === null ? '>=' : '>'} $3`, `${time} <= $4`];
    const from = !this.newestFirst && this.last !== null ? this.last : this.from;
    const to = this.newestFirst && this.last !== null ? this.last : this.to;
    const rows = await this.db.query<{ t: Date }>(
      // A run ends after it begins: `started` bounds the partitions read (runs are partitioned by it).
      `SELECT ${time} AS t FROM ${table} WHERE host = $1 AND service_uuid = $2::uuid AND ${where} AND ${low} AND ${high}
         ${time === 'ended' ? 'AND started <= $4' : ''}
       ORDER BY ${time} ${this.newestFirst ? 'DESC' : ''} LIMIT ${size}`,
      [this.host, this.uuid, new Date(from), new Date(to)],
    );
    this.page = rows.map((r) => r.t.getTime());
    this.at = 0;
    if (this.page.length < size) this.done = true;
    if (this.page.length > 0) this.last = this.page[this.page.length - 1]!;
  }

  /** The next time, null at the end (after fill when empty). */
  peek(): number | null {
    return this.at < this.page.length ? this.page[this.at]! : null;
  }

  skip(): void {
    this.at++;
  }
}

/**
 * Give every time of the streams, merged in order (oldest first, or newest first), to `take`, until it
 * answers false or the streams end.
 */
async function eachMerged(streams: PagedTimes[], newestFirst: boolean, take: (t: number) => boolean | void): Promise<void> {
  const first = newestFirst ? (a: number, b: number): boolean => a > b : (a: number, b: number): boolean => a < b;
  for (;;) {
    for (const s of streams) if (s.empty) await s.fill();
    let best: PagedTimes | null = null;
    let bestTime = 0;
    for (const s of streams) {
      const t = s.peek();
      if (t !== null && (best === null || first(t, bestTime))) [best, bestTime] = [s, t];
    }
    if (best === null) return;
    best.skip();
    if (take(bestTime) === false) return;
  }
}

/** A service of one host: its id (the last its configuration changes, else its events, name), every uuid it had, its oldest event. */
export interface FleetService {
  host: string;
  id: string;
  uuids: string[];
  /** Every uuid of it removed (its last configuration change a removal): not among the host's services now. */
  removed?: boolean;
}

export class FleetCorrelationReads {
  /** `page`: the times read in one statement (FLEET_CORRELATE_PAGE; the tests read pages of a few). */
  constructor(
    private readonly db: FleetDatabase,
    private readonly page = FLEET_CORRELATE_PAGE,
  ) {}

  /**
   * Every service of `host` (each uuid its events or configuration changes carry, by its id), and the
   * time of the host's oldest event (null: none): each uuid found by a skip scan of
   * events_by_host_service_time, its oldest and newest event read on it.
   */
  async services(host: string): Promise<{ services: FleetService[]; oldest: number | null }> {
    const events = await this.db.query<{ uuid: string; first: Date; service: string }>(
      `WITH RECURSIVE u AS (
         (SELECT service_uuid FROM events WHERE host = $1 ORDER BY service_uuid LIMIT 1)
         UNION ALL
         SELECT (SELECT e.service_uuid FROM events e WHERE e.host = $1 AND e.service_uuid > u.service_uuid ORDER BY e.service_uuid LIMIT 1)
         FROM u WHERE u.service_uuid IS NOT NULL)
       SELECT u.service_uuid::text AS uuid,
         (SELECT e.time FROM events e WHERE e.host = $1 AND e.service_uuid = u.service_uuid ORDER BY e.time LIMIT 1) AS first,
         (SELECT e.service FROM events e WHERE e.host = $1 AND e.service_uuid = u.service_uuid ORDER BY e.time DESC LIMIT 1) AS service
       FROM u WHERE u.service_uuid IS NOT NULL`,
      [host],
    );
    // The id of each uuid as its last configuration change names it (the small table, read whole for the host).
    const changes = await this.db.query<{ uuid: string; service: string; change: string }>(
      `SELECT DISTINCT ON (service_uuid) service_uuid::text AS uuid, service, change FROM config_changes
       WHERE host = $1 AND service_uuid IS NOT NULL ORDER BY service_uuid, time DESC`,
      [host],
    );
    const idOf = new Map<string, string>(events.map((e) => [e.uuid, e.service]));
    for (const c of changes) idOf.set(c.uuid, c.service);
    const byId = new Map<string, string[]>();
    for (const [uuid, id] of [...idOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) byId.set(id, [...(byId.get(id) ?? []), uuid]);
    const gone = new Set(changes.filter((c) => c.change === 'removed').map((c) => c.uuid));
    const services = [...byId]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, uuids]): FleetService => ({ host, id, uuids, ...(uuids.every((u) => gone.has(u)) ? { removed: true } : {}) }));
    const oldest = events.reduce<number | null>((min, e) => (min === null ? e.first.getTime() : Math.min(min, e.first.getTime())), null);
    return { services, oldest };
  }

  /**
   * The page of each stream of a service's times of a kind: FLEET_CORRELATE_PAGE shared among its
   * streams (a uuid and a source each), but at least 100 times each: what is held is some
   * FLEET_CORRELATE_PAGE times, and 100 per stream for a service of very many uuids.
   */
  private pageOf(s: FleetService, kind: CorrelationKind): number {
    return Math.max(Math.min(this.page, 100), Math.floor(this.page / (s.uuids.length * sourcesOf(kind).length)));
  }

  /** A service's failures within [from, to], newest first, to `take` until it answers false (LastEpisodes). */
  async failuresNewestFirst(s: FleetService, from: number, to: number, take: (t: number) => boolean): Promise<void> {
    const size = this.pageOf(s, 'failed');
    const streams = s.uuids.flatMap((uuid) =>
      sourcesOf('failed').map((src) => new PagedTimes(this.db, src, s.host, uuid, from, to, true, size)),
    );
    await eachMerged(streams, true, take);
  }

  /** A service's times of one kind within [from, to], oldest first, each to `take`. */
  async times(s: FleetService, kind: CorrelationKind, from: number, to: number, take: (t: number) => void): Promise<void> {
    const size = this.pageOf(s, kind);
    const streams = s.uuids.flatMap((uuid) =>
      sourcesOf(kind).map((src) => new PagedTimes(this.db, src, s.host, uuid, from, to, false, size)),
    );
    await eachMerged(streams, false, take);
  }
}
