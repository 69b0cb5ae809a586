// What fails together (upk correlate, and the line `upk why` adds): reads the times it needs from the
// audit database, and puts the figures of correlation-math.ts together. Each kind of event is read
// from an index that holds its time, service by service: runs_by_service_ended (009) for failures
// and stops, runs_by_service_started for starts, events_by_type_time for the rare health events,
// config_changes_by_service for configuration changes. docs/correlation.md defines the statistic.
import type Database from 'better-sqlite3';
import {
  CORRELATION_FAILURES,
  CORRELATION_KINDS,
  CORRELATION_LIMIT_MAX,
  CORRELATION_MIN_FAILURES,
  isSignificant,
  type Correlation,
  type CorrelationKind,
  type CorrelationResult,
} from '../schema/correlation-protocol.js';
import { isoTime } from '../schema/records.js';
import { figures, strongerFirst, type Figures, type Span } from './correlation-math.js';

/** A service as correlations name it: its id, with every uuid that id had. */
export interface Subject {
  id: string;
  uuids: string[];
}

/** What a correlation is asked for, in ms. */
export interface CorrelationAsk {
  windowMs: number;
  since: number;
  until: number;
  /** How many of the last failures count (n at most). */
  failures: number;
  limit: number;
}

/** Each kind's times of one service, sorted. */
type Times = Record<CorrelationKind, number[]>;

/** The health events, read once for every service: rare, and found by their type. */
interface HealthRow {
  uuid: string;
  time: number;
  type: 'unhealthy' | 'limit_exceeded' | 'start_timeout';
  action: string | null;
}

function statements(db: Database.Database) {
  type Range = [uuid: string, from: number, to: number];
  return {
    oldest: db.prepare<[], number | null>('SELECT min(time) FROM events').pluck(),
    subjects: db.prepare<[], { uuid: string; service: string }>('SELECT uuid, service FROM service_ids ORDER BY service, uuid'),
    failedRuns: db
      .prepare<Range, number>(
        `SELECT ended FROM runs INDEXED BY runs_by_service_ended
         WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND outcome IN ('failed', 'spawn_failed')`,
      )
      .pluck(),
    stoppedRuns: db
      .prepare<Range, number>(
        `SELECT ended FROM runs INDEXED BY runs_by_service_ended WHERE service_uuid = ? AND ended >= ? AND ended <= ? AND outcome = 'stopped'`,
      )
      .pluck(),
    startedRuns: db
      .prepare<Range, number>(
        `SELECT started FROM runs INDEXED BY runs_by_service_started
         WHERE service_uuid = ? AND started >= ? AND started <= ? AND cause IN ('start', 'restart') AND outcome IS NOT 'spawn_failed'`,
      )
      .pluck(),
    configChanges: db
      .prepare<Range, number>(
        `SELECT time FROM config_changes INDEXED BY config_changes_by_service
         WHERE service_uuid = ? AND time >= ? AND time <= ? AND change = 'changed'`,
      )
      .pluck(),
    health: db.prepare<[from: number, to: number], HealthRow>(
      `SELECT service_uuid AS uuid, time, type, json_extract(detail, '$.action') AS action FROM events INDEXED BY events_by_type_time
       WHERE type IN ('unhealthy', 'limit_exceeded', 'start_timeout') AND time >= ? AND time <= ?`,
    ),
  };
}

const ascending = (a: number, b: number): number => a - b;

/** `to.push(...from)`, without spreading a long list onto the stack. */
function append(to: number[], from: readonly number[]): void {
  for (const t of from) to.push(t);
}

