// The detail of each event type, defined once: what a buddy records is checked against it when
// compiled, and a reader takes a detail back from the database or the wire through `detailOf`, which
// keeps only the fields of the right type (a detail read back is never trusted).
import type { DesiredState, EventType, LastOutput, UsageDetail } from './records.js';

/** Why a buddy sent a signal (docs/events.md: the `detail.reason` of `signal_sent`). */
export type SignalSentReason = 'stop' | 'escalation' | 'cleanup' | 'drain' | 'user';

/** Every event type's `detail` (docs/events.md, "Event types"); null: the type has none. */
export type EventDetails = {
  buddy_started: { version: string };
  buddy_exiting: { reason: 'shutdown' };
  /** `by`: a controller sent the command. */
  desired: { desired: DesiredState; cause: DesiredCause; by?: 'controller' };
  /** `scheduled`: the Schedule started this run (or it is the start after a CronRestart). */
  /** `replaces`: an overlap restart's new run, started beside the run (that pid) it replaces once it is ready. */
  spawned: { restart: boolean; scheduled?: true; replaces?: number };
  /** `how`: found running through PidFile or ProcessMatch, or left by a Type forking start; absent: a lost buddy's. */
  adopted: { startedAt: string; desired: DesiredState; how?: AdoptedHow };
  spawn_failed: { error: string; restart: boolean };
  /**
   * `unknown`: an adopted process ended, how is not known; `lastOutput`: only for an exit nobody asked for;
   * `outcome`: a oneshot job's run (exit 0 succeeds; another exit, a signal or MaxRunTime fails);
   * `error`: why a Type forking start failed although its start script exited 0 (no pid file, a dead pid);
   * `replaced`: the run an overlap restart replaced (its successor runs).
   */
  exited: {
    uptimeMs: number;
    requested: boolean;
    unknown?: true;
    lastOutput?: LastOutput;
    outcome?: RunOutcome;
    error?: string;
    replaced?: true;
  };
  stopping: { restart: boolean };
  /** `escaped`: the marked processes outside the group that got it too, when there were any. */
  signal_sent: { group: boolean; reason: SignalSentReason; escaped?: number[] };
  stopped: null;
  backoff: { reason: 'ratelimit' | 'runaway'; delayMs: number; until: string };
  runaway: { starts: number; windowMs: number; until: string };
  failed: { failures: number };
  action_started: { action: string };
  action_finished: { action: string; durationMs: number; error?: string };
  reconfigured: null;
  events_dropped: { count: number; firstSeq: number; lastSeq: number };
  output_failed: { stream: 'stdout' | 'stderr'; file: string; error: string };
  output_resumed: { stream: 'stdout' | 'stderr'; file: string; lostBytes: number };
  ready: { how: ReadyHow; afterMs: number };
  start_timeout: { timeoutMs: number };
  timed_out: { maxRunTimeMs: number };
  /** `output`: the tail of what the check saw (its output, an HTTP status, a connection error). */
  unhealthy: { check: string; failures: number; output: string; action: UnwellAction };
  healthy: { check: string };
  limit_exceeded: { limit: LimitName; value: number; max: number; action: UnwellAction };
  /** `overlap`: the ScheduleOverlap in force (with queue, a run already waited). */
  run_skipped: { due: string; overlap: 'skip' | 'queue' };
  cron_restart: { due: string };
  overlap_abandoned: null;
};

/** Why the desired state changed: a command, a shutdown, an adopted process's, or the buddy's own watching. */
export type DesiredCause = 'command' | 'shutdown' | 'adopted' | 'unhealthy' | 'limit' | 'timeout' | 'completed';
/** How a oneshot job's run ended. */
export type RunOutcome = 'success' | 'failure';
/** How a service said it is ready (the `Ready…` keys, docs/configuration.md). */
export type ReadyHow = 'ReadyFd' | 'notify' | 'ReadyLine' | 'probe' | 'forking';
/** How a process the buddy did not start was found (detail.how of `adopted`). */
export type AdoptedHow = 'pidfile' | 'match' | 'forked';
/** What the buddy does with a service a health check or a limit finds not working. */
export type UnwellAction = 'restart' | 'stop' | 'none';
export type LimitName = 'MaxMemory' | 'MaxCPU' | 'ActivityTimeout';

/**
 * Any event as its buddy records it (less `seq` and `time`), with its type's detail, whole:
 * `{ type: 'spawned', pid, detail: { restart } }`. One object type per event type (no intersection),
 * so that the compiler checks a detail against its own type's fields.
 */
export type NewEvent = {
  [T in EventType]: EventDetails[T] extends null
    ? { type: T; pid?: number | null; code?: number | null; signal?: string | null; detail?: null }
    : { type: T; pid?: number | null; code?: number | null; signal?: string | null; detail: EventDetails[T] };
}[EventType];

