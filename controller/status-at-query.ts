// Answers `status.at` (upk status --at TIME) from this host's audit database: the reads of
// schema/past-status.ts (which replays a short window of a service's events) in SQLite, each an index
// seek or a count; the services then from `services` and `config_changes` (docs/controller.md, "The
// status at a past time").
import type Database from 'better-sqlite3';
import type { PastServiceStatus } from '../schema/client-protocol.js';
import { parseDetail } from '../schema/event-details.js';
import type { EventType } from '../schema/records.js';
import {
  MOVING_TYPES,
  PastStatuses,
  WINDOW_LIMITS,
  pastServices,
  type ChainVariant,
  type PastBuddy,
  type PastReads,
  type PastRun,
  type PastService,
  type WindowEvent,
} from '../schema/past-status.js';
import { storedConfig } from '../schema/stored-config.js';
import { configKeys } from './config-history.js';

/** The condition of the partial index events_anchors (migration 008), word for word: a query uses it only if it repeats it. */
const ANCHORS = `type IN ('buddy_started', 'desired', 'ready', 'adopted')`;
const MOVING = `type IN (${MOVING_TYPES.map((t) => `'${t}'`).join(', ')})`;

interface ServiceRow {
  uuid: string;
  name: string;
  package: string | null;
  config: string;
  removed: number | null;
}
interface EventRow {
  id: number;
  buddyId: number;
  time: number;
  type: EventType;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: string | null;
}
interface AnchorRow {
  buddyId: number;
  time: number;
  pid: number | null;
}
interface ChangeRow {
  time: number;
  service: string;
  change: 'added' | 'changed' | 'removed' | 'kept';
  trigger: string;
  detail: string | null;
  /** The service's configuration as this change applied it (JSON); NULL before migration 007 and for a removal. */
  config: string | null;
  /** The keys it changed (JSON list); NULL before migration 007. */
  keys: string | null;
}

