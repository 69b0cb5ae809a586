// The story of a service's last failure (upk why): its run, how it ended, the last lines it wrote,
// what led up to it, and what happened next — all from the audit database.
import type Database from 'better-sqlite3';
import { CONFIG_CHANGE_WINDOW_MS, type ConfigChangeBefore, type FailureStory, type RunRecord } from '../schema/client-protocol.js';
import { detailOf } from '../schema/event-details.js';
import { isoTime, type ServiceEvent } from '../schema/records.js';
import { configKeys } from './config-history.js';
import { inList, type EventQueries } from './event-queries.js';
import { EVENTS_HEALTH, FAILED_RUN, RUN_ENDING_HEALTH } from './failure-kinds.js';
import { USAGE_LOOKBACK_MS } from '../schema/past-status.js';

/** Events told after the failure, at most. */
export const STORY_AFTER_EVENTS = 20;

interface RunRow {
  id: number;
  service_uuid: string;
  pid: number | null;
  started: number;
  ended: number | null;
  cause: RunRecord['cause'];
  outcome: RunRecord['outcome'];
  code: number | null;
  signal: string | null;
  start_event: number | null;
  end_event: number | null;
}

/** The store's reader of events, so that every event looks the same. */
export type EventReader = Pick<EventQueries, 'byId' | 'after' | 'signalsSent'>;

/** Whose story: the service's id and uuid now, every uuid it had, its command, its status (null: not configured). */
export interface StorySubject {
  service: string;
  uuid: string;
  uuids: string[];
  command: string | null;
  status: FailureStory['status'];
  /** Its prerequisites (Prerequisites), each with every uuid its id had: their configuration changes count too. */
  prerequisites?: { service: string; uuids: string[] }[];
}

export function failureStory(db: Database.Database, events: EventReader, who: StorySubject): FailureStory {
  const ofThem = inList(who.uuids);
  const first = db
    .prepare<string[], { t: number | null }>(`SELECT min(time) AS t FROM events WHERE service_uuid IN ${ofThem}`)
    .get(...who.uuids);
  const story: FailureStory = {
    service: who.service,
    uuid: who.uuid,
    command: who.command,
    historyFrom: first?.t == null ? null : isoTime(first.t),
    failure: null,
    after: [],
    status: who.status,
  };
  const failed = db
    .prepare<string[], RunRow>(`SELECT * FROM runs WHERE service_uuid IN ${ofThem} AND ${FAILED_RUN} ORDER BY ended DESC, id DESC LIMIT 1`)
    .get(...who.uuids);
  // A run the buddy ended itself (a failed health check, a limit passed) is a failure too, when it is the later one.
  const unwell = unwellRun(db, events, who.uuids);
  const run = unwell && (!failed || (unwell.run.ended ?? 0) >= (failed.ended ?? 0)) ? unwell.run : failed;
  if (!run || run.ended === null) return story;
  const ended = run.ended;
  const eventId = run.outcome === 'spawn_failed' ? run.start_event : run.end_event;
  const event = eventId === null ? null : events.byId(eventId);
  const chain = failureChain(db, who.uuids, run);
  const restarts = db
    .prepare<(string | number)[], { n: number }>(
      `SELECT count(*) AS n FROM runs WHERE service_uuid IN ${ofThem} AND cause = 'restart' AND started >= ? AND started <= ?`,
    )
    .get(...who.uuids, ended - 3_600_000, ended);
  const usage = db
    .prepare<(string | number)[], { time: number; cpu_ms: number; wall_ms: number; rss_kb: number; rss_max_kb: number }>(
      `SELECT s.time, s.cpu_ms, s.wall_ms, s.rss_kb, s.rss_max_kb FROM samples s JOIN buddies b ON b.id = s.buddy_id
       WHERE b.service_uuid IN ${ofThem} AND s.time <= ? AND s.time >= ? ORDER BY s.time DESC LIMIT 1`,
    )
    .get(...who.uuids, ended, Math.max(run.started, ended - USAGE_LOOKBACK_MS));
  story.failure = {
    run: {
      started: isoTime(run.started),
      ended: isoTime(ended),
      cause: run.cause,
      outcome: run.outcome,
      pid: run.pid,
      code: run.code,
      signal: run.signal,
    },
    event,
    lastOutput: detailOf(event, 'exited').lastOutput ?? null,
    error: detailOf(event, 'spawn_failed').error ?? null,
    failuresInRow: chain.count,
    restartsHourBefore: restarts?.n ?? 0,
    usageBefore: usage
      ? {
          cpu: usage.wall_ms > 0 ? Math.round((usage.cpu_ms / usage.wall_ms) * 1000) / 10 : 0,
          rss: usage.rss_kb * 1024,
          rssMax: usage.rss_max_kb * 1024,
          at: isoTime(usage.time),
        }
      : null,
    signals: events.signalsSent(who.uuids, run.started, ended, 20),
    unwell: unwell?.run === run ? unwell.event : null,
    configChanged: configChangedBefore(db, who, chain.first.ended ?? chain.first.started),
  };
  story.after = events.after({}, who.uuids, eventId ?? 0, STORY_AFTER_EVENTS);
  return story;
}

