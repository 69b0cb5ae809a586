// Keeps the runs table, one row per run of a service derived from its events as they are stored, and
// its hourly sums (run_hours: restarts, failures, up time, recoveries, the densest burst of restarts).
//
// Events of one buddy come in order, but a gone buddy's journal may be taken in after its successor's
// events; so an end is matched to its run by pid (and time), never by "the open run", and a run that
// something later proved over is closed as `lost` until its real end, if ever, arrives. Every change
// to a run's span or outcome moves the hourly sums with it (taken back, then added again).
import type Database from 'better-sqlite3';
import { detailOf, parseDetail } from '../schema/event-details.js';
import type { BuddyEvent } from '../schema/records.js';
import { RunHours } from './run-hours.js';
import { FAILED_RUN } from './failure-kinds.js';

interface RunRow {
  id: number;
  buddy_id: number;
  started: number;
  ended: number | null;
  outcome: string | null;
}

interface EventRow {
  id: number;
  service_uuid: string;
  buddy_id: number;
  seq: number;
  time: number;
  type: BuddyEvent['type'];
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: string | null;
}

/** The ledger's statements, prepared once, each with its parameters and the row it reads. */
function statements(db: Database.Database) {
  type Uuid = string;
  return {
    insert: db.prepare<
      [
        uuid: Uuid,
        buddyId: number,
        pid: number | null,
        started: number,
        cause: string,
        ended: number | null,
        outcome: string | null,
        startEvent: number,
      ]
    >(`INSERT INTO runs (service_uuid, buddy_id, pid, started, cause, ended, outcome, start_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    // The open runs are few: the partial index finds them without reading the service's history.
    openBefore: db.prepare<[uuid: Uuid, t: number, except: number], RunRow>(
      'SELECT id, buddy_id, started, ended, outcome FROM runs INDEXED BY runs_open WHERE service_uuid = ? AND ended IS NULL AND started <= ? AND buddy_id != ?',
    ),
    nextStart: db.prepare<[uuid: Uuid, t: number], { t: number | null }>(
      'SELECT min(started) AS t FROM runs WHERE service_uuid = ? AND started > ?',
    ),
    nextRun: db.prepare<[uuid: Uuid, t: number, id: number], { started: number }>(
      `SELECT started FROM runs WHERE service_uuid = ? AND started >= ? AND id != ? AND outcome IS NOT 'spawn_failed' ORDER BY started LIMIT 1`,
    ),
    // Type forking: the run its buddy began with the start script goes on as the process its PidFile names.
    repid: db.prepare<[pid: number, uuid: Uuid, buddyId: number, t: number]>(
      `UPDATE runs SET pid = ? WHERE id = (SELECT id FROM runs INDEXED BY runs_open
         WHERE service_uuid = ? AND buddy_id = ? AND ended IS NULL AND started <= ? ORDER BY started DESC LIMIT 1)`,
    ),
    byPid: db.prepare<[uuid: Uuid, pid: number, t: number], RunRow>(
      'SELECT id, buddy_id, started, ended, outcome FROM runs INDEXED BY runs_by_pid WHERE service_uuid = ? AND pid = ? AND started <= ? ORDER BY started DESC LIMIT 1',
    ),
    close: db.prepare<[ended: number, outcome: string, code: number | null, signal: string | null, endEvent: number, id: number]>(
      'UPDATE runs SET ended = ?, outcome = ?, code = ?, signal = ?, end_event = ? WHERE id = ?',
    ),
    lose: db.prepare<[ended: number, id: number]>("UPDATE runs SET ended = ?, outcome = 'lost' WHERE id = ?"),
    revive: db.prepare<[buddyId: number, id: number]>('UPDATE runs SET ended = NULL, outcome = NULL, buddy_id = ? WHERE id = ?'),
    unrepaired: db.prepare<[uuid: Uuid, t: number], { id: number; ended: number }>(
      `SELECT id, ended FROM runs INDEXED BY runs_unrepaired
       WHERE service_uuid = ? AND repaired IS NULL AND ${FAILED_RUN} AND ended <= ?`,
    ),
    repaired: db.prepare<[ranAgain: number, id: number]>('UPDATE runs SET repaired = ? WHERE id = ?'),
    lastSample: db.prepare<[buddyId: number], { time: number }>('SELECT time FROM samples WHERE buddy_id = ? ORDER BY seq DESC LIMIT 1'),
    lastEvent: db.prepare<[buddyId: number], { time: number }>('SELECT time FROM events WHERE buddy_id = ? ORDER BY seq DESC LIMIT 1'),
  };
}

export class RunLedger {
  private readonly s: ReturnType<typeof statements>;
  private readonly hours: RunHours;

  constructor(private readonly db: Database.Database) {
    this.hours = new RunHours(db);
    this.s = statements(db);
  }

  /** Take one stored event into account (any type; only starts and ends matter). */
  apply(serviceUuid: string, buddyId: number, eventId: number, e: BuddyEvent): void {
    switch (e.type) {
      case 'spawned':
      case 'spawn_failed': {
        const cause = detailOf(e, e.type).restart === true ? 'restart' : 'start';
        // An overlap restart's new run: the run it replaces goes on beside it (its own exit closes it).
        const beside = e.type === 'spawned' && detailOf(e, 'spawned').replaces !== undefined;
        return e.type === 'spawned'
          ? this.open(serviceUuid, buddyId, eventId, e.time, e.pid ?? null, cause, null, beside)
          : this.open(serviceUuid, buddyId, eventId, e.time, null, cause, 'spawn_failed');
      }
      case 'adopted': {
        const { startedAt: at, how } = detailOf(e, 'adopted');
        if (how === 'forked' && typeof e.pid === 'number' && this.s.repid.run(e.pid, serviceUuid, buddyId, e.time).changes > 0) return;
        const startedAt = at !== undefined ? Date.parse(at) : NaN;
        return this.adopt(
          serviceUuid,
          buddyId,
          eventId,
          e.time,
          e.pid ?? null,
          Number.isFinite(startedAt) && startedAt <= e.time ? startedAt : e.time,
        );
      }
      case 'exited':
        return this.close(serviceUuid, eventId, e);
      case 'buddy_started':
        // A new buddy: a run another buddy left open ended unseen, unless this one adopts it.
        return this.loseOpen(serviceUuid, e.time, buddyId);
      default:
        return;
    }
  }

  private open(
    uuid: string,
    buddyId: number,
    eventId: number,
    t: number,
    pid: number | null,
    cause: string,
    outcome: string | null = null,
    beside = false,
  ): void {
    // Every run still open ended unseen before this one began, but the one an overlap restart replaces (this buddy's).
    this.loseOpen(uuid, t, beside ? buddyId : -1);
    const later = this.s.nextStart.get(uuid, t)?.t ?? null;
    // A start that could not execute is over at once; a run something later already followed is lost.
    const ended = outcome ? t : later;
    const id = Number(
      this.s.insert.run(uuid, buddyId, pid, t, cause, ended, outcome ?? (later !== null ? 'lost' : null), eventId).lastInsertRowid,
    );
    if (cause === 'restart') {
      this.hours.credit(uuid, t, { restarts: 1 });
      this.hours.restartBurst(uuid, t);
    }
    if (outcome === 'spawn_failed') this.failed(uuid, id, t);
    else {
      if (later !== null) this.hours.up(uuid, t, later, 1);
      this.repairBefore(uuid, t);
    }
  }

  private adopt(uuid: string, buddyId: number, eventId: number, t: number, pid: number | null, startedAt: number): void {
    const known = pid === null ? undefined : this.s.byPid.get(uuid, pid, t);
    if (known && (known.ended === null || known.outcome === 'lost')) {
      if (known.ended !== null) this.hours.up(uuid, known.started, known.ended, -1);
      this.s.revive.run(buddyId, known.id);
      return;
    }
    this.loseOpen(uuid, t, -1);
    const later = this.s.nextStart.get(uuid, t)?.t ?? null;
    this.s.insert.run(uuid, buddyId, pid, startedAt, 'adopted', later, later !== null ? 'lost' : null, eventId);
    if (later !== null) this.hours.up(uuid, startedAt, later, 1);
    this.repairBefore(uuid, startedAt);
  }

  private close(uuid: string, eventId: number, e: BuddyEvent): void {
    if (typeof e.pid !== 'number') return;
    const run = this.s.byPid.get(uuid, e.pid, e.time);
    if (!run || (run.ended !== null && run.outcome !== 'lost')) return;
    if (run.ended !== null) this.hours.up(uuid, run.started, run.ended, -1); // its provisional end
    // A oneshot job's run says how it went: one that succeeded ended as meant (stopped); one that failed
    // (MaxRunTime too, whose exit was asked for) failed. Any other exit nobody asked for is a failure.
    const d = detailOf(e, 'exited');
    const outcome = d.outcome === 'success' ? 'stopped' : d.outcome === 'failure' || d.requested !== true ? 'failed' : 'stopped';
    this.s.close.run(e.time, outcome, e.code ?? null, e.signal ?? null, eventId, run.id);
    this.hours.up(uuid, run.started, e.time, 1);
    if (outcome === 'failed') this.failed(uuid, run.id, e.time);
  }

  /** A failure at t: counted, and recovered at once if the service already ran again after it. */
  private failed(uuid: string, id: number, t: number): void {
    this.hours.credit(uuid, t, { failures: 1 });
    const next = this.s.nextRun.get(uuid, t, id);
    if (next) this.repair(uuid, id, t, next.started);
  }

  /** A run began at t: every failure before it not yet recovered from is, now. */
  private repairBefore(uuid: string, t: number): void {
    for (const f of this.s.unrepaired.all(uuid, t)) this.repair(uuid, f.id, f.ended, t);
  }

  private repair(uuid: string, id: number, failedAt: number, ranAgain: number): void {
    this.s.repaired.run(ranAgain, id);
    this.hours.credit(uuid, failedAt, { repairs: 1, repairMs: ranAgain - failedAt });
  }

  /** Close every run of the service still open from before `t` (of buddies other than `except`) as lost. */
  private loseOpen(uuid: string, t: number, except: number): void {
    for (const run of this.s.openBefore.all(uuid, t, except)) {
      const end = this.lastSignOfLife(run, t);
      this.s.lose.run(end, run.id);
      this.hours.up(uuid, run.started, end, 1);
    }
  }

  /**
   * When a run whose end nobody saw probably ended: the last usage record or event of its buddy
   * (a running service has a usage record every minute), else `fallback`.
   */
  private lastSignOfLife(run: RunRow, fallback: number): number {
    const sample = this.s.lastSample.get(run.buddy_id)?.time ?? 0;
    const event = this.s.lastEvent.get(run.buddy_id)?.time ?? 0;
    const seen = Math.max(sample, event);
    return seen > run.started && seen <= fallback ? seen : fallback;
  }

  /** Rebuild every run and hourly sum from the stored events (after the migration that added runs, or by hand). */
  rebuild(): number {
    this.db.prepare('DELETE FROM runs').run();
    this.db.prepare('DELETE FROM run_hours').run();
    const page = this.db.prepare<[after: number], EventRow>(
      `SELECT id, service_uuid, buddy_id, seq, time, type, pid, code, signal, detail FROM events
       WHERE id > ? AND type IN ('spawned', 'spawn_failed', 'adopted', 'exited', 'buddy_started') ORDER BY id LIMIT 10000`,
    );
    let n = 0;
    for (let after = 0; ;) {
      const rows = page.all(after);
      const last = rows.at(-1);
      if (!last) return n;
      for (const r of rows) {
        const detail = parseDetail(r.detail);
        this.apply(r.service_uuid, r.buddy_id, r.id, {
          seq: r.seq,
          time: r.time,
          type: r.type,
          pid: r.pid,
          code: r.code,
          signal: r.signal,
          detail,
        });
      }
      n += rows.length;
      after = last.id;
    }
  }
}
