// A service's status at a past time (upk status --at), from the audit database a host keeps or the
// fleet's: a short window of its events replayed (status-replay.ts), with what was true before the
// window counted by the database from its runs and a few seeks. One definition for both databases:
// each gives its reads (PastReads), SQLite in controller/status-at-query.ts, PostgreSQL in
// libclient/fleet-status-at.ts. Nothing here reads a service's whole history: a month of crash loop
// is the same few reads (docs/controller.md, "The status at a past time").
import type { PastConfigChange, PastServiceStatus, StatusAtResult } from './client-protocol.js';
import type { ServiceConfig } from './config/types.js';
import { ErrorCode, UpkError } from './errors.js';
import { detailOf } from './event-details.js';
import { isoTime, type DesiredState, type ExitInfo, type ResourceUsage } from './records.js';
import { servicesNamed, type ServiceNames } from './service-names.js';
import { replay, type Carried, type PastEvent, type PastPolicy, pastPolicy } from './status-replay.js';

/**
 * Most events of one service replayed. A longer window begins at the current run instead of the one
 * before; if that is still longer (a run with that many health or limit events), its first
 * WINDOW_HEAD events (its start, its readiness) and its newest are replayed.
 */
export const WINDOW_LIMITS = { max: 10_000, head: 100 };

/**
 * How far back before a time its usage record is looked for (status.at, a failure's usageBefore): 5
 * minutes. A service is measured every SampleInterval (60 s by default; 1.5 times that while polls
 * come), and at a poll when the last measurement is 9 s old (a quiet buddy is polled every minute with
 * the default BuddyPollingInterval): a record every minute or two. Only a SampleInterval over 200 s
 * with polls rarer than 5 minutes (or no controller) leaves none in it. The lookback also bounds the walk of
 * samples_by_time, which holds every buddy's records: 5 minutes of them, not the run's.
 */
export const USAGE_LOOKBACK_MS = 5 * 60_000;

/** The event types that move a status (the others — actions, signals, output, reconfigured … — are not read). */
export const MOVING_TYPES = [
  'buddy_started',
  'buddy_exiting',
  'desired',
  'spawned',
  'spawn_failed',
  'adopted',
  'ready',
  'exited',
  'stopping',
  'stopped',
  'backoff',
  'failed',
  'start_timeout',
  'timed_out',
  'unhealthy',
  'healthy',
  'limit_exceeded',
  'overlap_abandoned',
] as const;

export interface PastRun {
  started: number;
  ended: number | null;
  cause: 'start' | 'restart' | 'adopted';
  outcome: 'stopped' | 'failed' | 'spawn_failed' | 'lost' | null;
}

/** An event's detail, parsed. */
type Detail = Record<string, unknown>;

/** A `buddy_started`: its buddy (B: how the database names a buddy), its time, its pid. */
export interface PastBuddy<B> {
  buddy: B;
  time: number;
  pid: number | null;
}

/**
 * An event replayed, with its buddy and `tie`: its place among the service's events of the same
 * millisecond (ascending; the row id of a host's database, the buddy and seq in the fleet's).
 */
export type WindowEvent<B> = PastEvent & { buddy: B; tie: number | string };

/** How the chain of failed restarts is told: by MinUptime, by a readiness signal, or (a job) by its outcome. */
export type ChainVariant = 'uptime' | 'signal' | 'job';

/**
 * What the replay reads of one service (its uuid) from a database: times in ms; `at`, `before` and
 * the like as each method says. Each may answer at once (SQLite) or later (PostgreSQL).
 */
