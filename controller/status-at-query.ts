// Answers `status.at` (upk status --at TIME): which services existed at a time, and each one's status
// then, replayed (status-at.ts) from a short window of its events, with what was true before the window
// read from the runs table and a few index seeks. Nothing here reads a service's whole history: a
// month of crash loop is the same few queries (docs/controller.md, "The status at a past time").
import type Database from 'better-sqlite3';
import type { PastConfigChange, PastServiceStatus, StatusAtResult } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { detailOf, parseDetail } from '../schema/event-details.js';
import { isoTime, type DesiredState, type EventType, type ExitInfo, type ResourceUsage } from '../schema/records.js';
import { replay, type Carried, type PastEvent, type PastPolicy, pastPolicy } from './status-at.js';
import { configKeys } from './config-history.js';
import { servicesNamed, type ServiceNames } from './service-names.js';
import { USAGE_LOOKBACK_MS } from './sample-store.js';
import { storedConfig } from './stored-config.js';

/** The condition of the partial index events_anchors (migration 008), word for word: a query uses it only if it repeats it. */
const ANCHORS = `type IN ('buddy_started', 'desired', 'ready', 'adopted')`;
type AnchorType = 'buddy_started' | 'desired' | 'ready' | 'adopted';
/**
 * Most events of one service replayed. A longer window begins at the current run instead of the one
 * before; if that is still longer (a run with that many health or limit events), its first
 * WINDOW_HEAD events (its start, its readiness) and its newest are replayed.
 */
export const WINDOW_LIMITS = { max: 10_000, head: 100 };
/** The event types that move a status (the others — actions, signals, output, reconfigured … — are not read). */
const MOVING = `type IN ('buddy_started', 'buddy_exiting', 'desired', 'spawned', 'spawn_failed', 'adopted', 'ready', 'exited', 'stopping',
  'stopped', 'backoff', 'failed', 'start_timeout', 'timed_out', 'unhealthy', 'healthy', 'limit_exceeded', 'overlap_abandoned')`;

interface ServiceRow {
  uuid: string;
  name: string;
  package: string | null;
  config: string;
  removed: number | null;
}
interface RunRow {
  started: number;
  ended: number | null;
  cause: 'start' | 'restart' | 'adopted';
  outcome: 'stopped' | 'failed' | 'spawn_failed' | 'lost' | null;
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
    lastRuns: db.prepare<[uuid: Uuid, at: number], RunRow>(
      'SELECT started, ended, cause, outcome FROM runs WHERE service_uuid = ? AND started <= ? ORDER BY started DESC LIMIT 2',
    ),
    anchor: db.prepare<[uuid: Uuid, type: AnchorType, at: number], AnchorRow>(
      `SELECT buddy_id AS buddyId, time, pid FROM events INDEXED BY events_anchors
       WHERE service_uuid = ? AND ${ANCHORS} AND type = ? AND time <= ? ORDER BY time DESC LIMIT 1`,
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
  return db.prepare<{ uuid: string; before: number; since: number; min: number }, RunRow>(
    `SELECT started, ended, cause, outcome FROM runs WHERE service_uuid = @uuid AND started < @before AND started >= @since
       AND NOT (cause = 'restart' AND (outcome = 'spawn_failed' OR (outcome IN ('failed', 'stopped') AND ${notRunning})))
     ORDER BY started DESC LIMIT 1`,
  );
}

/** A service that existed at the time asked about. */
export interface PastService {
  uuid: string;
  /** Its id then (a configuration change's name for it, else the database's). */
  id: string;
  /**
   * Its configuration then: the one its configuration change in force applied, else (a change recorded
   * before migration 007, or none kept) the one stored now (services.config); null if unreadable.
   */
  config: ServiceConfig | null;
  change: PastConfigChange | null;
}

export class StatusAtQueries {
  private readonly s: ReturnType<typeof statements>;