/** An event of type T as its buddy records it. */
export type EventOf<T extends EventType> = Extract<NewEvent, { type: T }>;

/** The detail of what a buddy records, by record type: an event's, or a usage record's. */
export type RecordDetails = EventDetails & { usage: UsageDetail };

type Guard<V> = (v: unknown) => v is V;
/** A test of each field of a detail, for reading it back; the compiler holds each test to its field's type. */
type FieldGuards<D> = D extends null ? Record<never, never> : { readonly [K in keyof D]-?: Guard<Exclude<D[K], undefined>> };

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isTrue = (v: unknown): v is true => v === true;
const oneOf =
  <const W extends readonly string[]>(...words: W): Guard<W[number]> =>
  (v: unknown): v is W[number] =>
    words.some((w) => w === v);
const isPids = (v: unknown): v is number[] => Array.isArray(v) && v.every((p) => Number.isInteger(p));
const isLastOutput = (v: unknown): v is LastOutput =>
  typeof v === 'object' && v !== null && 'stdout' in v && 'stderr' in v && isString(v.stdout) && isString(v.stderr);
const isDesired = oneOf('running', 'stopped');
const isStream = oneOf('stdout', 'stderr');
const isAction = oneOf('restart', 'stop', 'none');

/** Each event type's detail fields, with their tests: the one list at run time (the docs test reads it too). */
export const DETAIL_FIELDS: { readonly [T in EventType]: FieldGuards<EventDetails[T]> } = {
  buddy_started: { version: isString },
  buddy_exiting: { reason: oneOf('shutdown') },
  desired: {
    desired: isDesired,
    cause: oneOf('command', 'shutdown', 'adopted', 'unhealthy', 'limit', 'timeout', 'completed'),
    by: oneOf('controller'),
  },
  spawned: { restart: isBoolean, scheduled: isTrue, replaces: isNumber },
  adopted: { startedAt: isString, desired: isDesired, how: oneOf('pidfile', 'match', 'forked') },
  spawn_failed: { error: isString, restart: isBoolean },
  exited: {
    uptimeMs: isNumber,
    requested: isBoolean,
    unknown: isTrue,
    lastOutput: isLastOutput,
    outcome: oneOf('success', 'failure'),
    error: isString,
    replaced: isTrue,
  },
  stopping: { restart: isBoolean },
  signal_sent: { group: isBoolean, reason: oneOf('stop', 'escalation', 'cleanup', 'drain', 'user'), escaped: isPids },
  stopped: {},
  backoff: { reason: oneOf('ratelimit', 'runaway'), delayMs: isNumber, until: isString },
  runaway: { starts: isNumber, windowMs: isNumber, until: isString },
  failed: { failures: isNumber },
  action_started: { action: isString },
  action_finished: { action: isString, durationMs: isNumber, error: isString },
  reconfigured: {},
  events_dropped: { count: isNumber, firstSeq: isNumber, lastSeq: isNumber },
  output_failed: { stream: isStream, file: isString, error: isString },
  output_resumed: { stream: isStream, file: isString, lostBytes: isNumber },
  ready: { how: oneOf('ReadyFd', 'notify', 'ReadyLine', 'probe', 'forking'), afterMs: isNumber },
  start_timeout: { timeoutMs: isNumber },
  timed_out: { maxRunTimeMs: isNumber },
  unhealthy: { check: isString, failures: isNumber, output: isString, action: isAction },
  healthy: { check: isString },
  limit_exceeded: { limit: oneOf('MaxMemory', 'MaxCPU', 'ActivityTimeout'), value: isNumber, max: isNumber, action: isAction },
  run_skipped: { due: isString, overlap: oneOf('skip', 'queue') },
  cron_restart: { due: isString },
  overlap_abandoned: {},
};

/** What `detailOf` reads: any event, as stored, received or given to clients. */
export interface EventLike {
  type: string;
  detail?: Record<string, unknown> | null;
}

/**
 * The detail of `event` read as one of type `type`: each field that has the type `EventDetails` gives
 * it, and none of the others (a detail from the database or the wire may be of an older version, or
 * forged). Empty when the event is missing or of another type.
 */
export function detailOf<T extends EventType>(event: EventLike | null | undefined, type: T): Partial<NonNullable<EventDetails[T]>> {
  const out: Partial<NonNullable<EventDetails[T]>> = {};
  const detail = event?.type === type ? event.detail : null;
  if (!detail) return out;
  const guards: Readonly<Record<string, Guard<unknown>>> = DETAIL_FIELDS[type];
  const fields: Record<string, unknown> = out;
  for (const [key, ok] of Object.entries(guards)) if (ok(detail[key])) fields[key] = detail[key];
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A detail as the database keeps it (JSON text): the object, or null when there is none (or it is no object). */
export function parseDetail(json: string | null): Record<string, unknown> | null {
  if (!json) return null;
  const value: unknown = JSON.parse(json);
  return isObject(value) ? value : null;
}