/** The statements, prepared once, each with its parameters and the rows it reads. */
function statements(db: Database.Database) {
  type Uuid = string;
  return {
    services: db.prepare<[at: number], ServiceRow>('SELECT uuid, name, package, config, removed FROM services WHERE created <= ?'),
    // The oldest event kept (events_by_time): before it, the history is gone (retention).
    historyFrom: db.prepare<[], { t: number | null }>('SELECT min(time) AS t FROM events'),
    change: db.prepare<[uuid: Uuid, at: number], ChangeRow>(
      `SELECT time, service, change, trigger, detail, config, keys FROM config_changes WHERE service_uuid = ? AND time <= ? ORDER BY time DESC, id DESC LIMIT 1`,
    ),
    removalFrom: db.prepare<[uuid: Uuid, from: number], { time: number }>(
      `SELECT time FROM config_changes WHERE service_uuid = ? AND change = 'removed' AND time >= ? ORDER BY time LIMIT 1`,
    ),
    firstChange: db.prepare<[uuid: Uuid], { change: string }>(
      'SELECT change FROM config_changes WHERE service_uuid = ? ORDER BY time, id LIMIT 1',
    ),
    lastRuns: db.prepare<[uuid: Uuid, at: number], PastRun>(
      'SELECT started, ended, cause, outcome FROM runs WHERE service_uuid = ? AND started <= ? ORDER BY started DESC LIMIT 2',
    ),
    buddyStartBy: db.prepare<[uuid: Uuid, at: number], AnchorRow>(
      `SELECT buddy_id AS buddyId, time, pid FROM events INDEXED BY events_anchors
       WHERE service_uuid = ? AND ${ANCHORS} AND type = 'buddy_started' AND time <= ? ORDER BY time DESC LIMIT 1`,
    ),
    buddyStartsBefore: db.prepare<[uuid: Uuid, before: number], AnchorRow>(
      `SELECT buddy_id AS buddyId, time, pid FROM events INDEXED BY events_anchors
       WHERE service_uuid = ? AND ${ANCHORS} AND type = 'buddy_started' AND time < ? ORDER BY time DESC`,
    ),
    // A new buddy that took over the lost one's process (no `how`) carries on its restarts.
    adoptedLost: db.prepare<[uuid: Uuid, from: number, buddyId: number], { one: number }>(
      `SELECT 1 AS one FROM events INDEXED BY events_anchors
       WHERE service_uuid = ? AND ${ANCHORS} AND type = 'adopted' AND time >= ? AND buddy_id = ? AND json_extract(detail, '$.how') IS NULL LIMIT 1`,
    ),
    desiredBefore: db.prepare<[uuid: Uuid, before: number], { detail: string | null }>(
      `SELECT detail FROM events INDEXED BY events_anchors
       WHERE service_uuid = ? AND ${ANCHORS} AND type = 'desired' AND time < ? AND coalesce(json_extract(detail, '$.cause'), '') != 'shutdown'
       ORDER BY time DESC LIMIT 1`,
    ),
    readyWithin: db.prepare<[uuid: Uuid, from: number, to: number], { one: number }>(
      `SELECT 1 AS one FROM events INDEXED BY events_anchors
       WHERE service_uuid = ? AND ${ANCHORS} AND type = 'ready' AND time >= ? AND time <= ? LIMIT 1`,
    ),
    lastUserStart: db.prepare<[uuid: Uuid, before: number], { started: number }>(
      `SELECT started FROM runs WHERE service_uuid = ? AND started < ? AND cause IN ('start', 'adopted') ORDER BY started DESC LIMIT 1`,
    ),
    restartsBetween: db.prepare<[uuid: Uuid, after: number, before: number], { n: number }>(
      `SELECT count(*) AS n FROM runs WHERE service_uuid = ? AND started > ? AND started < ? AND cause = 'restart'`,
    ),
    // The run that begins the chain of failed restarts ending before `before`: the latest that is not one.
    chainStart: {
      uptime: chainStart(db, `coalesce(ended - started <= @min, 0)`),
      signal: chainStart(
        db,
        `NOT EXISTS (SELECT 1 FROM events INDEXED BY events_anchors WHERE service_uuid = @uuid AND ${ANCHORS} AND type = 'ready'
           AND time >= runs.started AND time <= runs.ended)`,
      ),
      job: chainStart(db, `outcome != 'stopped'`),
    },
    runsBetween: db.prepare<[uuid: Uuid, after: number, before: number], { n: number }>(
      'SELECT count(*) AS n FROM runs WHERE service_uuid = ? AND started > ? AND started < ?',
    ),
    lastExitBefore: db.prepare<
      [uuid: Uuid, before: number, endedBefore: number, from: number],
      { ended: number; code: number | null; signal: string | null; outcome: string }
    >(
      `SELECT ended, code, signal, outcome FROM runs WHERE service_uuid = ? AND started < ? AND ended < ? AND started >= ?
         AND outcome IN ('stopped', 'failed', 'spawn_failed') ORDER BY started DESC LIMIT 1`,
    ),
    newest: db.prepare<[uuid: Uuid, from: number, at: number, limit: number], EventRow>(
      `SELECT id, buddy_id AS buddyId, time, type, pid, code, signal, detail FROM events
       WHERE service_uuid = ? AND time >= ? AND time <= ? AND ${MOVING} ORDER BY time DESC, id DESC LIMIT ?`,
    ),
    oldest: db.prepare<[uuid: Uuid, from: number, at: number, limit: number], EventRow>(
      `SELECT id, buddy_id AS buddyId, time, type, pid, code, signal, detail FROM events
       WHERE service_uuid = ? AND time >= ? AND time <= ? AND ${MOVING} ORDER BY time, id LIMIT ?`,
    ),
    usage: db.prepare<
      [at: number, from: number, buddyId: number],
      { time: number; wallMs: number; cpuMs: number; rssKb: number; processes: number }
    >(
      `SELECT time, wall_ms AS wallMs, cpu_ms AS cpuMs, rss_kb AS rssKb, processes FROM samples INDEXED BY samples_by_time
       WHERE time <= ? AND time >= ? AND buddy_id = ? ORDER BY time DESC LIMIT 1`,
    ),
  };
}

/**
 * The latest run before @before (since @since) that is not a failed restart: an automatic restart that
 * could not start, or ended (by itself, or stopped by its buddy to be restarted) before it was running
 * (`notRunning`, on the row of runs).
 */
function chainStart(db: Database.Database, notRunning: string) {
  return db.prepare<{ uuid: string; before: number; since: number; min: number }, PastRun>(
    `SELECT started, ended, cause, outcome FROM runs WHERE service_uuid = @uuid AND started < @before AND started >= @since
       AND NOT (cause = 'restart' AND (outcome = 'spawn_failed' OR (outcome IN ('failed', 'stopped') AND ${notRunning})))
     ORDER BY started DESC LIMIT 1`,
  );
}

/** The reads of the replay, in this host's database (a buddy is named by its row id). */
class SqliteReads implements PastReads<number> {
  constructor(private readonly s: ReturnType<typeof statements>) {}

  lastRuns(uuid: string, at: number): PastRun[] {
    return this.s.lastRuns.all(uuid, at);
  }

  buddyStart(uuid: string, at: number, strictly: boolean): PastBuddy<number> | undefined {
    const row = strictly ? this.s.buddyStartsBefore.get(uuid, at) : this.s.buddyStartBy.get(uuid, at);
    return row && { buddy: row.buddyId, time: row.time, pid: row.pid };
  }

