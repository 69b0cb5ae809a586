// The client↔controller protocol: MessagePack frames, version negotiated by `hello`, one definition for both ends.
import {
  HELLO_DEADLINE_MS,
  type Handshake,
  type NoMessages,
  type NotificationValidators,
  type RpcConnection,
  type Validators,
} from './rpc.js';
import type { ActionResult, LastOutput, ServiceEvent, ServiceStatus } from './records.js';
import { signalName, type EventMatch } from './event-filter.js';
import type { ConfigIssue, ServiceConfig } from './config/types.js';
import type { WireError } from './errors.js';
import { asObject, bad, int, oneOf, optBool, optInt, optStr, optStrList, str, strList, optIsoTime } from './validate.js';
import { auditValidators, type AuditMethods } from './audit-protocol.js';
import { checkWindow, correlationValidators, type Correlation, type CorrelationMethods } from './correlation-protocol.js';
import { timelineValidators, type TimelineMethods } from './timeline-protocol.js';

/** Protocol versions this build speaks; `hello` picks the highest both ends support. */
export const PROTOCOL_MIN = 1;
/** 2 added `events.page`. */
export const PROTOCOL_MAX = 2;
/** Largest frame either end accepts; a larger one closes the connection (a larger answer is refused instead). */
export const CLIENT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * What may wait to be written to one client. Past it the controller reads no more of its requests
 * until it reads, and ends its subscriptions (`ended`; libclient subscribes again from its last event).
 */
export const CLIENT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** A client that takes nothing of what waits for it (more than CLIENT_MAX_BUFFERED_BYTES) this long is disconnected. */
export const CLIENT_STALL_MS = 60_000;
/** Subscriptions one connection may hold at once. */
export const SUBSCRIPTIONS_PER_CONNECTION_MAX = 64;
/** Most events one `events` answer carries (and the default of `limit`); ask again with `afterId` for more. */
export const EVENTS_PAGE_MAX = 10_000;
/** Most events `events.page` gives over all its pages (its `limit`). */
export const EVENTS_QUERY_MAX = 1_000_000;
/** Most bytes of events one page of `events.page` carries (as JSON), well within the frame limit. */
export const EVENTS_PAGE_BYTES = 4 * 1024 * 1024;

export interface HelloParams {
  protocol: { min: number; max: number };
  /** Who is asking, for the audit trail: program name, pid and user. */
  client: string;
  pid: number;
  user: string;
}

export interface ControllerInfo {
  pid: number;
  version: string;
  protocol: number;
  startedAt: string;
  socket: string;
  stateDir: string;
  configFile: string | null;
}

/**
 * Something wrong with the controller's own work, while it lasts: `database` (the audit database
 * cannot be written: events wait in the buddies), `log` (its log cannot be written), `unsupervised`
 * (services whose buddy cannot be started).
 */
export interface ControllerProblem {
  kind: 'database' | 'log' | 'unsupervised' | 'fleet';
  message: string;
  /** ISO 8601 UTC: since when. */
  since: string;
}

/**
 * The supervision's own counters since this controller started, for metrics (absent from a
 * controller before them). Counted where the work is done: nothing runs for them while idle.
 */
export interface ControllerStats {
  /** Events stored in the audit database (from polls, buddies' own deliveries and journals; usage records not counted). */
  eventsStored: number;
  /** Polling rounds (each polls one or more buddies) and the seconds they took, summed. */
  pollRounds: number;
  pollSeconds: number;
  /** The rounds by duration: `[le, rounds]`, the rounds that took at most `le` seconds (cumulative, `le` ascending). */
  pollBuckets: [le: number, rounds: number][];
  /** Polls of buddies (a round polls each buddy due at once). */
  buddyPolls: number;
  /** Events and usage records the linked buddies hold that are not stored yet, as their last polls saw them. */
  eventsPending: number;
  /** CPU time of each service's processes, in ms, in the usage records stored: by service uuid. */
  cpuMs: Record<string, number>;
}