export interface PastReads<B> {
  /** The last two runs begun by `at`, newest first. */
  lastRuns(uuid: string, at: number): Promise<PastRun[]> | PastRun[];
  /** The last `buddy_started` by `at` (inclusive), or before `before` when `strictly`. */
  buddyStart(uuid: string, at: number, strictly: boolean): Promise<PastBuddy<B> | undefined> | PastBuddy<B> | undefined;
  /** The newest `limit` moving events between `from` and `at` (both inclusive), newest first. */
  newest(uuid: string, from: number, at: number, limit: number): Promise<WindowEvent<B>[]> | WindowEvent<B>[];
  /** The oldest `limit` of them, oldest first. */
  oldest(uuid: string, from: number, at: number, limit: number): Promise<WindowEvent<B>[]> | WindowEvent<B>[];
  /** The detail of the last `desired` before `before` that was not a shutdown's. */
  desiredBefore(uuid: string, before: number): Promise<Detail | null> | Detail | null;
  /**
   * The time of the newest `buddy_started` before `before` (and at or after `notBefore`, when not null)
   * whose buddy did not adopt a lost buddy's process (an `adopted` without `how`): a buddy that began afresh.
   */
  freshBuddy(uuid: string, before: number, notBefore: number | null): Promise<number | null> | number | null;
  /** When the last run begun before `before` by a user's start (cause start or adopted) began. */
  lastUserStart(uuid: string, before: number): Promise<number | null> | number | null;
  /** How many runs began strictly between `after` and `before`; with `restarts`, of cause restart only. */
  runsBetween(uuid: string, after: number, before: number, restarts: boolean): Promise<number> | number;
  /**
   * The latest run before `before` (since `since`) that is not a failed restart: an automatic restart
   * that could not start, or ended (by itself, or stopped by its buddy to be restarted) before it was
   * running — by MinUptime (`minUptimeMs`), a `ready` within it, or (a job) an outcome other than stopped.
   */
  chainStart(
    variant: ChainVariant,
    q: { uuid: string; before: number; since: number; minUptimeMs: number },
  ): Promise<PastRun | undefined> | PastRun | undefined;
  /** Whether a `ready` was recorded between `from` and `to` (inclusive). */
  readyWithin(uuid: string, from: number, to: number): Promise<boolean> | boolean;
  /** The last run begun since `since` and before `before` that ended (stopped, failed, spawn_failed) before `before`. */
  lastExitBefore(uuid: string, before: number, since: number): Promise<PastExit | undefined> | PastExit | undefined;
  /** The last usage record of `buddy` between `from` and `at` (inclusive). */
  usage(buddy: B, uuid: string, from: number, at: number): Promise<PastUsage | undefined> | PastUsage | undefined;
}

/** How a run ended, as read. */
export interface PastExit {
  ended: number;
  code: number | null;
  signal: string | null;
  outcome: string;
}

/** A usage record as read. */
export interface PastUsage {
  time: number;
  wallMs: number;
  cpuMs: number;
  rssKb: number;
  processes: number;
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

/** A service then, as a database lists it: its latest configuration change by then (if any), in time order. */
export interface PastServiceRow {
  uuid: string;
  /** Its id as the database records it now (a fleet: its id at its latest change). */
  id: string;
  /** Its configuration as stored now, or null. */
  config: ServiceConfig | null;
  change: {
    time: number;
    service: string;
    change: PastConfigChange['change'];
    trigger: string;
    detail: string | null;
    config: ServiceConfig | null;
    keys: string[] | null;
  } | null;
}

/** The services then, in `list`'s order (by StartPriority, then id), with their configuration and change then. */
export function pastServices(rows: readonly PastServiceRow[]): PastService[] {
  const out = rows.map((row) => {
    const change = row.change;
    const config = change?.config ?? row.config;
    return {
      uuid: row.uuid,
      id: change?.service ?? row.id,
      config,
      priority: config?.startPriority ?? 0,
      change: change
        ? {
            time: isoTime(change.time),
            change: change.change,
            trigger: change.trigger,
            detail: change.detail,
            keys: change.keys,
            applied: change.config,
          }
        : null,
    };
  });
  out.sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  return out.map(({ priority: _, ...s }) => s);
}

/** The status of services at past times, from a database's reads. */
export class PastStatuses<B> {
  constructor(
    private readonly reads: PastReads<B>,
    private readonly limits = WINDOW_LIMITS,
  ) {}

