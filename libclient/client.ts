// The typed client: one method per request of the client protocol; errors are UpkError with a code.
import { connect as netConnect, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import {
  CLIENT_MAX_FRAME_BYTES,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  clientNotificationValidators,
  type ClientMethods,
  type ConfigChangeRecord,
  type ControllerInfo,
  type ReloadResult,
  type ControllerStatus,
  type EventQuery,
  type FailureStory,
  type HookRun,
  type HookRunQuery,
  type LogTail,
  type OutcomeItem,
  type StatusAtResult,
  type TrendMetric,
  type TrendQuery,
  type TrendResult,
  requesterProblem,
} from '../schema/client-protocol.js';
import type { ClientRequestRecord, ConfigHistoryQuery, ConfigHistoryRecord, RequestQuery } from '../schema/audit-protocol.js';
import {
  CORRELATION_WINDOW_MAX_MS,
  CORRELATION_WINDOW_MS,
  type CorrelateQuery,
  type CorrelationResult,
} from '../schema/correlation-protocol.js';
import type { TimelineQuery, TimelineResult } from '../schema/timeline-protocol.js';
import { DURATION_WORDS, parseDuration } from '../schema/durations.js';
import { pickMatch, type EventMatch } from '../schema/event-filter.js';
import { msgpackCodec } from '../schema/codec-msgpack.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { checkIsoTime } from '../schema/validate.js';
import type { ActionResult, ServiceEvent, ServiceStatus } from '../schema/records.js';
import { RpcConnection, receiveTyped, type ResultOf, type RpcOptions, type RpcStream } from '../schema/rpc.js';
import type { ConnectionHooks } from './connection-hooks.js';
import { Subscription, type SubscribeFilter } from './subscription.js';
import { followLogs, type FollowLogsOptions, type LogLine } from './log-follow.js';
import { socketAddress } from '../schema/socket-path.js';
import { controllerSocket, notRunningError, readControllerConfig, type DiscoveryOptions } from './discovery.js';
import { SshChannel, checkHost } from './ssh-channel.js';

/** The client's end of a connection: it asks ClientMethods and sends no notification. */
type ControllerConnection = RpcConnection<ClientMethods>;

export interface ConnectOptions extends DiscoveryOptions {
  /** Connect to this socket instead of finding it through the configuration. */
  socket?: string;
  /** Name recorded in the audit trail for this client's requests (default: the program's name). */
  client?: string;
  /** Give up connecting after this long (default 5000 ms). */
  timeoutMs?: number;
  /**
   * When the connection is gone (the controller restarted, say), the next request connects again,
   * trying for up to this long before it fails with CONTROLLER_NOT_RUNNING (default 10000 ms; 0:
   * never reconnect).
   */
  reconnectMs?: number;
  /**
   * Reach the controller of this host through the user's own ssh (`[user@]host`, or an alias of the
   * ssh configuration; docs/fleet.md): `ssh HOST upk bridge`. Default $UPKEEPER_HOST; none when
   * `socket` is given. `config` is then not read here: the host's upk finds its own controller.
   */
  host?: string;
  /** ssh's configuration file (`ssh -F`) for `host`; default $UPKEEPER_SSH_CONFIG, else ssh's own. */
  sshConfig?: string;
  /** The command that runs upk on `host` (default $UPKEEPER_REMOTE_UPK, else `upk`). */
  remoteUpk?: string;
}

/** How long a Client tries to reach a controller again before a request fails (ConnectOptions.reconnectMs). */
export const RECONNECT_MS = 10_000;
/** Between two tries to reconnect: doubling from 50 ms up to 500 ms. */
const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 500;
/**
 * Requests that only read: one interrupted by the controller going away is sent again on the next
 * connection. Any other fails with INTERRUPTED, for it may have been carried out.
 */
const READS: ReadonlySet<keyof ClientMethods> = new Set([
  'controller.status',
  'list',
  'status',
  'events',
  'events.page',
  'trend',
  'why',
  'logs',
  'hooks',
  'config.history',
  'requests',
  'status.at',
  'correlate',
  'timeline',
]);

/**
 * A time of a query: a Date, milliseconds since the epoch, or an ISO 8601 string with its offset as the
 * controller takes it (`2026-11-21T02:13:00Z`, `2026-11-21T03:13+01:00`: isoInstant), sent as given.
 */
export type TimeLike = Date | number | string;

export interface TrendOptions {
  /** Service ids, or all configured services when absent. */
  services?: string | string[];
  metric: TrendMetric;
  /** Bucket length: milliseconds, or a duration such as "1h", "15m", "1d". */
  bucket: number | string;
  since: TimeLike;
  until?: TimeLike;
}

export interface EventFilter extends EventMatch {
  service?: string;
  types?: string[];
  since?: TimeLike;
  until?: TimeLike;
  afterId?: number;
  limit?: number;
}

/** Which hook runs `hookRuns()` reads: of a service, of a hook, since a time; the newest `limit` (default 100). */
export interface HookRunFilter {
  service?: string;
  hook?: string;
  since?: TimeLike;
  limit?: number;
}

/** Which changes `configHistory()` reads: since a time; the newest `limit` (default 100). */
export interface ConfigHistoryOptions {
  since?: TimeLike;
  limit?: number;
}

/**
 * Which client requests `requests()` reads: from `since` to `until`; of a client (a text its name or
 * the requester contains, any letter case); about a service (and those about no one service, `service`
 * null: config.reload, shutdown); the newest `limit` (default 100).
 */
export interface RequestFilter {
  since?: TimeLike;
  until?: TimeLike;
  client?: string;
  service?: string;
  limit?: number;
}

/**
 * What `correlate()` looks at: the failures of `service` (every pair of services when absent), within
 * ±`window` (ms or a duration such as "30s"; default 30 s), from `since` (default 7 days ago) to
 * `until` (default now); the last `failures` failures (default 100); the strongest `limit` rows (default 20).
 */
export interface CorrelateOptions {
  service?: string;
  window?: number | string;
  since?: TimeLike;
  until?: TimeLike;
  failures?: number;
  limit?: number;
}

/**
 * A window as given (ms, or a duration such as "30s"), in whole ms, from 1 ms to a day
 * (CORRELATION_WINDOW_MAX_MS); else BAD_REQUEST naming `window`, as it was given (the controller's
 * own error names its `windowMs`, which no user of this library or of the HTTP API typed).
 */
function windowMs(window: number | string | undefined): number {
  const given = window === undefined ? CORRELATION_WINDOW_MS : typeof window === 'string' ? parseDuration(window) : window;
  const ms = given === null ? NaN : Math.round(given);
  if (!(given !== null && given >= 1 && ms <= CORRELATION_WINDOW_MAX_MS)) {
    throw new UpkError(ErrorCode.BAD_REQUEST, `window: expected ${DURATION_WORDS}, from 1 ms to a day (1d), got ${JSON.stringify(window)}`);
  }
  return ms;
}

/**
 * What `timeline()` reads: from `since` to `until` (default: now), of these services (default: every
 * one; the requests about no one service always), the oldest `limit` entries (default 1,000, at most
 * 10,000); with `after`, a truncated answer's `next`, the entries after those it carried.
 */
export interface TimelineOptions {
  services?: string | string[];
  since: TimeLike;
  until?: TimeLike;
  limit?: number;
  after?: string;
}

type Names = string | string[];
const list = (names: Names): string[] => (Array.isArray(names) ? names : [names]);
/**
 * A time as the controller takes it, checked here by the controller's own rule (checkIsoTime) so that
 * a controller of any version reads it alike: a string passes unchanged when it is an ISO 8601 date and
 * time with its offset that exists, else BAD_REQUEST naming `key`; never rewritten by `new Date()`,
 * which would guess (`5` → 2001-05-01, `May 1`, a time without offset in this process's zone). A Date or
 * milliseconds: as `toISOString()` writes them (one that is no time, or outside years 0000–9999: BAD_REQUEST).
 */
function iso(t: TimeLike, key: string): string {
  if (typeof t === 'string') {
    checkIsoTime(key, t);
    return t;
  }
  const ms = t instanceof Date ? t.getTime() : t;
  const text = Number.isNaN(new Date(ms).getTime()) ? String(t) : new Date(ms).toISOString();
  checkIsoTime(key, text);
  return text;
}

/** The `correlate` request of these options (also what `FleetReader.correlate` checks, with the request's validator). */
export function correlateQuery(options: CorrelateOptions): CorrelateQuery {
  const q: CorrelateQuery = {
    windowMs: windowMs(options.window),
    since: iso(options.since ?? Date.now() - 7 * 86_400_000, 'since'),
  };
  if (options.service !== undefined) q.service = options.service;
  if (options.until !== undefined) q.until = iso(options.until, 'until');
  if (options.failures !== undefined) q.failures = options.failures;
  if (options.limit !== undefined) q.limit = options.limit;
  return q;
}

/** The requests that change something: recorded in the audit trail, with the requester of a view (`onBehalfOf`). */
type ChangeMethod =
  'start' | 'stop' | 'restart' | 'reload' | 'attach' | 'action' | 'signal' | 'config.reload' | 'remove' | 'controller.stop' | 'shutdown';

/** One connection to a controller, made again when it is gone: what a Client and its views (`onBehalfOf`) share. */
class Link {
  closed = false;
  private reopening: Promise<ControllerConnection> | null = null;
  rpc: ControllerConnection;
  info: ControllerInfo;
  negotiated: number;

  constructor(
    private readonly dialer: Dialer,
    private readonly hooks: ConnectionHooks,
    greeted: Greeted,
    /** The options it connected with (a subscription opens its own connection with them). */
    readonly options: ConnectOptions,
  ) {
    this.rpc = greeted.rpc;
    this.info = greeted.controller;
    this.negotiated = greeted.protocol;
  }

  close(): void {
    this.closed = true;
    this.rpc.end();
  }

  /** Resolves once the connection is gone (the controller ended it), or TIMEOUT after `ms`. */
  async gone(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.rpc.isOpen) {
      if (Date.now() > deadline) throw new UpkError(ErrorCode.TIMEOUT, `the controller still answers after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * One request of the client protocol. On a connection that is gone it connects again first (for up
   * to `reconnectMs`). A request in flight when the controller goes away fails with INTERRUPTED (it
   * may have been carried out), except requests that only read, which are sent again.
   */
  async call<K extends keyof ClientMethods>(method: K, params: ClientMethods[K]['params']): Promise<ResultOf<ClientMethods, K>> {
    for (let attempt = 0; ; attempt++) {
      const rpc = await this.connection();
      try {
        return await rpc.request(method, params);
      } catch (err) {
        if (!(err instanceof UpkError) || err.code !== ErrorCode.INTERRUPTED) throw err;
        if (READS.has(method) && attempt === 0 && !this.closed) continue;
        throw new UpkError(
          ErrorCode.INTERRUPTED,
          `lost the connection to the controller before it answered ${method}${READS.has(method) ? '' : ': it may or may not have been carried out'}`,
          { cause: err },
        );
      }
    }
  }

  /** The open connection, or a new one (hello again) when it is gone. */
  private async connection(): Promise<ControllerConnection> {
    if (this.rpc.isOpen) return this.rpc;
    if (this.closed) throw new UpkError(ErrorCode.CONTROLLER_NOT_RUNNING, 'this client was closed');
    this.reopening ??= this.reopen().finally(() => (this.reopening = null));
    return this.reopening;
  }

  private async reopen(): Promise<ControllerConnection> {
    const limit = this.options.reconnectMs ?? RECONNECT_MS;
    if (limit <= 0)
      throw new UpkError(
        ErrorCode.CONTROLLER_NOT_RUNNING,
        'lost the connection to the controller (this client does not reconnect: reconnectMs 0)',
      );
    const deadline = Date.now() + limit;
    let last: unknown = null;
    for (let delay = RECONNECT_FIRST_MS; ; delay = Math.min(delay * 2, RECONNECT_MAX_MS)) {
      try {
        const greeted = await greet(
          this.dialer,
          { ...this.options, timeoutMs: Math.max(100, Math.min(deadline - Date.now(), 5000)) },
          this.hooks,
        );
        if (this.closed) {
          greeted.rpc.end();
          throw new UpkError(ErrorCode.CONTROLLER_NOT_RUNNING, 'this client was closed');
        }
        this.rpc = greeted.rpc;
        this.info = greeted.controller;
        this.negotiated = greeted.protocol;
        return this.rpc;
      } catch (err) {
        last = err;
      }
      if (this.closed) throw new UpkError(ErrorCode.CONTROLLER_NOT_RUNNING, 'this client was closed');
      if (Date.now() + delay > deadline) break;
      await new Promise((r) => setTimeout(r, delay));
    }
    const why = last instanceof Error ? `: ${last.message}` : '';
    throw new UpkError(
      ErrorCode.CONTROLLER_NOT_RUNNING,
      `lost the connection to the controller, and it did not answer again within ${limit} ms${why}`,
      { cause: last },
    );
  }
}

export class Client {
  private constructor(
    private readonly link: Link,
    /** Who asks, for a view made by onBehalfOf; null: the client itself. */
    private readonly asker: string | null,
  ) {}

  /** Connect to a controller and negotiate the protocol version. */
  static async connect(options: ConnectOptions = {}, hooks: ConnectionHooks = {}): Promise<Client> {
    const host = remoteHost(options);
    if (host !== null) {
      const env = options.env ?? process.env;
      const remote: ConnectOptions = { ...options, host };
      const sshConfig = options.sshConfig ?? (env.UPKEEPER_SSH_CONFIG || undefined);
      const remoteUpk = options.remoteUpk ?? (env.UPKEEPER_REMOTE_UPK || undefined);
      if (sshConfig !== undefined) remote.sshConfig = sshConfig;
      if (remoteUpk !== undefined) remote.remoteUpk = remoteUpk;
      const dialer = sshDialer(remote, env);
      return new Client(new Link(dialer, hooks, await greet(dialer, remote, hooks), remote), null);
    }
    const config = options.socket === undefined ? readControllerConfig(options) : null;
    const socket = options.socket ?? controllerSocket(config!);
    const dialer = socketDialer(socket);
    const greeted = await greet(dialer, options, hooks).catch((err: unknown) => {
      throw config === null ? err : notRunningError(err, config, options);
    });
    return new Client(new Link(dialer, hooks, greeted, { ...options, socket }), null);
  }

  /** The host this client reaches through ssh (ConnectOptions.host), or null: a controller of this machine. */
  get host(): string | null {
    return this.link.options.host ?? null;
  }

  /** The controller this client talks to, as it introduced itself (a new one after a reconnection). */
  get controller(): ControllerInfo {
    return this.link.info;
  }

  /** The protocol version negotiated with the controller. */
  get protocol(): number {
    return this.link.negotiated;
  }

  /** Who this view asks for (onBehalfOf), or null: the client asks for itself. */
  get requester(): string | null {
    return this.asker;
  }

  /**
   * A view of this client whose changes (start, stop, restart, reload, attach, action, signal,
   * reloadConfig, remove, stopController, shutdown) are recorded in the audit trail as asked by
   * `requester` (client_requests.requester), for a program that acts for others: `upk serve` names
   * the HTTP peer of each request. It shares this client's connection and does not own it (its
   * `close()` does nothing). Throws BAD_REQUEST for an empty requester, one longer than
   * REQUESTER_MAX (200) characters, or one with a control character.
   */
  onBehalfOf(requester: string): Client {
    const problem = typeof requester === 'string' ? requesterProblem(requester) : 'requester must be a string';
    if (problem !== null) throw new UpkError(ErrorCode.BAD_REQUEST, problem);
    return new Client(this.link, requester);
  }

  list(): Promise<ServiceStatus[]> {
    return this.call('list', {});
  }

  /** Status of the named services (all when none are named). */
  status(names?: Names): Promise<ServiceStatus[]> {
    return this.call('status', names === undefined ? {} : { services: list(names) });
  }

  /**
   * The statuses at a past time, as `list()` (or `status(names)`) would have answered then,
   * reconstructed by the controller from the audit history: state, desired state, pid, uptime
   * (`started`), restarts, failures, last exit, hold, health, and the configuration change in force
   * (`config`). A time to come, or a name that meant no service then, is a BAD_REQUEST or NO_SUCH_SERVICE.
   */
  async statusAt(time: TimeLike, names?: Names): Promise<StatusAtResult> {
    const at = iso(time, 'time');
    return this.call('status.at', names === undefined ? { time: at } : { time: at, services: list(names) });
  }

  /** Start services (`all` for every one); resolves when each outcome is known. */
  start(names: Names): Promise<OutcomeItem[]> {
    return this.change('start', { services: list(names) });
  }

  stop(names: Names): Promise<OutcomeItem[]> {
    return this.change('stop', { services: list(names) });
  }

  /** `overlap`: start each new run beside the old one, which drains once the new one is ready (RestartMode overlap, once). */
  restart(names: Names, options: { overlap?: boolean } = {}): Promise<OutcomeItem[]> {
    return this.change('restart', options.overlap === true ? { services: list(names), overlap: true } : { services: list(names) });
  }

  reload(names: Names): Promise<OutcomeItem[]> {
    return this.change('reload', { services: list(names) });
  }

  /**
   * Take over services' processes that run without upkeeper (found by PidFile or ProcessMatch) instead
   * of starting them; an outcome that is not `ok` says why none was found (nothing changed then).
   */
  attach(names: Names): Promise<OutcomeItem[]> {
    return this.change('attach', { services: list(names) });
  }

  /** Run a custom action, by name or by number (`00`..`31`). A non-zero exit is in the result, not an error. */
  action(service: string, action: string): Promise<ActionResult> {
    return this.change('action', { service, action });
  }

  /** Send a signal (`HUP`, `SIGUSR1`, `15`) to the service's process, or to its whole group. */
  signal(service: string, signal: string, options: { group?: boolean } = {}): Promise<{ pid: number }> {
    return this.change('signal', options.group === undefined ? { service, signal } : { service, signal, group: options.group });
  }

  /**
   * Events from the audit database, oldest first: the newest `limit` (default 10,000), or with
   * `afterId` the next `limit` by id. Large answers come in pages (see eventPages), gathered here.
   */
  async events(filter: EventFilter = {}): Promise<ServiceEvent[]> {
    const all: ServiceEvent[] = [];
    for await (const page of this.eventPages(filter)) for (const e of page) all.push(e);
    return all;
  }

  /**
   * The same events as `events()`, a page at a time (each within one message, about 4 MiB at most),
   * oldest first: for a long history without holding it all. `limit` may go up to 1,000,000.
   */
  async *eventPages(filter: EventFilter = {}): AsyncGenerator<ServiceEvent[]> {
    const q: EventQuery = {};
    if (filter.service !== undefined) q.service = filter.service;
    if (filter.types !== undefined) q.types = filter.types;
    if (filter.since !== undefined) q.since = iso(filter.since, 'since');
    if (filter.until !== undefined) q.until = iso(filter.until, 'until');
    if (filter.afterId !== undefined) q.afterId = filter.afterId;
    if (filter.limit !== undefined) q.limit = filter.limit;
    Object.assign(q, pickMatch(filter));
    if (this.protocol < 2) {
      yield await this.call('events', q); // a controller of protocol 1 answers in one message
      return;
    }
    let page = await this.call('events.page', q);
    for (;;) {
      yield page.events;
      if (page.next === null) return;
      page = await this.call('events.page', { ...q, cursor: page.next });
    }
  }

  /**
   * A metric per service and time bucket (restarts, failures, uptime %, MTBF and MTTR in seconds,
   * CPU % and RSS in bytes), computed by the controller from the events and usage records.
   */
  async trend(query: TrendOptions): Promise<TrendResult> {
    const bucketMs = typeof query.bucket === 'string' ? parseDuration(query.bucket) : query.bucket;
    if (bucketMs === null || !Number.isFinite(bucketMs)) {
      throw new UpkError(ErrorCode.BAD_REQUEST, `bucket: expected ${DURATION_WORDS}, got ${JSON.stringify(query.bucket)}`);
    }
    const q: TrendQuery = { metric: query.metric, bucketMs: Math.round(bucketMs), since: iso(query.since, 'since') };
    if (query.until !== undefined) q.until = iso(query.until, 'until');
    if (query.services !== undefined) q.services = list(query.services);
    return this.call('trend', q);
  }

  /** The last lines of a service's stdout and stderr files (default 20 each). */
  logs(service: string, options: { lines?: number } = {}): Promise<LogTail> {
    return this.call('logs', options.lines === undefined ? { service } : { service, lines: options.lines });
  }

  /**
   * Lines of services' output files as they are written (`upk logs -f`), as an async iterable of
   * `LogLine`s: `lines` lines of history of each stream first, then every new line, across log rotation
   * and controller restarts, until `signal` aborts or the loop breaks (`follow: false`: the history
   * only). The controller names the files; this process reads them itself. `all` follows every service.
   */
  followLogs(names: Names, options: FollowLogsOptions = {}): AsyncGenerator<LogLine> {
    if (this.host !== null) {
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `following logs reads the output files on the controller's machine, not through ssh (${this.host}): ask for one service's last lines (logs()), or run it there`,
      );
    }
    return followLogs(this, list(names), options);
  }

  /**
   * The runs of the OnEvent hooks, oldest first: which hook ran for which event, and how it ended
   * (`ok`, `failed`, `timed_out`; `skipped` by MinInterval, `dropped`, `interrupted`; `queued` and
   * `running` until it ends), with the end of its output.
   */
  async hookRuns(filter: HookRunFilter = {}): Promise<HookRun[]> {
    const q: HookRunQuery = {};
    if (filter.service !== undefined) q.service = filter.service;
    if (filter.hook !== undefined) q.hook = filter.hook;
    if (filter.since !== undefined) q.since = iso(filter.since, 'since');
    if (filter.limit !== undefined) q.limit = filter.limit;
    return this.call('hooks', q);
  }

  /**
   * A service's configuration changes as applied, oldest first: when, what applied it, the keys
   * changed, and each key's value before and after (changes recorded before upkeeper kept
   * configurations have their words only: `keys` null).
   */
  async configHistory(service: string, options: ConfigHistoryOptions = {}): Promise<ConfigHistoryRecord[]> {
    const q: ConfigHistoryQuery = { service };
    if (options.since !== undefined) q.since = iso(options.since, 'since');
    if (options.limit !== undefined) q.limit = options.limit;
    return this.call('config.history', q);
  }

  /** The audit trail, oldest first: the client requests that changed something, who asked (client, pid, user, requester), and how each ended. */
  async requests(filter: RequestFilter = {}): Promise<ClientRequestRecord[]> {
    const q: RequestQuery = {};
    if (filter.since !== undefined) q.since = iso(filter.since, 'since');
    if (filter.until !== undefined) q.until = iso(filter.until, 'until');
    if (filter.client !== undefined) q.client = filter.client;
    if (filter.service !== undefined) q.service = filter.service;
    if (filter.limit !== undefined) q.limit = filter.limit;
    return this.call('requests', q);
  }

  /**
   * The story of a service's last failure: its run, how it ended, its last output, what happened next,
   * and what fails with it (`correlated`, within ±`window`, default 30 s).
   */
  async why(service: string, options: { window?: number | string } = {}): Promise<FailureStory> {
    return this.call('why', options.window === undefined ? { service } : { service, windowMs: windowMs(options.window) });
  }

  /**
   * What fails together (docs/correlation.md): the events of other services within the window around
   * a service's last failures, by kind, against chance, strongest first; without `service`, the pairs
   * of services whose failures co-occur.
   */
  async correlate(options: CorrelateOptions = {}): Promise<CorrelationResult> {
    return this.call('correlate', correlateQuery(options));
  }

  /**
   * One chronological view of the audit: the events of every service (or of `services`), the
   * configuration changes (with the keys changed) and the client requests (who asked, how it ended)
   * between two times, interleaved in time order, and grouped into bursts (entries less than `gapMs`,
   * 10 s, apart). `truncated`: more matched than `limit`; the next page is `after: next`, with the
   * same services and the answer's `since` and `until`.
   */
  async timeline(options: TimelineOptions): Promise<TimelineResult> {
    const q: TimelineQuery = { since: iso(options.since, 'since') };
    if (options.until !== undefined) q.until = iso(options.until, 'until');
    if (options.services !== undefined) q.services = list(options.services);
    if (options.limit !== undefined) q.limit = options.limit;
    if (options.after !== undefined) q.after = options.after;
    return this.call('timeline', q);
  }

  /**
   * Make the controller read its configuration again: every file is checked first; on any problem
   * nothing changes (`ok` false, with the issues); else every change is applied and listed. With
   * `restart`, the running services whose changes wait for their next start are restarted (`restarted`).
   */
  reloadConfig(options: { restart?: boolean } = {}): Promise<ReloadResult> {
    return this.change('config.reload', options.restart === undefined ? {} : { restart: options.restart });
  }

  /** Stop and forget services the configuration files no longer define (their history stays). */
  remove(names: Names): Promise<ConfigChangeRecord[]> {
    return this.change('remove', { services: list(names) });
  }

  controllerStatus(): Promise<ControllerStatus> {
    return this.call('controller.status', {});
  }

  /** Stop the controller alone; buddies and services keep running. */
  async stopController(): Promise<void> {
    await this.change('controller.stop', {});
  }

  /** Stop every service and buddy, then the controller; resolves once the controller process is gone. */
  async shutdown(waitMs = 30_000): Promise<OutcomeItem[]> {
    const items = await this.change('shutdown', {});
    // Its pid is another machine's through ssh: there, the connection ends with the controller.
    if (this.host === null) await processGone(this.controller.pid, waitMs);
    else await this.link.gone(waitMs);
    return items;
  }

  /**
   * Events (and status changes) as they happen, as an async iterable. It reconnects by itself when
   * the controller goes away and resumes after the last event it delivered: none lost, none repeated.
   * Rejects only when the first connection fails (the controller is not running, say).
   */
  subscribe(filter: SubscribeFilter = {}): Promise<Subscription> {
    return Subscription.open((hooks) => Client.connect({ ...this.options, reconnectMs: 0 }, hooks), filter);
  }

  /** Close the connection; the client makes no request after this. (A view of onBehalfOf closes nothing.) */
  close(): void {
    if (this.asker === null) this.link.close();
  }

  /** @internal close at once, what was sent or not (a host that did not answer in time: its ssh ends now). */
  abort(): void {
    this.link.closed = true;
    this.link.rpc.destroy();
  }

  /** The options this client connected with (a subscription opens its own connection with them). */
  get options(): ConnectOptions {
    return this.link.options;
  }

  /**
   * @internal one request of the client protocol. On a connection that is gone it connects again
   * first (for up to `reconnectMs`). A request in flight when the controller goes away fails with
   * INTERRUPTED (it may have been carried out), except requests that only read, which are sent again.
   */
  call<K extends keyof ClientMethods>(method: K, params: ClientMethods[K]['params']): Promise<ResultOf<ClientMethods, K>> {
    return this.link.call(method, params);
  }

  /** A request that changes something, with this view's requester. */
  private change<K extends ChangeMethod>(method: K, params: ClientMethods[K]['params']): Promise<ResultOf<ClientMethods, K>> {
    return this.link.call(method, this.asker === null ? params : { ...params, requester: this.asker });
  }
}

interface Greeted {
  rpc: ControllerConnection;
  controller: ControllerInfo;
  protocol: number;
}

/**
 * How a Link opens its connection (again): to a Unix socket, or through ssh. `explain` turns a failure
 * before the controller answered into the error to give (ssh's exit status says more than the stream's end).
 */
type Dialer = (timeoutMs: number, hooks: ConnectionHooks) => Promise<Dialed>;
interface Dialed {
  rpc: ControllerConnection;
  explain?: (err: unknown) => Promise<unknown>;
}

function socketDialer(socket: string): Dialer {
  return async (timeoutMs, hooks) => ({ rpc: await open(socket, timeoutMs, hooks) });
}

function sshDialer(options: ConnectOptions, env: NodeJS.ProcessEnv): Dialer {
  const target = { host: options.host!, sshConfig: options.sshConfig, remoteUpk: options.remoteUpk };
  return (timeoutMs, hooks) => {
    const channel = new SshChannel(target, timeoutMs, env);
    return Promise.resolve({ rpc: rpcOver(channel, hooks), explain: (err) => channel.explain(err, timeoutMs) });
  };
}

/** The host of ConnectOptions.host, else $UPKEEPER_HOST (an empty one: none), checked (checkHost); null without, or with a `socket`. */
function remoteHost(options: ConnectOptions): string | null {
  if (options.socket !== undefined) return null;
  const host = options.host ?? ((options.env ?? process.env).UPKEEPER_HOST || undefined);
  return host === undefined ? null : checkHost(host);
}

/** Open a connection and say hello. */
async function greet(dialer: Dialer, options: ConnectOptions, hooks: ConnectionHooks): Promise<Greeted> {
  const { rpc, explain } = await dialer(options.timeoutMs ?? 5000, hooks);
  try {
    const hello = await rpc.request(
      'hello',
      {
        protocol: { min: PROTOCOL_MIN, max: PROTOCOL_MAX },
        client: options.client ?? basename(process.argv[1] ?? 'node'),
        pid: process.pid,
        user: safeUser(),
      },
      options.timeoutMs ?? 5000,
    );
    return { rpc, controller: hello.controller, protocol: hello.protocol };
  } catch (caught) {
    const err = explain === undefined ? caught : await explain(caught);
    rpc.destroy();
    if (err instanceof UpkError && err.code === ErrorCode.INTERRUPTED) {
      throw new UpkError(
        ErrorCode.CONTROLLER_NOT_RUNNING,
        `the controller closed the connection before it answered hello: it is stopping, or out of file descriptors (${err.message})`,
        { cause: err },
      );
    }
    throw err;
  }
}

async function open(socket: string, timeoutMs: number, hooks: ConnectionHooks): Promise<ControllerConnection> {
  const deadline = Date.now() + timeoutMs;
  let s: Socket;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      s = await connected(socket, deadline, timeoutMs);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof UpkError) throw err;
      if (code === 'ENOENT' || code === 'ECONNREFUSED')
        throw new UpkError(ErrorCode.CONTROLLER_NOT_RUNNING, `the controller is not running (no answer on ${socket})`, { cause: err });
      if (code !== 'EAGAIN') throw new UpkError(ErrorCode.PROTOCOL_ERROR, `${socket}: ${(err as Error).message}`, { cause: err });
      // Its queue of connections waiting to be accepted is full: the controller is busy. Wait, within the time given.
      if (Date.now() + pause >= deadline)
        throw new UpkError(
          ErrorCode.TIMEOUT,
          `${socket}: the controller accepted no connection within ${timeoutMs} ms (its queue of waiting connections is full: it is busy, or stopped)`,
          { cause: err },
        );
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
  return rpcOver(s, hooks);
}

/** The client's end of the protocol over a connected stream. */
function rpcOver(s: RpcStream, hooks: ConnectionHooks): ControllerConnection {
  const options: RpcOptions = { codec: msgpackCodec, maxFrameBytes: CLIENT_MAX_FRAME_BYTES };
  // One that does not pass its check is left out (libclient never prints): a newer controller's, say.
  if (hooks.notifications) options.onNotification = receiveTyped(hooks.notifications, clientNotificationValidators, () => undefined);
  if (hooks.onClose) options.onClose = () => hooks.onClose!();
  return new RpcConnection(s, options);
}

/** A connected socket, or the connect(2) error, or TIMEOUT at `deadline` (`timeoutMs` after the first try). */
function connected(socket: string, deadline: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(socketAddress(socket));
    const timer = setTimeout(
      () => {
        s.destroy();
        reject(new UpkError(ErrorCode.TIMEOUT, `no answer from ${socket} within ${timeoutMs} ms`));
      },
      Math.max(0, deadline - Date.now()),
    );
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

/** Wait until a process no longer exists (or `ms` pass: then TIMEOUT). */
export async function processGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new UpkError(ErrorCode.TIMEOUT, `process ${pid} is still running after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}