/** Most runs a chain of failures looks through that ended `stopped` (each one checked for a health check that ended it). */
export const CHAIN_STOPPED_RUNS_MAX = 10_000;

type ChainRun = Pick<RunRow, 'id' | 'started' | 'ended' | 'pid' | 'outcome'>;

/**
 * The run of failures that `run` ends: its first run and how many runs it holds, `run` included. A
 * run in it failed (FAILED_RUN) or was ended by its buddy for a failed health check or a limit passed
 * (RUN_ENDING_HEALTH, during the run); the run before the first is one that did neither (a stop asked
 * for, a lost buddy, or a run that still runs), or none: then the chain begins at the first run kept.
 * However long the chain, memory stays the same: the runs are counted in SQL, and only the runs that
 * ended `stopped` are looked at one by one (CHAIN_STOPPED_RUNS_MAX at most; past it, the chain is
 * taken to begin there).
 */
export function failureChain(db: Database.Database, uuids: string[], run: ChainRun): { first: ChainRun; count: number } {
  // (`started <= @started` beside the OR: the term the index can range on.)
  const notFailed = db.prepare<{ uuid: string; started: number; id: number }, ChainRun>(
    `SELECT id, started, ended, pid, outcome FROM runs WHERE service_uuid = @uuid AND started <= @started
       AND (started < @started OR id < @id) AND NOT coalesce(${FAILED_RUN}, 0) ORDER BY started DESC, id DESC`,
  );
  // On events_health (010), which holds these types alone: not every event of a long run.
  const endedByHealth = db
    .prepare<[string, number, number, number | null], number>(
      `SELECT 1 FROM events INDEXED BY events_health WHERE service_uuid = ? AND ${EVENTS_HEALTH} AND time >= ? AND time <= ? AND pid IS ?
         AND ${RUN_ENDING_HEALTH} LIMIT 1`,
    )
    .pluck();
  const after = (a: ChainRun, b: ChainRun): boolean => a.started > b.started || (a.started === b.started && a.id > b.id);
  // The latest run before `run` that breaks the chain, of every uuid.
  let before: ChainRun | null = null;
  for (const uuid of uuids) {
    let looked = 0;
    for (const r of notFailed.iterate({ uuid, started: run.started, id: run.id })) {
      const byHealth = r.outcome === 'stopped' && r.ended !== null && endedByHealth.get(uuid, r.started, r.ended, r.pid) !== undefined;
      if (!byHealth || ++looked >= CHAIN_STOPPED_RUNS_MAX) {
        if (before === null || after(r, before)) before = r;
        break;
      }
    }
  }
  const from = before ?? { started: Number.MIN_SAFE_INTEGER, id: 0 };
  // The runs after `from` up to `run`, by (started, id); the plain range on started is what the index seeks.
  type Bounds = { uuid: string; fromStarted: number; fromId: number; toStarted: number; toId: number };
  const within = `service_uuid = @uuid AND started >= @fromStarted AND started <= @toStarted
    AND (started > @fromStarted OR id > @fromId) AND (started < @toStarted OR id <= @toId)`;
  const count = db.prepare<Bounds, number>(`SELECT count(*) FROM runs INDEXED BY runs_by_service_started WHERE ${within}`).pluck();
  const firstOf = db.prepare<Bounds, ChainRun>(
    `SELECT id, started, ended, pid, outcome FROM runs INDEXED BY runs_by_service_started WHERE ${within} ORDER BY started, id LIMIT 1`,
  );
  let total = 0;
  let first: ChainRun = run;
  for (const uuid of uuids) {
    const bounds: Bounds = { uuid, fromStarted: from.started, fromId: from.id, toStarted: run.started, toId: run.id };
    total += count.get(bounds) ?? 0;
    const f = firstOf.get(bounds);
    if (f && after(first, f)) first = f;
  }
  return { first, count: Math.max(1, total) };
}