  constructor(
    db: Database.Database,
    private readonly limits = WINDOW_LIMITS,
  ) {
    this.s = statements(db);
  }

  /**
   * The services that existed at `at`: recorded by then, and not removed then (by its last
   * configuration change before it, else by `services.removed`); in `list`'s order.
   */
  servicesAt(at: number): PastService[] {
    const out: (PastService & { priority: number })[] = [];
    for (const row of this.s.services.all(at)) {
      const change = this.s.change.get(row.uuid, at);
      if (change?.change === 'removed') continue;
      if (row.removed !== null && row.removed <= at && (change === undefined || change.time < row.removed)) continue;
      const applied = change?.config == null ? null : storedConfig(change.config);
      const config = applied ?? storedConfig(row.config);
      const id = change?.service ?? (row.package ? `${row.package}::${row.name}` : row.name);
      out.push({
        uuid: row.uuid,
        id,
        config,
        priority: config?.startPriority ?? 0,
        change: change
          ? {
              time: isoTime(change.time),
              change: change.change,
              trigger: change.trigger,
              detail: change.detail,
              keys: configKeys(change.keys),
              applied,
            }
          : null,
      });
    }
    out.sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
    return out.map(({ priority: _, ...s }) => s);
  }

  /** The time of the oldest event kept, or null when none is. */
  historyFrom(): number | null {
    return this.s.historyFrom.get()?.t ?? null;
  }

  /** One service's status at `at`. */
  statusAt(svc: PastService, at: number): PastServiceStatus {
    const policy: PastPolicy = svc.config
      ? pastPolicy(svc.config)
      : { minUptimeMs: 1000, readiness: 'uptime', job: null, health: { probe: false, failLine: false, intervalMs: 0 } };
    const { events, from, buddyId, startsWith } = this.window(svc.uuid, at);
    const carried = this.carried(svc.uuid, from, policy, svc.config?.initialState ?? 'stopped', startsWith);
    const past = replay(events, at, policy, carried);
    const usage = past.pid !== null && past.started !== null && buddyId !== null ? this.usage(buddyId, past.started, at) : null;
    const [pkg] = splitId(svc.id);
    return {
      name: svc.id,
      package: pkg,
      uuid: svc.uuid,
      state: past.state,
      desired: past.desired,
      pid: past.pid,
      buddyPid: past.buddyPid,
      started: past.started === null ? null : isoTime(past.started),
      since: past.since === null ? null : isoTime(past.since),
      restarts: past.restarts,
      failures: past.failures,
      lastExit: past.lastExit,
      hold: past.hold,
      waitingFor: null,
      usage,
      health: past.health,
      actions: svc.config?.customActions.map((a) => a.name) ?? [],
      description: svc.config?.shortDescription ?? null,
      unsupervised: null,
      config: svc.change,
    };
  }

  /**
   * The events to replay: from the start of the run before the last one begun by `at` (its exit is the
   * last exit), or from the last buddy's start when later (a new buddy begins afresh), up to `at`;
   * `startsWith`: the cause of the run the window begins with (it tells how the run before it ended).
   */
  private window(
    uuid: string,
    at: number,
  ): { events: PastEvent[]; from: number; buddyId: number | null; startsWith: RunRow['cause'] | null } {
    const runs = this.s.lastRuns.all(uuid, at);
    const buddy = this.s.anchor.get(uuid, 'buddy_started', at);
    const { max, head } = this.limits;
    let rows: EventRow[] = [];
    let from = -1;
    let startsWith: RunRow['cause'] | null = null;
    // The run before the last, else (too many events) the last run alone.
    for (const run of [runs[1], runs[0]]) {
      from = Math.max(run?.started ?? -1, buddy?.time ?? -1);
      startsWith = run !== undefined && run.started === from ? run.cause : null;
      rows = this.s.newest.all(uuid, from, at, max + 1).reverse();
      if (rows.length <= max) break;
    }
    if (rows.length > max) {
      // Still too long: its first events (the run's start, its readiness) and its newest.
      const first = this.s.oldest.all(uuid, from, at, head);
      const last = first.at(-1)!;
      rows = [
        ...first,
        ...rows.slice(rows.length - (max - head)).filter((r) => r.time > last.time || (r.time === last.time && r.id > last.id)),
      ];
    }
    const events = rows.map((r): PastEvent => ({
      time: r.time,
      type: r.type,
      pid: r.pid,
      code: r.code,
      signal: r.signal,
      detail: parseDetail(r.detail),
    }));
    return { events, from, buddyId: rows.at(-1)?.buddyId ?? buddy?.buddyId ?? null, startsWith };
  }