  newest(uuid: string, from: number, at: number, limit: number): WindowEvent<number>[] {
    return this.s.newest.all(uuid, from, at, limit).map(windowEvent);
  }

  oldest(uuid: string, from: number, at: number, limit: number): WindowEvent<number>[] {
    return this.s.oldest.all(uuid, from, at, limit).map(windowEvent);
  }

  desiredBefore(uuid: string, before: number): Record<string, unknown> | null {
    return parseDetail(this.s.desiredBefore.get(uuid, before)?.detail ?? null);
  }

  freshBuddy(uuid: string, before: number, notBefore: number | null): number | null {
    for (const b of this.s.buddyStartsBefore.iterate(uuid, before)) {
      if (notBefore !== null && b.time < notBefore) return null;
      if (this.s.adoptedLost.get(uuid, b.time, b.buddyId) === undefined) return b.time;
    }
    return null;
  }

  lastUserStart(uuid: string, before: number): number | null {
    return this.s.lastUserStart.get(uuid, before)?.started ?? null;
  }

  runsBetween(uuid: string, after: number, before: number, restarts: boolean): number {
    return (restarts ? this.s.restartsBetween : this.s.runsBetween).get(uuid, after, before)?.n ?? 0;
  }

  chainStart(variant: ChainVariant, q: { uuid: string; before: number; since: number; minUptimeMs: number }): PastRun | undefined {
    return this.s.chainStart[variant].get({ uuid: q.uuid, before: q.before, since: q.since, min: q.minUptimeMs });
  }

  readyWithin(uuid: string, from: number, to: number): boolean {
    return this.s.readyWithin.get(uuid, from, to) !== undefined;
  }

  lastExitBefore(uuid: string, before: number, since: number) {
    return this.s.lastExitBefore.get(uuid, before, before, since);
  }

  /** samples_by_time holds every buddy's records: the walk back from `at` reads the 5 minutes of all of them, not the whole run's. */
  usage(buddy: number, _uuid: string, from: number, at: number) {
    return this.s.usage.get(at, from, buddy);
  }
}

function windowEvent(r: EventRow): WindowEvent<number> {
  return {
    time: r.time,
    type: r.type,
    pid: r.pid,
    code: r.code,
    signal: r.signal,
    detail: parseDetail(r.detail),
    buddy: r.buddyId,
    tie: r.id,
  };
}

/** `status.at` over this host's database (schema/past-status.ts statusAt takes it). */
export class StatusAtQueries {
  private readonly s: ReturnType<typeof statements>;
  private readonly past: PastStatuses<number>;

  constructor(db: Database.Database, limits = WINDOW_LIMITS) {
    this.s = statements(db);
    this.past = new PastStatuses(new SqliteReads(this.s), limits);
  }

  /**
   * The services that existed at `at`: recorded by then, and not removed then (by its last
   * configuration change before it, else by `services.removed`, or the `removed` change recorded
   * after it), and added by then when a change records its addition (a service recorded before
   * migration 002 has none); in `list`'s order. The fleet's database, which has the changes only,
   * tells the same (libclient/fleet-status-at.ts).
   */
  servicesAt(at: number): PastService[] {
    const rows = [];
    for (const row of this.s.services.all(at)) {
      const change = this.s.change.get(row.uuid, at);
      if (change?.change === 'removed') continue;
      if (row.removed !== null && row.removed <= at && (change === undefined || change.time < row.removed)) {
        // Removed by then, as its history tells it: from its `removed` change when one was recorded at or
        // after the removal (a reload records its changes once the services it removes have stopped).
        const recorded = this.s.removalFrom.get(row.uuid, row.removed);
        if (recorded === undefined || recorded.time <= at) continue;
      }
      // Recorded, but its addition not yet (a reload records its changes once it has applied them all).
      if (change === undefined && this.s.firstChange.get(row.uuid)?.change === 'added') continue;
      rows.push({
        uuid: row.uuid,
        id: row.package ? `${row.package}::${row.name}` : row.name,
        config: storedConfig(row.config),
        change: change
          ? {
              time: change.time,
              service: change.service,
              change: change.change,
              trigger: change.trigger,
              detail: change.detail,
              config: change.config == null ? null : storedConfig(change.config),
              keys: configKeys(change.keys),
            }
          : null,
      });
    }
    return pastServices(rows);
  }

  /** The time of the oldest event kept, or null when none is. */
  historyFrom(): number | null {
    return this.s.historyFrom.get()?.t ?? null;
  }

  /** One service's status at `at`. */
  statusAt(svc: PastService, at: number): Promise<PastServiceStatus> {
    return this.past.statusAt(svc, at);
  }
}