  /** One service's status at `at`. */
  async statusAt(svc: PastService, at: number): Promise<PastServiceStatus> {
    const policy: PastPolicy = svc.config
      ? pastPolicy(svc.config)
      : { minUptimeMs: 1000, readiness: 'uptime', job: null, health: { probe: false, failLine: false, intervalMs: 0 } };
    const { events, from, buddy, startsWith } = await this.window(svc.uuid, at);
    const carried = await this.carried(svc.uuid, from, policy, svc.config?.initialState ?? 'stopped', startsWith);
    const past = replay(events, at, policy, carried);
    const usage = past.pid !== null && past.started !== null && buddy !== null ? await this.usage(buddy, svc.uuid, past.started, at) : null;
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
  private async window(
    uuid: string,
    at: number,
  ): Promise<{ events: PastEvent[]; from: number; buddy: B | null; startsWith: PastRun['cause'] | null }> {
    const runs = await this.reads.lastRuns(uuid, at);
    const buddy = await this.reads.buddyStart(uuid, at, false);
    const { max, head } = this.limits;
    let rows: WindowEvent<B>[] = [];
    let from = -1;
    let startsWith: PastRun['cause'] | null = null;
    // The run before the last, else (too many events) the last run alone.
    for (const run of [runs[1], runs[0]]) {
      from = Math.max(run?.started ?? -1, buddy?.time ?? -1);
      startsWith = run !== undefined && run.started === from ? run.cause : null;
      rows = (await this.reads.newest(uuid, from, at, max + 1)).reverse();
      if (rows.length <= max) break;
    }
    if (rows.length > max) {
      // Still too long: its first events (the run's start, its readiness) and its newest.
      const first = await this.reads.oldest(uuid, from, at, head);
      const last = first.at(-1)!;
      rows = [
        ...first,
        ...rows.slice(rows.length - (max - head)).filter((r) => r.time > last.time || (r.time === last.time && r.tie > last.tie)),
      ];
    }
    const events = rows.map(({ buddy: _, tie: __, ...e }): PastEvent => e);
    return { events, from, buddy: rows.at(-1)?.buddy ?? buddy?.buddy ?? null, startsWith };
  }

  /** What was true just before `from`: the desired state of record, the counts, the last exit, the buddy. */
  private async carried(
    uuid: string,
    from: number,
    policy: PastPolicy,
    initial: DesiredState,
    nextCause: PastRun['cause'] | null,
  ): Promise<Carried> {
    const d = detailOf({ type: 'desired', detail: await this.reads.desiredBefore(uuid, from) }, 'desired');
    // The buddy then; a new buddy begins with no failures and no last exit (and its restarts at 0 unless it adopts).
    const buddy = await this.reads.buddyStart(uuid, from, true);
    const userStart = await this.reads.lastUserStart(uuid, from);
    const fresh = buddy === undefined ? null : await this.reads.freshBuddy(uuid, from, userStart);
    const resetAt = Math.max(userStart ?? -1, fresh ?? -1);
    const since = buddy?.time ?? -1;
    return {
      desired: d.desired ?? initial,
      restarts: await this.reads.runsBetween(uuid, resetAt, from, true),
      failures: await this.failuresBefore(uuid, from, since, policy, nextCause),
      lastExit: await this.lastExitBefore(uuid, from, since),
      buddyPid: buddy?.pid ?? null,
    };
  }

  /**
   * Failures in a row before `before`, when the window begins with an automatic restart (else they
   * begin afresh): the runs of the chain of failed restarts before it (each could not start, or ended
   * before it was running: by itself, by StartTimeout, or stopped by its buddy to be restarted), and the
   * run that began the chain if it failed too. Counted by the database: a long crash loop is not read out.
   */
  private async failuresBefore(
    uuid: string,
    before: number,
    since: number,
    policy: PastPolicy,
    nextCause: PastRun['cause'] | null,
  ): Promise<number> {
    if (nextCause !== 'restart') return 0;
    const variant = policy.job ? 'job' : policy.readiness;
    const first = await this.reads.chainStart(variant, { uuid, before, since, minUptimeMs: policy.minUptimeMs });
    const chain = await this.reads.runsBetween(uuid, first?.started ?? since - 1, before, false);
    if (!first) return chain;
    // The run before the chain was followed by an automatic restart: stopped, it was stopped to be restarted.
    const end = first.ended !== null && first.ended < before ? first.ended : before;
    const failed = policy.job
      ? first.outcome === 'failed' || first.outcome === 'spawn_failed'
      : first.outcome === 'spawn_failed' ||
        first.outcome === 'stopped' ||
        (first.outcome === 'failed' && !(await this.reachedRunning(uuid, first, end, policy)));
    return chain + (failed ? 1 : 0);
  }

  /** Whether a run became running before `end`: MinUptime passed before it (an exit at that very ms came first), or a `ready` within it. */
  private async reachedRunning(uuid: string, r: PastRun, end: number, policy: PastPolicy): Promise<boolean> {
    if (r.outcome === 'spawn_failed') return false;
    if (policy.readiness === 'uptime') return r.started + policy.minUptimeMs < end;
    return this.reads.readyWithin(uuid, r.started, end);
  }

  /** How the last run ended before `before` that its buddy then saw end (since `since`). */
  private async lastExitBefore(uuid: string, before: number, since: number): Promise<ExitInfo | null> {
    const r = await this.reads.lastExitBefore(uuid, before, since);
    if (!r) return null;
    return r.outcome === 'spawn_failed'
      ? { code: null, signal: null, at: isoTime(r.ended) }
      : { code: r.code, signal: r.signal, at: isoTime(r.ended) };
  }

  /**
   * The last usage record (each sums a minute or so) before `at` within the run (from `started`), USAGE_LOOKBACK_MS at
   * most: its mean CPU and memory.
   */
  private async usage(buddy: B, uuid: string, started: number, at: number): Promise<ResourceUsage | null> {
    const u = await this.reads.usage(buddy, uuid, Math.max(started, at - USAGE_LOOKBACK_MS), at);
    if (!u) return null;
    return {
      cpu: u.wallMs > 0 ? Math.round((u.cpuMs * 1000) / u.wallMs) / 10 : 0,
      rss: u.rssKb * 1024,
      processes: u.processes,
      at: isoTime(u.time),
    };
  }
}

/** What `statusAt` needs of a database: the services then, their statuses, where its history begins. */
export interface PastQueries {
  servicesAt(at: number): Promise<PastService[]> | PastService[];
  statusAt(svc: PastService, at: number): Promise<PastServiceStatus>;
  historyFrom(): Promise<number | null> | number | null;
}

/**
 * Answers `status.at`: every service that existed at `at` (or those `names` mean, resolved among them
 * as every command resolves names among the services configured: service-names.ts), with its status
 * then, and where the history kept begins. A time to come is refused, and so is a name that meant no
 * service then (or, with `missing`, put there: the fleet asks several hosts); a name that meant several
 * is ambiguous, as it is for `status`.
 */
export async function statusAt(
  q: PastQueries,
  at: number,
  names?: readonly string[],
  now = Date.now(),
  missing?: Set<string>,
): Promise<StatusAtResult> {
  if (!Number.isFinite(at)) throw new UpkError(ErrorCode.BAD_REQUEST, 'time must be an ISO 8601 time');
  if (at > now) throw new UpkError(ErrorCode.BAD_REQUEST, `${isoTime(at)} is yet to come (it is ${isoTime(now)})`);
  let services = await q.servicesAt(at);
  if (names !== undefined && names.length > 0) services = pastNamed(services, names, at, missing);
  const from = await q.historyFrom();
  const statuses: PastServiceStatus[] = [];
  for (const s of services) statuses.push(await q.statusAt(s, at));
  return { at: isoTime(at), historyFrom: from === null ? null : isoTime(from), services: statuses };
}

/**
 * The services then that `names` mean, in `list`'s order: each name as ServiceTable.resolve reads it
 * (an id, a bare name only one package had, a service with Instances, or `all`). Names that meant no
 * service then are refused together (or put in `missing`); an ambiguous one as `status` refuses it.
 */
export function pastNamed(services: readonly PastService[], names: readonly string[], at: number, missing?: Set<string>): PastService[] {
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
  if (missing !== undefined) for (const n of unknown) missing.add(n);
  else if (unknown.length > 0) {
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