  /** What was true just before `from`: the desired state of record, the counts, the last exit, the buddy. */
  private carried(uuid: string, from: number, policy: PastPolicy, initial: DesiredState, nextCause: RunRow['cause'] | null): Carried {
    const d = detailOf({ type: 'desired', detail: parseDetail(this.s.desiredBefore.get(uuid, from)?.detail ?? null) }, 'desired');
    const buddies = this.s.buddyStartsBefore.iterate(uuid, from);
    // The buddy then; a new buddy begins with no failures and no last exit (and its restarts at 0 unless it adopts).
    let buddy: AnchorRow | undefined;
    let fresh: number | null = null;
    const userStart = this.s.lastUserStart.get(uuid, from)?.started ?? null;
    for (const b of buddies) {
      buddy ??= b;
      if (userStart !== null && b.time < userStart) break;
      if (this.s.adoptedLost.get(uuid, b.time, b.buddyId) === undefined) {
        fresh = b.time;
        break;
      }
    }
    const resetAt = Math.max(userStart ?? -1, fresh ?? -1);
    const since = buddy?.time ?? -1;
    return {
      desired: d.desired ?? initial,
      restarts: this.s.restartsBetween.get(uuid, resetAt, from)?.n ?? 0,
      failures: this.failuresBefore(uuid, from, since, policy, nextCause),
      lastExit: this.lastExitBefore(uuid, from, since),
      buddyPid: buddy?.pid ?? null,
    };
  }

  /**
   * Failures in a row before `before`, when the window begins with an automatic restart (else they
   * begin afresh): the runs of the chain of failed restarts before it (each could not start, or ended
   * before it was running: by itself, by StartTimeout, or stopped by its buddy to be restarted), and the
   * run that began the chain if it failed too. Counted in SQL: a long crash loop is not read out.
   */
  private failuresBefore(uuid: string, before: number, since: number, policy: PastPolicy, nextCause: RunRow['cause'] | null): number {
    if (nextCause !== 'restart') return 0;
    const variant = policy.job ? 'job' : policy.readiness;
    const first = this.s.chainStart[variant].get({ uuid, before, since, min: policy.minUptimeMs });
    const chain = this.s.runsBetween.get(uuid, first?.started ?? since - 1, before)?.n ?? 0;
    if (!first) return chain;
    // The run before the chain was followed by an automatic restart: stopped, it was stopped to be restarted.
    const end = first.ended !== null && first.ended < before ? first.ended : before;
    const failed = policy.job
      ? first.outcome === 'failed' || first.outcome === 'spawn_failed'
      : first.outcome === 'spawn_failed' ||
        first.outcome === 'stopped' ||
        (first.outcome === 'failed' && !this.reachedRunning(uuid, first, end, policy));
    return chain + (failed ? 1 : 0);
  }

  /** Whether a run became running before `end`: MinUptime passed before it (an exit at that very ms came first), or a `ready` within it. */
  private reachedRunning(uuid: string, r: RunRow, end: number, policy: PastPolicy): boolean {
    if (r.outcome === 'spawn_failed') return false;
    if (policy.readiness === 'uptime') return r.started + policy.minUptimeMs < end;
    return this.s.readyWithin.get(uuid, r.started, end) !== undefined;
  }