export interface ControllerStatus extends ControllerInfo {
  uptimeMs: number;
  /** False while the controller is still attaching buddies at start-up. */
  ready: boolean;
  services: number;
  buddies: number;
  /** Client connections open now, and the most it serves at once. */
  clients: number;
  maxClients: number;
  /** Problems in the configuration files; the services they affect are not loaded. */
  configIssues: ConfigIssue[];
  /** What is wrong now (empty when nothing is). */
  problems: ControllerProblem[];
  /** The supervision's counters (absent from a controller before them). */
  stats?: ControllerStats;
  /** The export to FleetDatabase (docs/fleet.md): null when none is configured; absent from a controller before it. */
  fleet?: FleetExportStatus | null;
}

/** The fleet export's state, in `controller.status` (docs/fleet.md#watching-the-export). */
export interface FleetExportStatus {
  /** The database, without password or parameters. */
  database: string;
  /** The host name its rows carry (FleetHost, or the machine's name). */
  host: string;
  /** True while the last batch (or connection) went through. */
  up: boolean;
  /** Rows PostgreSQL took as new (runs: new or changed) since the controller started, by local table. */
  exported: Record<string, number>;
  /** Rows sent again that it already had, skipped by their keys, by local table. */
  skipped: Record<string, number>;
  /** Local rows not exported yet, by local table (the distance from the export's position to the newest local id or counter). */
  behind: Record<string, number>;
  /** When a batch last went through, or null since the controller started. */
  lastExport: string | null;
  /** Why the export fails now, or null. */
  error: string | null;
}

/** The outcome for one service of start, stop, restart, reload or shutdown. */
export interface OutcomeItem {
  service: string;
  ok: boolean;
  message: string;
  status: ServiceStatus | null;
  /** For reload: how the reload script ended. */
  action?: ActionResult;
  error?: WireError;
}

/** A configuration change the controller applied (also a row of the config_changes table). */
export interface ConfigChangeRecord {
  service: string;
  uuid: string | null;
  change: 'added' | 'changed' | 'removed' | 'kept';
  /** What changed or why, in words. */
  message: string;
  /** A change that takes effect only at the service's next start (Environment, WorkingDirectory…), while it runs. */
  restart?: boolean;
  /** For `changed`: the keys whose values changed, as written in the files (`ExecStart`, `Environment`). */
  keys?: string[];
}

/** What a reload did: ok false means nothing was applied (the issues say why). */
export interface ReloadResult {
  ok: boolean;
  issues: ConfigIssue[];
  changes: ConfigChangeRecord[];
  /** With `restart`: the services restarted so that their changes take effect, each with its outcome. */
  restarted?: OutcomeItem[];
}

/** The most characters of a `requester`. */
export const REQUESTER_MAX = 200;

/**
 * What every request that changes something may carry: who asked, when the client acts for someone
 * else (an HTTP peer of `upk serve`; libclient's `onBehalfOf`). Recorded in client_requests.requester;
 * a controller before it ignores it.
 */
export interface AuditedParams {
  requester?: string;
}

