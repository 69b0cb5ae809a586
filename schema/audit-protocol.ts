// The audit as an investigation tool, in the client protocol: a service's configuration history
// (`config.history`) and the audit trail of client requests (`requests`). Their params, records and
// validators; client-protocol.ts adds them to ClientMethods and clientValidators.
import { asObject, bad, optInt, optStr, str, optIsoTime } from './validate.js';

/** Most records one `config.history` answer carries (and the largest `limit`). */
export const CONFIG_HISTORY_MAX = 10_000;
/** Most rows one `requests` answer carries (and the largest `limit`). */
export const REQUESTS_MAX = 10_000;

/** `config.history`: the newest `limit` changes (default 100) of a service, since a time; oldest first. */
export interface ConfigHistoryQuery {
  service: string;
  /** ISO 8601. */
  since?: string;
  limit?: number;
}

/** One key's value before and after a change; `null`: not set (or, with `beforeRecorded` false, not known). */
export interface ConfigValueChange {
  /** The configuration key, as written in the files: `ExecStart`, `Environment`. */
  key: string;
  before: unknown;
  after: unknown;
}

/** One configuration change applied to a service (a row of config_changes). Times ISO 8601 UTC. */
export interface ConfigHistoryRecord {
  id: number;
  time: string;
  /** The service id at the time. */
  service: string;
  uuid: string | null;
  change: 'added' | 'changed' | 'removed' | 'kept';
  /** What applied it: `start` (the controller's start), `reload`, `SIGHUP`, `remove`. */
  trigger: string;
  /** The change in words, as `upk reload-config` told it. */
  detail: string | null;
  /** The keys whose values changed; null for a change recorded before configurations were kept (its words only). */
  keys: string[] | null;
  /**
   * Each changed key's value before and after, from the configuration this change applied and the one
   * the service had before (the previous change recorded with its configuration); empty for `added`,
   * `removed` and `kept`, and for a change recorded before configurations were kept.
   */
  values: ConfigValueChange[];
  /**
   * False when the configuration before this change is not recorded (the change before it was
   * recorded with its words only, or retention deleted it): each `before` is then null, unknown.
   */
  beforeRecorded: boolean;
}

/** `requests`: the newest `limit` client requests (default 100) that match; oldest first. */
export interface RequestQuery {
  /** ISO 8601 times, inclusive. */
  since?: string;
  until?: string;
  /** Only requests whose client or requester contains this text (any letter case). */
  client?: string;
  /**
   * Only requests about this service (named as for `events`), and those about no one service
   * (`service` null: config.reload, shutdown, controller.stop, remove), which concern every service.
   */
  service?: string;
  limit?: number;
}

/** One client request that changed something (a row of client_requests). Times ISO 8601 UTC. */
export interface ClientRequestRecord {
  id: number;
  time: string;
  /** The program name the client gave (`upk`, `upk serve (http)`), its pid and user. */
  client: string;
  pid: number | null;
  user: string | null;
  /** Who asked, for a client that acts for others (`upk serve`: the HTTP peer); null otherwise. */
  requester: string | null;
  /** The request's method: start, stop, restart, reload, attach, action, signal, shutdown, controller.stop, config.reload, remove. */
  request: string;
  /** The service acted on (its id), or null for a request about no one service (shutdown, controller.stop, config.reload, remove). */
  service: string | null;
  /** The request's parameters. */
  params: unknown;
  /** True: it succeeded; false: it failed (or was interrupted); null: it has not ended. */
  ok: boolean | null;
  outcome: string | null;
  finished: string | null;
  durationMs: number | null;
}

export interface AuditMethods {
  /** A service's configuration changes, each with its keys' values before and after. */
  'config.history': { params: ConfigHistoryQuery; result: ConfigHistoryRecord[] };
  /** The audit trail: the client requests that changed something, who asked, and how each ended. */
  requests: { params: RequestQuery; result: ClientRequestRecord[] };
}

export const auditValidators: { [K in keyof AuditMethods]: (params: unknown) => AuditMethods[K]['params'] } = {
  'config.history': (p) => {
    const o = asObject(p);
    const q: ConfigHistoryQuery = { service: str(o, 'service') };
    const since = optIsoTime(o, 'since');
    const limit = optInt(o, 'limit', 1);
    if (since !== undefined) q.since = since;
    if (limit !== undefined) q.limit = Math.min(limit, CONFIG_HISTORY_MAX);
    return q;
  },
  requests: (p) => {
    const o = asObject(p);
    const q: RequestQuery = {};
    const since = optIsoTime(o, 'since');
    const until = optIsoTime(o, 'until');
    const client = optStr(o, 'client');
    const service = optStr(o, 'service');
    const limit = optInt(o, 'limit', 1);
    if (client === '') bad('client must not be empty');
    if (service === '') bad('service must not be empty');
    if (since !== undefined && until !== undefined && Date.parse(until) <= Date.parse(since)) bad('until must be after since');
    if (since !== undefined) q.since = since;
    if (until !== undefined) q.until = until;
    if (client !== undefined) q.client = client;
    if (service !== undefined) q.service = service;
    if (limit !== undefined) q.limit = Math.min(limit, REQUESTS_MAX);
    return q;
  },
};
