// What `upk correlate` reads from the audit database, in memory bounded whatever the history holds: a
// service's last n failures (each index walked from the newest, n + 1 rows at most), and another
// service's times of one kind streamed oldest first (`.iterate()`, merged across its uuids and
// sources), never held. Each kind from an index that holds its time, service by service:
// runs_by_service_ended (009) for failures and stops, runs_by_service_started for starts,
// events_health (010) for the health events, config_changes_by_service for configuration changes.
import type Database from 'better-sqlite3';
import type { CorrelationKind } from '../schema/correlation-protocol.js';
import { LastEpisodes, type LastFailures } from '../schema/correlation-rank.js';
import { EVENTS_HEALTH, FAILED_RUN, FAILURE_EVENT } from './failure-kinds.js';

type HealthType = 'unhealthy' | 'limit_exceeded' | 'start_timeout';
const HEALTH_TYPES: readonly HealthType[] = ['unhealthy', 'limit_exceeded', 'start_timeout'];

/** Each source of a kind's times, [uuid, from, to] or [uuid, type, from, to], oldest first. */
const SQL = {
  failedRuns: `SELECT ended FROM runs INDEXED BY runs_by_service_ended
    WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND ${FAILED_RUN} ORDER BY ended`,
  stoppedRuns: `SELECT ended FROM runs INDEXED BY runs_by_service_ended
    WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND outcome = 'stopped' ORDER BY ended`,
  startedRuns: `SELECT started FROM runs INDEXED BY runs_by_service_started
    WHERE service_uuid = ? AND started >= ? AND started <= ? AND cause IN ('start', 'restart') AND outcome IS NOT 'spawn_failed'
    ORDER BY started`,
  configChanges: `SELECT time FROM config_changes INDEXED BY config_changes_by_service
    WHERE service_uuid = ? AND time >= ? AND time <= ? AND change = 'changed' ORDER BY time`,
  healthFailures: `SELECT time FROM events INDEXED BY events_health
    WHERE service_uuid = ? AND ${EVENTS_HEALTH} AND type = ? AND time >= ? AND time <= ? AND ${FAILURE_EVENT} ORDER BY time`,
  health: `SELECT time FROM events INDEXED BY events_health
    WHERE service_uuid = ? AND ${EVENTS_HEALTH} AND type = ? AND time >= ? AND time <= ? ORDER BY time`,
  // The failures again, newest first (a service's last episodes).
  failedRunsNewest: `SELECT ended FROM runs INDEXED BY runs_by_service_ended
    WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND ${FAILED_RUN} ORDER BY ended DESC`,
  healthFailuresNewest: `SELECT time FROM events INDEXED BY events_health
    WHERE service_uuid = ? AND ${EVENTS_HEALTH} AND type = ? AND time >= ? AND time <= ? AND ${FAILURE_EVENT} ORDER BY time DESC`,
} as const;
type Source = keyof typeof SQL;

/** A source of times and its parameters. */
type Read = [source: Source, params: (string | number)[]];

/** The sources of each kind, for one uuid. */
function readsOf(kind: CorrelationKind, uuid: string, from: number, to: number): Read[] {
  switch (kind) {
    case 'failed':
      return [['failedRuns', [uuid, from, to]], ...HEALTH_TYPES.map((type): Read => ['healthFailures', [uuid, type, from, to]])];
    case 'restarted':
      return [['startedRuns', [uuid, from, to]]];
    case 'stopped':
      return [['stoppedRuns', [uuid, from, to]]];
    case 'unhealthy':
      return [
        ['health', [uuid, 'unhealthy', from, to]],
        ['health', [uuid, 'limit_exceeded', from, to]],
      ];
    case 'config':
      return [['configChanges', [uuid, from, to]]];
  }
}

/**
 * Sorted streams of numbers (ascending, or all descending), merged into one stream in the same order;
 * every stream is closed at the end, read whole or not.
 */