export class Correlations {
  private readonly s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.s = statements(db);
  }

  /** Every service id ever recorded, with its uuids (a removed service's history counts too). */
  subjects(): Subject[] {
    const byId = new Map<string, string[]>();
    for (const r of this.s.subjects.all()) byId.set(r.service, [...(byId.get(r.service) ?? []), r.uuid]);
    return [...byId].map(([id, uuids]) => ({ id, uuids }));
  }

  /**
   * The events of every other service near the last failures of `subject`, by kind, ranked
   * (docs/correlation.md). `prerequisites`: the ids that provide its Prerequisites, to say so.
   */
  around(subject: Subject, others: Subject[], ask: CorrelationAsk, prerequisites: ReadonlySet<string> = new Set()): CorrelationResult {
    const from = Math.max(ask.since, this.s.oldest.get() ?? ask.since);
    const health = this.health(from - ask.windowMs, ask.until + ask.windowMs);
    const { failures, range } = lastFailures(this.failures(subject.uuids, from, ask.until, health), ask.failures, from, ask.until);
    const result = this.result(subject.id, ask, range, failures.length);
    if (failures.length === 0) return result;
    const own = new Set(subject.uuids);
    const rows: Correlation[] = [];
    for (const other of others.filter((o) => !o.uuids.some((u) => own.has(u)))) {
      const times = this.times(other.uuids, range.from - ask.windowMs, range.to + ask.windowMs, health);
      for (const kind of CORRELATION_KINDS) {
        const f = figures(failures, times[kind], ask.windowMs, range);
        if (f.together > 0) rows.push(row(subject.id, other.id, kind, prerequisites.has(other.id), f));
      }
    }
    result.correlations = ranked(rows).slice(0, ask.limit);
    return result;
  }

  /**
   * Fleet-wide: the pairs of services whose failures co-occur. For each service A and each other B,
   * B's failures around A's last failures; of the two directions of a pair, the stronger is kept.
   */
  fleet(subjects: Subject[], ask: CorrelationAsk): CorrelationResult {
    const from = Math.max(ask.since, this.s.oldest.get() ?? ask.since);
    const health = this.health(from - ask.windowMs, ask.until + ask.windowMs);
    const all = subjects.map((s) => ({ ...s, times: this.failures(s.uuids, from - ask.windowMs, ask.until + ask.windowMs, health) }));
    const failing = all
      .map((s) => ({ ...s, ...lastFailures(s.times, ask.failures, from, ask.until) }))
      .filter((s) => s.failures.length > 0);
    const best = new Map<string, Correlation>();
    for (const a of failing) {
      for (const b of all) {
        if (b.id === a.id) continue;
        const f = figures(a.failures, b.times, ask.windowMs, a.range);
        if (f.together === 0) continue;
        const pair = [a.id, b.id].sort().join('\n');
        const known = best.get(pair);
        if (!known || strongerFirst(f, known) < 0) best.set(pair, row(a.id, b.id, 'failed', false, f));
      }
    }
    const counted = failing.reduce((sum, s) => sum + s.failures.length, 0);
    const earliest = Math.min(ask.until, ...failing.map((s) => s.range.from));
    const result = this.result(null, ask, { from: earliest, to: ask.until }, counted);
    result.tooFew = !failing.some((s) => s.failures.length >= CORRELATION_MIN_FAILURES);
    result.correlations = ranked([...best.values()]).slice(0, ask.limit);
    return result;
  }

  private result(service: string | null, ask: CorrelationAsk, range: Span, failures: number): CorrelationResult {
    return {
      service,
      windowMs: ask.windowMs,
      since: isoTime(range.from),
      until: isoTime(range.to),
      failures,
      tooFew: failures < CORRELATION_MIN_FAILURES,
      correlations: [],
    };
  }

  /** The health events of every service from `from` to `to`, by uuid. */
  private health(from: number, to: number): Map<string, HealthRow[]> {
    const byUuid = new Map<string, HealthRow[]>();
    for (const r of this.s.health.all(from, to)) {
      const list = byUuid.get(r.uuid);
      if (list) list.push(r);
      else byUuid.set(r.uuid, [r]);
    }
    return byUuid;
  }

  /**
   * A service's failures from `from` to `to`, sorted: its runs that ended `failed` or `spawn_failed`,
   * its `start_timeout` events, and its `unhealthy` and `limit_exceeded` events whose action ended the
   * run (`restart`, `stop`): the trends' failures, those `upk why` adds, and the buddy's start_timeout.
   */
  private failures(uuids: string[], from: number, to: number, health: Map<string, HealthRow[]>): number[] {
    const out: number[] = [];
    for (const uuid of uuids) {
      append(out, this.s.failedRuns.all(uuid, from, to));
      for (const h of health.get(uuid) ?? []) {
        if (h.time >= from && h.time <= to && (h.type === 'start_timeout' || h.action === 'restart' || h.action === 'stop'))
          out.push(h.time);
      }
    }
    return out.sort(ascending);
  }

  /** Each kind's times of a service from `from` to `to`. */
  private times(uuids: string[], from: number, to: number, health: Map<string, HealthRow[]>): Times {
    const t: Times = { failed: this.failures(uuids, from, to, health), restarted: [], stopped: [], unhealthy: [], config: [] };
    for (const uuid of uuids) {
      append(t.restarted, this.s.startedRuns.all(uuid, from, to));
      append(t.stopped, this.s.stoppedRuns.all(uuid, from, to));
      append(t.config, this.s.configChanges.all(uuid, from, to));
      for (const h of health.get(uuid) ?? []) if (h.type !== 'start_timeout' && h.time >= from && h.time <= to) t.unhealthy.push(h.time);
    }
    for (const kind of CORRELATION_KINDS) t[kind].sort(ascending);
    return t;
  }
}

/**
 * The last `n` of a service's failures within [from, to], and the range the chance is measured over:
 * [from, to], or from the oldest failure counted when older ones were left out.
 */
function lastFailures(times: number[], n: number, from: number, to: number): { failures: number[]; range: Span } {
  const within = times.filter((t) => t >= from && t <= to);
  const failures = within.slice(-n);
  return { failures, range: { from: within.length > n ? failures[0]! : from, to } };
}

function row(service: string, other: string, kind: CorrelationKind, prerequisite: boolean, f: Figures): Correlation {
  const c: Correlation = { service, other, kind, prerequisite, ...f, significant: false };
  c.significant = isSignificant(c);
  return c;
}

/** Strongest first (correlation-math.ts), then by name and kind, so that equal rows keep one order. */
function ranked(rows: Correlation[]): Correlation[] {
  const kindOrder = (k: CorrelationKind): number => CORRELATION_KINDS.indexOf(k);
  return rows.sort(
    (a, b) =>
      strongerFirst(a, b) ||
      (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) ||
      (a.other < b.other ? -1 : a.other > b.other ? 1 : 0) ||
      kindOrder(a.kind) - kindOrder(b.kind),
  );
}

/** How far back from a failure `upk why` looks for its correlations: 7 days. */
export const WHY_CORRELATION_SPAN_MS = 7 * 86_400_000;

/**
 * The correlation `upk why` names for a failure that ended at `failedAt`: the strongest significant
 * one around the service's last failures in the 7 days up to it (CORRELATION_FAILURES of them at
 * most), or null.
 */
export function strongestCorrelation(
  correlations: Correlations,
  subject: Subject,
  failedAt: number,
  windowMs: number,
  prerequisites: ReadonlySet<string>,
): Correlation | null {
  const ask: CorrelationAsk = {
    windowMs,
    since: failedAt - WHY_CORRELATION_SPAN_MS,
    until: failedAt,
    failures: CORRELATION_FAILURES,
    limit: CORRELATION_LIMIT_MAX,
  };
  return correlations.around(subject, correlations.subjects(), ask, prerequisites).correlations.find((c) => c.significant) ?? null;
}
