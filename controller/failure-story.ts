// The story of a service's last failure (upk why): its run, how it ended, the last lines it wrote,
// what led up to it, and what happened next — all from the audit database.
import type Database from 'better-sqlite3';
import type { FailureStory, RunRecord } from '../schema/client-protocol.js';
import { detailOf } from '../schema/event-details.js';
import { isoTime, type ServiceEvent } from '../schema/records.js';

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

/** Reads events by id and by query (the store's own reader, so that every event looks the same). */
export interface EventReader {
  eventById(id: number): ServiceEvent | null;
  eventsWhere(sql: string, args: unknown[], limit: number): ServiceEvent[];
}

export function failureStory(
  db: Database.Database,
  events: EventReader,
  who: { service: string; uuid: string; uuids: string[]; command: string | null; status: FailureStory['status'] },
): FailureStory {
  const inList = `(${who.uuids.map(() => '?').join(',')})`;
  const first = db.prepare(`SELECT min(time) AS t FROM events WHERE service_uuid IN ${inList}`).get(...who.uuids) as { t: number | null };
  const story: FailureStory = {
    service: who.service,
    uuid: who.uuid,
    command: who.command,
    historyFrom: first.t === null ? null : isoTime(first.t),
    failure: null,
    after: [],
    status: who.status,
  };
  const run = db
    .prepare(
      `SELECT * FROM runs WHERE service_uuid IN ${inList} AND outcome IN ('failed', 'spawn_failed') ORDER BY ended DESC, id DESC LIMIT 1`,
    )
    .get(...who.uuids) as RunRow | undefined;
  if (!run || run.ended === null) return story;
  const ended = run.ended;
  const eventId = run.outcome === 'spawn_failed' ? run.start_event : run.end_event;
  const event = eventId === null ? null : events.eventById(eventId);
  const earlier = db
    .prepare(
      `SELECT outcome FROM runs WHERE service_uuid IN ${inList} AND (started < ? OR (started = ? AND id < ?)) ORDER BY started DESC, id DESC LIMIT 1000`,
    )
    .all(...who.uuids, run.started, run.started, run.id) as { outcome: RunRow['outcome'] }[];
  const inRow = earlier.findIndex((r) => r.outcome !== 'failed' && r.outcome !== 'spawn_failed');
  const restarts = db
    .prepare(`SELECT count(*) AS n FROM runs WHERE service_uuid IN ${inList} AND cause = 'restart' AND started >= ? AND started <= ?`)
    .get(...who.uuids, ended - 3_600_000, ended) as { n: number };
  const usage = db
    .prepare(
      `SELECT s.time, s.cpu_ms, s.wall_ms, s.rss_kb, s.rss_max_kb FROM samples s JOIN buddies b ON b.id = s.buddy_id
       WHERE b.service_uuid IN ${inList} AND s.time <= ? AND s.time >= ? ORDER BY s.time DESC LIMIT 1`,
    )
    .get(...who.uuids, ended, Math.max(run.started, ended - 5 * 60_000)) as
    { time: number; cpu_ms: number; wall_ms: number; rss_kb: number; rss_max_kb: number } | undefined;
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
    failuresInRow: 1 + (inRow === -1 ? earlier.length : inRow),
    restartsHourBefore: restarts.n,
    usageBefore: usage
      ? {
          cpu: usage.wall_ms > 0 ? Math.round((usage.cpu_ms / usage.wall_ms) * 1000) / 10 : 0,
          rss: usage.rss_kb * 1024,
          rssMax: usage.rss_max_kb * 1024,
          at: isoTime(usage.time),
        }
      : null,
    signals: events.eventsWhere(
      `e.service_uuid IN ${inList} AND e.type = 'signal_sent' AND e.time >= ? AND e.time <= ?`,
      [...who.uuids, run.started, ended],
      20,
    ),
  };
  story.after = events.eventsWhere(`e.service_uuid IN ${inList} AND e.id > ?`, [...who.uuids, eventId ?? 0], STORY_AFTER_EVENTS);
  return story;
}