function* merged(streams: Iterator<number>[], descending = false): Generator<number, void, undefined> {
  const first = descending ? (a: number, b: number): boolean => a > b : (a: number, b: number): boolean => a < b;
  try {
    const heads = streams.map((s) => s.next());
    for (;;) {
      let min = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i]!;
        if (!h.done && (min < 0 || first(h.value, heads[min]!.value as number))) min = i;
      }
      if (min < 0) return;
      yield heads[min]!.value as number;
      heads[min] = streams[min]!.next();
    }
  } finally {
    for (const s of streams) s.return?.();
  }
}

export class CorrelationReads {
  private readonly oldestStmt: Database.Statement<[], number | null>;
  private readonly subjectsStmt: Database.Statement<[], { uuid: string; service: string }>;
  /** The statements of each source: one per stream open at once (a statement iterates one stream at a time). */
  private readonly pool = new Map<Source, Database.Statement<(string | number)[], number>[]>();

  constructor(private readonly db: Database.Database) {
    this.oldestStmt = db.prepare<[], number | null>('SELECT min(time) FROM events').pluck();
    this.subjectsStmt = db.prepare('SELECT uuid, service FROM service_ids ORDER BY service, uuid');
  }

  /** The time of the oldest event kept (events_by_time), or null. */
  oldest(): number | null {
    return this.oldestStmt.get() ?? null;
  }

  /** Every (uuid, service id) ever recorded. */
  subjects(): { uuid: string; service: string }[] {
    return this.subjectsStmt.all();
  }

  /**
   * The onsets of a service's last `n` (≥ 1) episodes of failures within [from, to], oldest first, and
   * the range the chance is measured over: [from, to], or from the oldest onset counted when older ones
   * were left out (docs/correlation.md). A failure at most `windowMs` after the one before it belongs to
   * that one's episode: a crash loop is one episode, counted at its first failure, not as many
   * coincidences. The failures are streamed from the newest, and the walk stops at n + 1 onsets: the one
   * more tells whether any was left out.
   */
  lastFailures(uuids: readonly string[], n: number, windowMs: number, from: number, to: number): LastFailures {
    const streams = this.open(
      uuids.flatMap((uuid): Read[] => [
        ['failedRunsNewest', [uuid, from, to]],
        ...HEALTH_TYPES.map((type): Read => ['healthFailuresNewest', [uuid, type, from, to]]),
      ]),
    );
    const walk = new LastEpisodes(n, windowMs, from, to);
    for (const t of merged(streams, true)) if (!walk.add(t)) break;
    return walk.result();
  }

  /**
   * The times of a service's events of one kind within [from, to], oldest first, as they are read: the
   * sources of each uuid merged (docs/correlation.md, "What is counted"). Read it whole, or close it.
   */
  *times(uuids: readonly string[], kind: CorrelationKind, from: number, to: number): Generator<number, void, undefined> {
    // Opened at the first read (a stream closed unread opens nothing), and closed however it ends.
    yield* merged(this.open(uuids.flatMap((uuid) => readsOf(kind, uuid, from, to))));
  }

  /** The streams of these reads; if one cannot be opened, those opened are closed. */
  private open(reads: Read[]): Iterator<number>[] {
    const streams: Iterator<number>[] = [];
    try {
      for (const [source, params] of reads) streams.push(this.iterate(source, params));
    } catch (err) {
      for (const s of streams) s.return?.();
      throw err;
    }
    return streams;
  }

  /** A stream of one source, on a statement of the pool that iterates nothing else now. */
  private iterate(source: Source, params: (string | number)[]): Iterator<number> {
    let statements = this.pool.get(source);
    if (!statements) this.pool.set(source, (statements = []));
    let s = statements.find((x) => !x.busy);
    if (!s) statements.push((s = this.db.prepare<(string | number)[], number>(SQL[source]).pluck()));
    return s.iterate(...params);
  }
}
