// The hook_runs table and hook_cursor: every run of an OnEvent hook, once per (hook, event), and the
// newest event whose hooks were decided. Callers give records and filters, never SQL.
import type Database from 'better-sqlite3';
import type { HookOutcome, HookRun } from '../schema/client-protocol.js';
import { isoTime, type ServiceEvent } from '../schema/records.js';

/** What the controller decided for one event and one hook. */
export interface HookDecision {
  hook: string;
  event: ServiceEvent;
  outcome: 'queued' | 'skipped' | 'dropped';
  reason: string | null;
}

/** How a run ended. */
export interface HookEnd {
  outcome: Extract<HookOutcome, 'ok' | 'failed' | 'timed_out' | 'interrupted'>;
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  output: string;
}

/** A run a controller left queued: its row, hook and event. */
export interface QueuedRun {
  id: number;
  hook: string;
  eventId: number;
}

/** What `hooks` asks of the table (the service already resolved to its uuids). */
export interface HookRunFilter {
  uuids: string[] | null;
  hook?: string;
  /** ms since the epoch. */
  since?: number;
  limit: number;
}

interface HookRunRow {
  id: number;
  time: number;
  hook: string;
  event_id: number;
  event_type: string;
  service_uuid: string;
  service: string;
  outcome: HookOutcome;
  reason: string | null;
  started: number | null;
  finished: number | null;
  pid: number | null;
  exit_code: number | null;
  signal: string | null;
  output: string | null;
}

function statements(db: Database.Database) {
  return {
    cursor: db.prepare<[], { eventId: number }>('SELECT event_id AS eventId FROM hook_cursor WHERE id = 1'),
    setCursor: db.prepare<[eventId: number]>('INSERT OR REPLACE INTO hook_cursor (id, event_id) VALUES (1, ?)'),
    insert: db.prepare<
      [
        time: number,
        hook: string,
        eventId: number,
        eventType: string,
        serviceUuid: string,
        service: string,
        outcome: HookDecision['outcome'],
        reason: string | null,
      ]
    >(
      `INSERT OR IGNORE INTO hook_runs (time, hook, event_id, event_type, service_uuid, service, outcome, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    started: db.prepare<[started: number, pid: number | null, id: number]>(
      `UPDATE hook_runs SET outcome = 'running', started = ?, pid = ? WHERE id = ?`,
    ),
    finished: db.prepare<
      [
        outcome: HookEnd['outcome'],
        reason: string | null,
        finished: number,
        exitCode: number | null,
        signal: string | null,
        output: string,
        id: number,
      ]
    >('UPDATE hook_runs SET outcome = ?, reason = ?, finished = ?, exit_code = ?, signal = ?, output = ? WHERE id = ?'),
    interruptRunning: db.prepare<[reason: string]>(`UPDATE hook_runs SET outcome = 'interrupted', reason = ? WHERE outcome = 'running'`),
    queued: db.prepare<[], QueuedRun>(`SELECT id, hook, event_id AS eventId FROM hook_runs WHERE outcome = 'queued' ORDER BY event_id, id`),
    drop: db.prepare<[reason: string, id: number]>(`UPDATE hook_runs SET outcome = 'dropped', reason = ? WHERE id = ?`),
    lastRuns: db.prepare<[since: number], { hook: string; serviceUuid: string; time: number }>(
      `SELECT hook, service_uuid AS serviceUuid, max(time) AS time FROM hook_runs
       WHERE time >= ? AND outcome NOT IN ('skipped', 'dropped') GROUP BY hook, service_uuid`,
    ),
  };
}

export class HookRuns {
  private readonly s: ReturnType<typeof statements>;

  constructor(private readonly db: Database.Database) {
    this.s = statements(db);
  }

  /** The newest event whose hooks were decided (0 before any). */
  cursor(): number {
    return this.s.cursor.get()?.eventId ?? 0;
  }

  /**
   * Record what was decided for some events and move the cursor to `upTo`, in one transaction.
   * Returns the row of each queued decision, or null where the hook already has a row for that event
   * (it ran, or was decided, before: it never runs again).
   */
  decide(decisions: HookDecision[], upTo: number, now: number): (number | null)[] {
    return this.db.transaction(() => {
      const rows = decisions.map((d) => {
        const r = this.s.insert.run(now, d.hook, d.event.id, d.event.type, d.event.uuid, d.event.service, d.outcome, d.reason);
        return r.changes === 0 || d.outcome !== 'queued' ? null : Number(r.lastInsertRowid);
      });
      this.s.setCursor.run(upTo);
      return rows;
    })();
  }

  started(id: number, pid: number | null, now: number): void {
    this.s.started.run(now, pid, id);
  }

  finished(id: number, end: HookEnd, now: number): void {
    this.s.finished.run(end.outcome, end.reason, now, end.exitCode, end.signal, end.output, id);
  }

  /** Runs a previous controller left running: interrupted (a run is never repeated). How many. */
  interruptRunning(reason: string): number {
    return this.s.interruptRunning.run(reason).changes;
  }

  /** Runs a previous controller left waiting for a slot, oldest event first. */
  queued(): QueuedRun[] {
    return this.s.queued.all();
  }

  drop(id: number, reason: string): void {
    this.s.drop.run(reason, id);
  }

  /** When each hook last ran (or was queued) for each service, since `since` (ms). */
  lastRuns(since: number): { hook: string; serviceUuid: string; time: number }[] {
    return this.s.lastRuns.all(since);
  }

  /** The newest `limit` runs matching the filter, oldest first. */
  query(f: HookRunFilter): HookRun[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.uuids !== null) {
      where.push(`service_uuid IN (${f.uuids.map(() => '?').join(',') || 'NULL'})`);
      args.push(...f.uuids);
    }
    if (f.hook !== undefined) {
      where.push('hook = ?');
      args.push(f.hook);
    }
    if (f.since !== undefined) {
      where.push('time >= ?');
      args.push(f.since);
    }
    const rows = this.db
      .prepare<(string | number)[], HookRunRow>(
        `SELECT * FROM hook_runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${Math.trunc(f.limit)}`,
      )
      .all(...args);
    return rows.reverse().map(toHookRun);
  }
}

function toHookRun(r: HookRunRow): HookRun {
  return {
    id: r.id,
    hook: r.hook,
    eventId: r.event_id,
    eventType: r.event_type,
    service: r.service,
    uuid: r.service_uuid,
    time: isoTime(r.time),
    started: r.started === null ? null : isoTime(r.started),
    finished: r.finished === null ? null : isoTime(r.finished),
    outcome: r.outcome,
    reason: r.reason,
    pid: r.pid,
    exitCode: r.exit_code,
    signal: r.signal,
    output: r.output,
  };
}