  /** How the last run ended before `before` that its buddy then saw end (since `since`). */
  private lastExitBefore(uuid: string, before: number, since: number): ExitInfo | null {
    const r = this.s.lastExitBefore.get(uuid, before, before, since);
    if (!r) return null;
    return r.outcome === 'spawn_failed'
      ? { code: null, signal: null, at: isoTime(r.ended) }
      : { code: r.code, signal: r.signal, at: isoTime(r.ended) };
  }

  /**
   * The usage record of the minute before `at` within the run (from `started`), USAGE_LOOKBACK_MS at
   * most: its mean CPU and memory. samples_by_time holds every buddy's records: the walk back from
   * `at` reads the 5 minutes of all of them, not the whole run's (a month of it, with SampleInterval 0).
   */
  private usage(buddyId: number, started: number, at: number): ResourceUsage | null {
    const u = this.s.usage.get(at, Math.max(started, at - USAGE_LOOKBACK_MS), buddyId);
    if (!u) return null;
    return {
      cpu: u.wallMs > 0 ? Math.round((u.cpuMs * 1000) / u.wallMs) / 10 : 0,
      rss: u.rssKb * 1024,
      processes: u.processes,
      at: isoTime(u.time),
    };
  }
}

/**
 * Answers `status.at`: every service that existed at `at` (or those `names` mean, resolved among them
 * as every command resolves names among the services configured: service-names.ts), with its status
 * then, and where the history kept begins. A time to come is refused, and so is a name that meant no
 * service then; a name that meant several is ambiguous, as it is for `status`.
 */
export function statusAt(
  q: Pick<StatusAtQueries, 'servicesAt' | 'statusAt' | 'historyFrom'>,
  at: number,
  names?: readonly string[],
  now = Date.now(),
): StatusAtResult {
  if (!Number.isFinite(at)) throw new UpkError(ErrorCode.BAD_REQUEST, 'time must be an ISO 8601 time');
  if (at > now) throw new UpkError(ErrorCode.BAD_REQUEST, `${isoTime(at)} is yet to come (it is ${isoTime(now)})`);
  let services = q.servicesAt(at);
  if (names !== undefined && names.length > 0) services = pastNamed(services, names, at);
  const from = q.historyFrom();
  return { at: isoTime(at), historyFrom: from === null ? null : isoTime(from), services: services.map((s) => q.statusAt(s, at)) };
}

/**
 * The services then that `names` mean, in `list`'s order: each name as ServiceTable.resolve reads it
 * (an id, a bare name only one package had, a service with Instances, or `all`). Names that meant no
 * service then are refused together; an ambiguous one as `status` refuses it.
 */
export function pastNamed(services: readonly PastService[], names: readonly string[], at: number): PastService[] {
  const picked = new Set<PastService>();
  const unknown: string[] = [];
  for (const n of names) {
    if (n === 'all') continue;
    try {
      for (const s of servicesNamed(services, n, namesOf)) picked.add(s);
    } catch (err) {
      if ((err as UpkError).code !== ErrorCode.NO_SUCH_SERVICE) throw err;
      unknown.push(n);
    }
  }
  if (unknown.length > 0) {
    throw new UpkError(
      ErrorCode.NO_SUCH_SERVICE,
      `no service named ${unknown.map((n) => JSON.stringify(n)).join(', ')} existed at ${isoTime(at)}`,
      { details: { service: unknown[0] } },
    );
  }
  return names.includes('all') ? [...services] : services.filter((s) => picked.has(s));
}

/** A past service's names: its id then, its bare name, and (by its configuration then) the service with Instances it is one of. */
function namesOf(svc: PastService): ServiceNames {
  return { id: svc.id, name: splitId(svc.id)[1], instanceOf: svc.config?.instanceOf, instance: svc.config?.instance };
}

function splitId(id: string): [pkg: string | null, name: string] {
  if (!id.includes('::')) return [null, id];
  const [pkg = '', name = ''] = id.split('::', 2);
  return [pkg, name];
}