/** Why `requester` cannot be recorded (empty, longer than REQUESTER_MAX, a control character, a lone surrogate), or null when it can. */
export function requesterProblem(requester: string): string | null {
  if (requester === '') return 'requester must not be empty';
  if (requester.length > REQUESTER_MAX) return `requester must be at most ${REQUESTER_MAX} characters, got ${requester.length}`;
  // C0 and C1 controls, DEL, and the Unicode line and paragraph separators: a log line stays one line.
  const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.exec(requester);
  if (control)
    return `requester must not contain control characters, got U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  // Half of a character (a lone surrogate) cannot be written as UTF-8: the audit database would keep U+FFFD instead.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(requester))
    return 'requester must be well-formed Unicode: it holds a lone surrogate (half of a character)';
  return null;
}

export interface ServicesParams extends AuditedParams {
  /** Service ids (`name` or `package::name`, a bare name when unambiguous), or `all`. */
  services: string[];
}

export interface RestartParams extends ServicesParams {
  overlap?: boolean;
}

export interface EventQuery extends EventMatch {
  service?: string;
  types?: string[];
  /** ISO 8601 times, inclusive. */
  since?: string;
  until?: string;
  /** Only events with a larger id (for paging and resuming). */
  afterId?: number;
  /** At most this many: the newest ones, returned oldest first (default and maximum EVENTS_PAGE_MAX). */
  limit?: number;
}

/** `events.page`: the query (its `limit` counts over every page), or the `cursor` a page gave for the next one. */
export interface EventPageQuery extends EventQuery {
  cursor?: string;
}

/** One page of events, oldest first; `next` is the cursor of the next page, null after the last. */
export interface EventPage {
  events: ServiceEvent[];
  next: string | null;
}

/** What a subscription wants: some services (default all), some event types (default all), and what EventMatch asks. */
export interface SubscribeParams extends EventMatch {
  /** Chosen by the client; every notification of this subscription carries it. */
  subscription: number;
  services?: string[];
  types?: string[];
  /**
   * Resume after this event id: stored events with a larger id are sent first, then live ones.
   * Without it, the subscription starts now.
   */
  sinceId?: number;
}

/** What `upk trend` can chart. */
export const TREND_METRICS = ['restarts', 'failures', 'failrate', 'uptime', 'mtbf', 'mttr', 'cpu', 'rss', 'unhealthy'] as const;
export type TrendMetric = (typeof TREND_METRICS)[number];
/** The unit of each metric's values. */
export const TREND_UNITS: Readonly<Record<TrendMetric, 'count' | 'percent' | 'seconds' | 'bytes'>> = {
  restarts: 'count',
  failures: 'count',
  failrate: 'percent',
  uptime: 'percent',
  mtbf: 'seconds',
  mttr: 'seconds',
  cpu: 'percent',
  rss: 'bytes',
  unhealthy: 'percent',
};
/** Most buckets one trend query may ask for (per service). */
export const TREND_MAX_BUCKETS = 1000;

export interface TrendQuery {
  /** Service ids (default: every configured service). */
  services?: string[];
  metric: TrendMetric;
  /** Bucket length in milliseconds (≥ 1 minute). Buckets start at multiples of it since 1970-01-01 UTC. */
  bucketMs: number;
  /** ISO 8601 times; `until` defaults to now. */
  since: string;
  until?: string;
}

export interface TrendPoint {
  /** The bucket's start (ISO 8601 UTC). */
  start: string;
  /** The metric in this bucket; null when it has no value (no failure for mtbf, no samples for cpu). */
  value: number | null;
  /** rss: the highest resident memory in the bucket. */
  max?: number | null;
}

/** Flapping: at least FLAP_RESTARTS automatic restarts within FLAP_WINDOW_MS (or a runaway hold). */
export const FLAP_RESTARTS = 5;
export const FLAP_WINDOW_MS = 10 * 60_000;

/** Many automatic restarts close together: `restarts` within `windowMs` from `at`, or runaway holds. */
export interface Flapping {
  restarts: number;
  windowMs: number;
  at: string;
  /** Runaway holds (UserMaxRestarts reached) in the range. */
  runaways: number;
}

export interface TrendSeries {
  service: string;
  uuid: string;
  points: TrendPoint[];
  /** The metric over the whole range: a total for counts, else over all of it; null when none. */
  total: number | null;
  /** rss: the highest over the range. */
  max?: number | null;
  /** Set when the service flapped in the range. */
  flapping: Flapping | null;
}

export interface TrendResult {
  metric: TrendMetric;
  unit: (typeof TREND_UNITS)[TrendMetric];
  bucketMs: number;
  /** The first bucket's start and the range's end (ISO 8601 UTC). */
  since: string;
  until: string;
  series: TrendSeries[];
}

/** One run of a service, from the runs table. Times ISO 8601 UTC. */
export interface RunRecord {
  started: string;
  ended: string | null;
  cause: 'start' | 'restart' | 'adopted';
  outcome: 'stopped' | 'failed' | 'spawn_failed' | 'lost' | null;
  pid: number | null;
  code: number | null;
  signal: string | null;
}

/** How long before the first failure of a run of failures `upk why` looks for a configuration change: 1 hour. */
export const CONFIG_CHANGE_WINDOW_MS = 3_600_000;

/** A configuration change applied shortly before a run of failures began (FailureStory). Times ISO 8601 UTC. */
export interface ConfigChangeBefore {
  time: string;
  /** The service whose configuration changed (its id at the time): the failed service, or one of its prerequisites. */
  service: string;
  /** True when it is a prerequisite's. */
  prerequisite: boolean;
  /** What applied it: `start`, `reload`, `SIGHUP`. */
  trigger: string;
  /** The keys whose values changed; null for a change recorded before they were kept (`detail` says it in words). */
  keys: string[] | null;
  detail: string | null;
  /** When the first failure of the run of failures ended: the change came before it. */
  failureAt: string;
}

/** `why`: the story of a service's last failure. */
export interface WhyQuery {
  service: string;
  /** The window of the correlation it names (`correlate`'s windowMs; default CORRELATION_WINDOW_MS). */
  windowMs?: number;
}

/** The story of a service's last failure, for `upk why`: what ended, how, and what happened next. */
export interface FailureStory {
  service: string;
  uuid: string;
  /** The command its start script runs (ExecStart), when configured. */
  command: string | null;
  /** The oldest event the database still keeps for it (ISO 8601), or null. */
  historyFrom: string | null;
  /** Null when the service has not failed in the history kept. */
  failure: {
    run: RunRecord;
    /** The exited (or spawn_failed) event. */
    event: ServiceEvent | null;
    lastOutput: LastOutput | null;
    /** Why a start could not execute (spawn_failed). */
    error: string | null;
    /**
     * Runs in a row, ending with this one, that failed (ended without being asked to, or could not
     * start) — however long each ran, unlike the buddy's count towards MaxConsecutiveFailures.
     */
    failuresInRow: number;
    /** Automatic restarts begun in the hour up to the failure (its own run among them, if it was one). */
    restartsHourBefore: number;
    /** Resources in the last usage record before it (cpu %, rss and highest rss in bytes). */
    usageBefore: { cpu: number; rss: number; rssMax: number; at: string } | null;
    /** Signals sent to it by upkeeper or by a user during the run. */
    signals: ServiceEvent[];
    /** The unhealthy or limit_exceeded event for which its buddy ended the run (restart or stop); null otherwise. */
    unwell?: ServiceEvent | null;
    /**
     * The last configuration change of the service, or of one of its prerequisites, applied within
     * CONFIG_CHANGE_WINDOW_MS before the first failure of this run of failures; null when none was
     * (absent from a controller before it).
     */
    configChanged?: ConfigChangeBefore | null;
    /**
     * The strongest correlation of its failures with another service's events, from the 7 days up to
     * this failure (`correlate`, docs/correlation.md), when it is significant; else null (absent from
     * a controller before it).
     */
    correlated?: Correlation | null;
  } | null;
  /** What happened after it, oldest first (at most 20 events). */
  after: ServiceEvent[];
  /** The service now; null when it is no longer configured. */
  status: ServiceStatus | null;
}

/** Most lines one `logs` answer carries per stream. */
export const LOG_TAIL_MAX_LINES = 1000;

/** The last lines of a service's output files. */
export interface LogTail {
  service: string;
  stdout: { file: string; lines: string[] };
  stderr: { file: string; lines: string[] };
  /** The service's LogTimestamps: the buddy begins each line with its time (absent from a controller before it). */
  timestamps?: boolean;
}

/** How a run of an OnEvent hook went (the `outcome` of a row of hook_runs). */
export const HOOK_OUTCOMES = ['queued', 'running', 'ok', 'failed', 'timed_out', 'skipped', 'dropped', 'interrupted'] as const;
export type HookOutcome = (typeof HOOK_OUTCOMES)[number];
/** Most hook runs one `hooks` answer carries (and the largest `limit`). */
export const HOOK_RUNS_MAX = 10_000;

/** One run of an OnEvent hook for one event (a row of hook_runs). Times ISO 8601 UTC. */
export interface HookRun {
  id: number;
  hook: string;
  eventId: number;
  eventType: string;
  service: string;
  uuid: string;
  /** When the controller took the event for the hook. */
  time: string;
  started: string | null;
  finished: string | null;
  outcome: HookOutcome;
  /** Why it was skipped, dropped or interrupted, or could not start. */
  reason: string | null;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  /** The last 4 KiB of its stdout and stderr. */
  output: string | null;
}

/** `hooks`: the newest `limit` runs (default 100), oldest first; of one service, one hook, since a time. */
export interface HookRunQuery {
  service?: string;
  hook?: string;
  /** ISO 8601. */
  since?: string;
  limit?: number;
}

// ---- status.at: the statuses at a past time, from the audit history (upk status --at) ----------------

/** `status.at`: the services' statuses at `time` (ISO 8601), of these services (default: every one that existed then). */
export interface StatusAtQuery {
  time: string;
  /** Names, none empty, STATUS_AT_NAMES_MAX at most (`all`: every one). */
  services?: string[];
}

/** Most names one `status.at` lists: each is resolved among every service of then, and every unknown one is named in the error. */
export const STATUS_AT_NAMES_MAX = 1000;

/** The configuration change in force at a past time: the last one recorded for the service before it. */
export interface PastConfigChange {
  /** ISO 8601 UTC. */
  time: string;
  change: 'added' | 'changed' | 'kept';
  /** start, reload, SIGHUP, remove (as `config_changes.trigger`). */
  trigger: string;
  /** What changed or why, in words. */
  detail: string | null;
  /** The configuration keys whose values it changed, as written (`MinUptime`); null for a change recorded before they were kept. */
  keys: string[] | null;
  /**
   * The service's configuration as it applied it (the status then is judged by it); null for a change
   * recorded before configurations were kept: the status is then judged by the configuration of now.
   */
  applied: ServiceConfig | null;
}

/**
 * A service's status at a past time, reconstructed from its events (docs/controller.md, "The status at a
 * past time"): `usage` is the usage record of the minute before, `waitingFor` and `unsupervised` are null,
 * and the fields a buddy alone knows (`statusText`, `listen`, `nextRun`, `previous`) are absent.
 */
export interface PastServiceStatus extends ServiceStatus {
  config: PastConfigChange | null;
}

export interface StatusAtResult {
  /** The time asked about, ISO 8601 UTC. */
  at: string;
  /**
   * The time of the oldest event the audit history keeps (ISO 8601 UTC), null when it keeps none: the
   * statuses at a time before it are not known (what is older was deleted by retention), only guessed.
   */
  historyFrom: string | null;
  /** In the order `list` gives them (StartPriority, then id). */
  services: PastServiceStatus[];
}

export interface ClientMethods extends AuditMethods, CorrelationMethods, TimelineMethods {
  hello: { params: HelloParams; result: { protocol: number; controller: ControllerInfo } };
  'controller.status': { params: Record<string, never>; result: ControllerStatus };
  /** Stop the controller alone; buddies and services keep running. */
  'controller.stop': { params: AuditedParams; result: null };
  /** Stop every service and buddy, then the controller. */
  shutdown: { params: AuditedParams; result: OutcomeItem[] };
  list: { params: Record<string, never>; result: ServiceStatus[] };
  status: { params: { services?: string[] }; result: ServiceStatus[] };
  start: { params: ServicesParams; result: OutcomeItem[] };
  stop: { params: ServicesParams; result: OutcomeItem[] };
  /** `overlap`: the new run beside the old one, which drains once the new one is ready (`upk restart --overlap`). */
  restart: { params: RestartParams; result: OutcomeItem[] };
  reload: { params: ServicesParams; result: OutcomeItem[] };
  /**
   * Take over each service's process that runs without upkeeper (PidFile, ProcessMatch)
   * instead of starting one: wanted running once taken over; nothing changes for a service none is found of.
   */
  attach: { params: ServicesParams; result: OutcomeItem[] };
  action: { params: { service: string; action: string } & AuditedParams; result: ActionResult };
  signal: { params: { service: string; signal: string; group?: boolean } & AuditedParams; result: { pid: number } };
  events: { params: EventQuery; result: ServiceEvent[] };
  /**
   * (Protocol 2.) The same query in pages of at most EVENTS_PAGE_BYTES: ask again with the same
   * query and `cursor` = the page's `next` until it is null. `limit` may go up to EVENTS_QUERY_MAX.
   */
  'events.page': { params: EventPageQuery; result: EventPage };
  /** A metric per service and time bucket, computed from the events and usage records. */
  trend: { params: TrendQuery; result: TrendResult };
  /** The story of a service's last failure. */
  why: { params: WhyQuery; result: FailureStory };
  /** The last lines of a service's stdout and stderr files (default 20 each, at most LOG_TAIL_MAX_LINES). */
  logs: { params: { service: string; lines?: number }; result: LogTail };
  /** The runs of the OnEvent hooks, and how each ended. */
  hooks: { params: HookRunQuery; result: HookRun[] };
  /** The statuses at a past time, reconstructed from the audit history. */
  'status.at': { params: StatusAtQuery; result: StatusAtResult };
  /** Read and check every configuration file; apply all of it, or nothing (the issues say why). */
  /** `restart`: then restart the running services whose changes wait for their next start. */
  'config.reload': { params: { restart?: boolean } & AuditedParams; result: ReloadResult };
  /** Stop and forget services the configuration files no longer define (their history stays). */
  remove: { params: ServicesParams; result: ConfigChangeRecord[] };
  /**
   * Receive events (and status changes) as they are stored. The answer comes first; then the current
   * status of each matching service, the stored events after `sinceId`, and live ones, in id order.
   */
  subscribe: { params: SubscribeParams; result: { subscription: number; lastId: number } };
  unsubscribe: { params: { subscription: number }; result: null };
}

/** What the controller takes first on a client connection: `hello`, within HELLO_DEADLINE_MS. */
export const CLIENT_HANDSHAKE: Handshake<keyof ClientMethods> = { method: 'hello', deadlineMs: HELLO_DEADLINE_MS };

/** What the controller sends unasked, on the connection of a subscription. */
export interface ClientNotifications {
  event: { subscription: number; event: ServiceEvent };
  status: { subscription: number; status: ServiceStatus };
  /** A service is no longer configured (removed, or replaced by a new identity under its id). */
  removed: { subscription: number; service: string; uuid: string };
  /**
   * The controller ended the subscription (the client did not read what was sent and more than
   * CLIENT_MAX_BUFFERED_BYTES waited). `lastId`: the last event sent; subscribe again with
   * `sinceId` = the last one received to miss nothing.
   */
  ended: { subscription: number; code: string; reason: string; lastId: number | null };
  /** What is wrong with the controller now: sent when a subscription begins, and whenever it changes. */
  problems: { subscription: number; problems: ControllerProblem[] };
  /**
   * The controller is about to close the connection: `stop` (it stops alone: services run on) or
   * `shutdown` (every service and buddy was stopped). A controller that dies says nothing.
   */
  closing: { subscription: number; reason: 'stop' | 'shutdown' };
}

/** The controller's end of a client connection: it answers ClientMethods and sends ClientNotifications. */
export type ClientConnection = RpcConnection<NoMessages, ClientNotifications>;

const CLOSING_REASONS: readonly ClientNotifications['closing']['reason'][] = ['stop', 'shutdown'];

/**
 * Each notification checked where it arrives (libclient). The records in them are checked as far as a
 * client relies on them, and their names not against this build's lists: a newer controller may have
 * more event types, states or kinds of problem.
 */
export const clientNotificationValidators: NotificationValidators<ClientNotifications> = {
  event: (p) => {
    const o = asObject(p);
    const event = o.event;
    checkServiceEvent(event);
    return { subscription: int(o, 'subscription', 0), event };
  },
  status: (p) => {
    const o = asObject(p);
    const status = o.status;
    checkServiceStatus(status);
    return { subscription: int(o, 'subscription', 0), status };
  },
  removed: (p) => {
    const o = asObject(p);
    return { subscription: int(o, 'subscription', 0), service: str(o, 'service'), uuid: str(o, 'uuid') };
  },
  ended: (p) => {
    const o = asObject(p);
    return {
      subscription: int(o, 'subscription', 0),
      code: str(o, 'code'),
      reason: str(o, 'reason'),
      lastId: optInt(o, 'lastId', 0) ?? null,
    };
  },
  problems: (p) => {
    const o = asObject(p);
    const problems = o.problems;
    checkProblems(problems);
    return { subscription: int(o, 'subscription', 0), problems };
  },
  closing: (p) => {
    const o = asObject(p);
    return { subscription: int(o, 'subscription', 0), reason: oneOf(o, 'reason', CLOSING_REASONS) };
  },
};

/** What a client relies on in an event: its id (the order, and where to resume), service, uuid, type and time. */
function checkServiceEvent(value: unknown): asserts value is ServiceEvent {
  const e = asObject(value, 'event');
  int(e, 'id', 1);
  for (const key of ['service', 'uuid', 'type', 'time']) str(e, key);
}

/** What a client relies on in a status: the service's name, uuid and state. */
function checkServiceStatus(value: unknown): asserts value is ServiceStatus {
  const s = asObject(value, 'status');
  for (const key of ['name', 'uuid', 'state']) str(s, key);
}

function checkProblems(value: unknown): asserts value is ControllerProblem[] {
  if (!Array.isArray(value)) bad('problems must be a list');
  value.forEach((p: unknown, i) => {
    const o = asObject(p, `problems[${i}]`);
    for (const key of ['kind', 'message', 'since']) str(o, key);
  });
}

const none = (p: unknown): Record<string, never> => {
  asObject(p);
  return {};
};
/** The `requester` of a request that changes something, checked: `{requester}`, or `{}` when absent. */
function audited(o: Record<string, unknown>): AuditedParams {
  const requester = optStr(o, 'requester');
  if (requester === undefined) return {};
  const problem = requesterProblem(requester);
  if (problem !== null) bad(problem);
  return { requester };
}
const services = (p: unknown): ServicesParams => {
  const o = asObject(p);
  return { services: strList(o, 'services'), ...audited(o) };
};

/** The EventMatch fields of a request, checked. */
function eventMatch(o: Record<string, unknown>): EventMatch {
  const m: EventMatch = {};
  const pid = optInt(o, 'pid', 1);
  const code = optInt(o, 'code', 0);
  const signal = optStr(o, 'signal');
  const text = optStr(o, 'text');
  if (pid !== undefined) m.pid = pid;
  if (code !== undefined) m.code = code;
  if (signal !== undefined && signal !== '') m.signal = signalName(signal);
  if (text !== undefined && text !== '') m.text = text;
  return m;
}

/** The fields of an event query, checked (limit as given). */
function eventQuery(o: Record<string, unknown>): EventQuery {
  const q: EventQuery = eventMatch(o);
  const service = optStr(o, 'service');
  const types = optStrList(o, 'types');
  const since = optIsoTime(o, 'since');
  const until = optIsoTime(o, 'until');
  const afterId = optInt(o, 'afterId', 0);
  const limit = optInt(o, 'limit', 1);
  if (service !== undefined) q.service = service;
  if (types !== undefined) q.types = types;
  if (since !== undefined) q.since = since;
  if (until !== undefined) q.until = until;
  if (afterId !== undefined) q.afterId = afterId;
  if (limit !== undefined) q.limit = limit;
  return q;
}

export const clientValidators: Validators<ClientMethods> = {
  ...auditValidators,
  ...correlationValidators,
  ...timelineValidators,
  hello: (p) => {
    const o = asObject(p);
    const range = asObject(o.protocol, 'protocol');
    return {
      protocol: { min: int(range, 'min', 0), max: int(range, 'max', 0) },
      client: optStr(o, 'client') ?? 'unknown',
      pid: optInt(o, 'pid', 0) ?? 0,
      user: optStr(o, 'user') ?? '',
    };
  },
  'controller.status': none,
  'controller.stop': (p) => audited(asObject(p)),
  shutdown: (p) => audited(asObject(p)),
  list: none,
  status: (p) => {
    const list = optStrList(asObject(p), 'services');
    return list === undefined ? {} : { services: list };
  },
  start: services,
  stop: services,
  restart: (p) => {
    const overlap = optBool(asObject(p), 'overlap');
    return overlap === undefined ? services(p) : { ...services(p), overlap };
  },
  reload: services,
  attach: services,
  action: (p) => {
    const o = asObject(p);
    return { service: str(o, 'service'), action: str(o, 'action'), ...audited(o) };
  },
  signal: (p) => {
    const o = asObject(p);
    const group = optBool(o, 'group');
    const base = { service: str(o, 'service'), signal: str(o, 'signal'), ...audited(o) };
    return group === undefined ? base : { ...base, group };
  },
  'config.reload': (p) => {
    const o = asObject(p);
    const restart = optBool(o, 'restart');
    return restart === undefined ? audited(o) : { restart, ...audited(o) };
  },
  remove: services,
  subscribe: (p) => {
    const o = asObject(p);
    const out: SubscribeParams = { subscription: int(o, 'subscription', 0), ...eventMatch(o) };
    const services = optStrList(o, 'services');
    const types = optStrList(o, 'types');
    const sinceId = optInt(o, 'sinceId', 0);
    if (services !== undefined) out.services = services;
    if (types !== undefined) out.types = types;
    if (sinceId !== undefined) out.sinceId = sinceId;
    return out;
  },
  unsubscribe: (p) => ({ subscription: int(asObject(p), 'subscription', 0) }),
  events: (p) => {
    const q = eventQuery(asObject(p));
    if (q.limit !== undefined) q.limit = Math.min(q.limit, EVENTS_PAGE_MAX);
    return q;
  },
  'events.page': (p) => {
    const o = asObject(p);
    const q: EventPageQuery = eventQuery(o);
    if (q.limit !== undefined) q.limit = Math.min(q.limit, EVENTS_QUERY_MAX);
    const cursor = optStr(o, 'cursor');
    if (cursor !== undefined) q.cursor = cursor;
    return q;
  },
  trend: (p) => {
    const o = asObject(p);
    const metric = str(o, 'metric');
    if (!(TREND_METRICS as readonly string[]).includes(metric))
      bad(`metric must be one of ${TREND_METRICS.join(', ')}, got ${JSON.stringify(metric)}`);
    const bucketMs = optInt(o, 'bucketMs', 60_000);
    if (bucketMs === undefined) bad('bucketMs must be an integer ≥ 60000 (one minute)');
    const since = optIsoTime(o, 'since');
    if (since === undefined) bad('since must be an ISO 8601 time');
    const q: TrendQuery = { metric: metric as TrendMetric, bucketMs, since };
    const until = optIsoTime(o, 'until');
    const list = optStrList(o, 'services');
    if (until !== undefined) q.until = until;
    if (list !== undefined) q.services = list;
    return q;
  },
  why: (p) => {
    const o = asObject(p);
    const windowMs = checkWindow(optInt(o, 'windowMs', 1));
    return windowMs === undefined ? { service: str(o, 'service') } : { service: str(o, 'service'), windowMs };
  },
  logs: (p) => {
    const o = asObject(p);
    const lines = optInt(o, 'lines', 1);
    return lines === undefined
      ? { service: str(o, 'service') }
      : { service: str(o, 'service'), lines: Math.min(lines, LOG_TAIL_MAX_LINES) };
  },
  hooks: (p) => {
    const o = asObject(p);
    const q: HookRunQuery = {};
    const service = optStr(o, 'service');
    const hook = optStr(o, 'hook');
    const since = optIsoTime(o, 'since');
    const limit = optInt(o, 'limit', 1);
    if (service !== undefined) q.service = service;
    if (hook !== undefined) q.hook = hook;
    if (since !== undefined) q.since = since;
    if (limit !== undefined) q.limit = Math.min(limit, HOOK_RUNS_MAX);
    return q;
  },
  'status.at': (p) => {
    const o = asObject(p);
    const time = optIsoTime(o, 'time');
    if (time === undefined) bad('time must be an ISO 8601 time');
    const services = o.services;
    if (Array.isArray(services)) {
      if (services.length > STATUS_AT_NAMES_MAX) bad(`services must list at most ${STATUS_AT_NAMES_MAX} names, got ${services.length}`);
      const empty = services.indexOf('');
      if (empty !== -1) bad(`services[${empty}] is empty: a service name must not be`);
    }
    const list = optStrList(o, 'services');
    return list === undefined ? { time } : { time, services: list };
  },
};