/**
 * The last run the buddy ended for an unhealthy check or a limit (action restart or stop), with that
 * event: the newest such event whose run has ended (the run it just judged may still be stopping).
 */
function unwellRun(db: Database.Database, events: EventReader, uuids: string[]): { run: RunRow; event: ServiceEvent } | null {
  const ofThem = inList(uuids);
  const rows = db
    .prepare<string[], { id: number; time: number; pid: number | null; service_uuid: string }>(
      `SELECT id, time, pid, service_uuid FROM events WHERE service_uuid IN ${ofThem} AND ${RUN_ENDING_HEALTH}
       ORDER BY time DESC, id DESC LIMIT 5`,
    )
    .all(...uuids);
  const ended = db.prepare<[string, number, number], RunRow>(
    'SELECT * FROM runs WHERE service_uuid = ? AND pid = ? AND started <= ? AND ended IS NOT NULL ORDER BY started DESC LIMIT 1',
  );
  for (const row of rows) {
    if (row.pid === null) continue;
    const run = ended.get(row.service_uuid, row.pid, row.time);
    const event = run ? events.byId(row.id) : undefined;
    if (run && event) return { run, event };
  }
  return null;
}

/**
 * The last configuration change (`changed`) of the service or of one of its prerequisites applied
 * within CONFIG_CHANGE_WINDOW_MS up to `failedAt`, when the first failure of a run of failures ended.
 */
function configChangedBefore(db: Database.Database, who: StorySubject, failedAt: number): ConfigChangeBefore | null {
  const own = new Set(who.uuids);
  const uuids = [...new Set([...who.uuids, ...(who.prerequisites ?? []).flatMap((p) => p.uuids)])];
  const row = db
    .prepare<
      (string | number)[],
      { time: number; service_uuid: string; service: string; trigger: string; detail: string | null; keys: string | null }
    >(
      `SELECT time, service_uuid, service, trigger, detail, keys FROM config_changes
       WHERE service_uuid IN (${uuids.map(() => '?').join(',')}) AND change = 'changed' AND time <= ? AND time >= ?
       ORDER BY time DESC, id DESC LIMIT 1`,
    )
    .get(...uuids, failedAt, failedAt - CONFIG_CHANGE_WINDOW_MS);
  if (!row) return null;
  const keys = configKeys(row.keys);
  return {
    time: isoTime(row.time),
    service: row.service,
    prerequisite: !own.has(row.service_uuid),
    trigger: row.trigger,
    keys,
    detail: row.detail,
    failureAt: isoTime(failedAt),
  };
}
