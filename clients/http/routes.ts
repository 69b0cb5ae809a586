// The routes of the HTTP API: one table. Each route's method, path, query parameters, body fields and
// answer are declared here, once: the handler checks requests against them, and the OpenAPI document
// (scripts/openapi.mjs, openapi-document.ts) is made from them and the types they name. Reads are GET;
// every change is POST (never GET: a link, a prefetch or a crawler must not stop a service).
import {
  CONFIG_HISTORY_MAX,
  CORRELATION_FAILURES,
  CORRELATION_FAILURES_MAX,
  CORRELATION_LIMIT,
  CORRELATION_LIMIT_MAX,
  ErrorCode,
  EVENTS_PAGE_MAX,
  LOG_TAIL_MAX_LINES,
  REQUESTS_MAX,
  TIMELINE_DEFAULT,
  TIMELINE_MAX,
  TREND_METRICS,
  UpkError,
  checkConfiguration,
  isValidServiceId,
  type CorrelateOptions,
  type EventFilter,
  type OutcomeItem,
  type RequestFilter,
  type TimelineOptions,
} from '../../libclient/index.js';
import { HTTP_STATUS } from './http-errors.js';
import { serveLogStream, serveStream, streamFilter } from './event-stream.js';
import { METRICS_CONTENT_TYPE, scrape } from './metrics.js';
import { readOpenApi } from './openapi.js';
import type { Answers, Route, RouteAnswer } from './route-types.js';

/** The path parameters, as every route that has one means it. */
export const PATH_PARAMS: Readonly<Record<string, string>> = {
  name: 'A service id (`web`, `acme::worker`, `web@2`), URL-encoded; one that is no service id is 400 BAD_REQUEST.',
  action: "The name of one of the service's custom actions (CustomActions).",
};

/** One service's outcome: 200 when it went as asked, else the status of its error, the outcome in the body either way. */
function outcome([item]: OutcomeItem[]): RouteAnswer<Answers['OutcomeAnswer']> {
  if (!item) throw new UpkError(ErrorCode.INTERNAL, 'the controller answered no outcome');
  if (item.ok) return { body: { outcome: item } };
  const error = item.error ?? { code: ErrorCode.ACTION_FAILED, message: item.message };
  return { status: HTTP_STATUS[error.code] ?? 500, body: { outcome: item, error } };
}

/** Query parameters several routes take. */
const SINCE = { type: 'string', time: true, description: 'An ISO 8601 time: from then on (inclusive).' } as const;
const UNTIL = { type: 'string', time: true, description: 'An ISO 8601 time: up to then (inclusive).' } as const;
const EVENT_TYPES = { type: 'string', commas: true, description: 'Event types, comma-separated (default: every type).' } as const;
/** Event ids: up to 15 digits. */
const EVENT_ID_MAX = 999_999_999_999_999;

export const ROUTES: Route[] = [
  {
    id: 'list',
    method: 'GET',
    path: '/api/services',
    summary: 'every service with its status',
    answer: 'ServiceList',
    run: async ({ client }) => ({ body: { services: await (await client()).list() } }),
  },
  {
    id: 'status',
    method: 'GET',
    path: '/api/services/:name',
    summary: "one service's status",
    answer: 'ServiceAnswer',
    run: async ({ client, params }) => {
      const found = await (await client()).status(params.name);
      // `all`, or a service with Instances, names several: this route answers one.
      if (found.length > 1)
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `${params.name} names ${found.length} services (${found.map((s) => s.name).join(', ')}): this takes one service; GET /api/services lists them all`,
        );
      const [service] = found;
      if (!service) throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no such service: ${params.name}`);
      return { body: { service } };
    },
  },
  {
    id: 'start',
    method: 'POST',
    path: '/api/services/:name/start',
    summary: 'start a service',
    description: 'Its prerequisites first; waits until it is ready, or failed.',
    answer: 'OutcomeAnswer',
    run: async ({ client, params }) => outcome(await (await client()).start(params.name!)),
  },
  {
    id: 'stop',
    method: 'POST',
    path: '/api/services/:name/stop',
    summary: 'stop a service',
    description: 'Waits until nothing of it is left.',
    answer: 'OutcomeAnswer',
    run: async ({ client, params }) => outcome(await (await client()).stop(params.name!)),
  },
  {
    id: 'restart',
    method: 'POST',
    path: '/api/services/:name/restart',
    summary: 'restart a service',
    body: { overlap: { type: 'boolean', description: 'The new run beside the old one until it is ready (RestartMode overlap).' } },
    answer: 'OutcomeAnswer',
    run: async ({ client, params, args }) => {
      const overlap = args.bool('overlap');
      return outcome(await (await client()).restart(params.name!, overlap === undefined ? {} : { overlap }));
    },
  },
  {
    id: 'reload',
    method: 'POST',
    path: '/api/services/:name/reload',
    summary: 'reload a service (run its reload action)',
    description: "The outcome's `action` says how the reload script ended.",
    answer: 'OutcomeAnswer',
    run: async ({ client, params }) => outcome(await (await client()).reload(params.name!)),
  },
  {
    id: 'signal',
    method: 'POST',
    path: '/api/services/:name/signal',
    summary: 'send a signal to a service',
    body: {
      signal: { type: 'string', required: true, description: 'A signal name or number, as "HUP", "SIGHUP" or "1".' },
      group: { type: 'boolean', description: "To the service's whole process group (default: its main process alone)." },
    },
    answer: 'SignalAnswer',
    run: async ({ client, params, args }) => {
      const group = args.bool('group');
      return { body: await (await client()).signal(params.name!, args.str('signal')!, group === undefined ? {} : { group }) };
    },
  },
  {
    id: 'action',
    method: 'POST',
    path: '/api/services/:name/actions/:action',
    summary: "run a service's custom action; its exit code and output",
    answer: 'ActionAnswer',
    run: async ({ client, params }) => ({ body: { result: await (await client()).action(params.name!, params.action!) } }),
  },
  {
    id: 'why',
    method: 'GET',
    path: '/api/services/:name/why',
    summary: 'why the service failed: its last failure and what led to it (upk why)',
    query: { window: { type: 'string', description: 'For `failure.correlated`: the window, as `30s`, `2m` (default 30s).' } },
    answer: 'FailureStory',
    run: async ({ client, params, args }) => {
      const window = args.str('window');
      return { body: await (await client()).why(params.name!, window === undefined ? {} : { window }) };
    },
  },
  {
    id: 'logs',
    method: 'GET',
    path: '/api/services/:name/logs',
    summary: "the last lines of the service's output files",
    query: {
      lines: { type: 'integer', minimum: 1, maximum: LOG_TAIL_MAX_LINES, description: 'Lines of each stream (default 20).' },
    },
    answer: 'LogTail',
    run: async ({ client, params, args }) => {
      const lines = args.int('lines');
      return { body: await (await client()).logs(params.name!, lines === undefined ? {} : { lines }) };
    },
  },
  {
    id: 'followLogs',
    method: 'GET',
    path: '/api/services/:name/logs/stream',
    summary: "the service's output lines as they are written (upk logs -f), the last ones first",
    description:
      "Read from its output files by `upk serve` itself, on the controller's machine (refused with 400 BAD_REQUEST by `upk serve --host`, whose controller is on another machine). Lines carry no id: a reconnection asks `lines` of history again.",
    query: {
      lines: {
        type: 'integer',
        minimum: 0,
        maximum: LOG_TAIL_MAX_LINES,
        default: 10,
        description: 'Lines of history of each stream first.',
      },
    },
    stream: 'LogStreamMessages',
    serve: async ({ client, req, res, params, args }) => serveLogStream(await client(), req, res, params.name!, args.int('lines')!),
  },
  {
    id: 'events',
    method: 'GET',
    path: '/api/events',
    summary: 'events, oldest first',
    query: {
      service: { type: 'string', description: "Only this service's." },
      type: EVENT_TYPES,
      since: SINCE,
      until: UNTIL,
      after: {
        type: 'integer',
        minimum: 0,
        maximum: EVENT_ID_MAX,
        description: 'Only events after this id: the next page, after the `last` of the previous answer.',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: EVENTS_PAGE_MAX,
        default: 100,
        description: 'At most this many: the newest that match.',
      },
    },
    answer: 'EventList',
    run: async ({ client, args }) => {
      const filter: EventFilter = { limit: args.int('limit')! };
      const service = args.str('service');
      if (service !== undefined) filter.service = service;
      if (args.has('type')) filter.types = args.strs('type');
      const since = args.str('since');
      if (since !== undefined) filter.since = since;
      const until = args.str('until');
      if (until !== undefined) filter.until = until;
      const after = args.int('after');
      if (after !== undefined) filter.afterId = after;
      const events = await (await client()).events(filter);
      return { body: { events, last: events.at(-1)?.id ?? null } };
    },
  },
  {
    id: 'stream',
    method: 'GET',
    path: '/api/stream',
    summary: 'live events and statuses, as Server-Sent Events (at most 64 streams at once: 429 LIMIT_REACHED)',
    description:
      'Goes on across a restart or crash of the controller. A comment line (`: keepalive`) every 15 s; a reader that lets 1 MiB wait for it is cut off, and resumes from its last event id.',
    query: {
      service: { type: 'string', repeat: true, description: 'Only these services (default: every service).' },
      type: { ...EVENT_TYPES, description: 'Only events of these types, comma-separated (statuses always come).' },
      after: {
        type: 'integer',
        minimum: 0,
        maximum: EVENT_ID_MAX,
        description: 'Resume after this event id: the stored events first, then live ones (default: from now).',
      },
    },
    headers: {
      'Last-Event-ID': {
        type: 'integer',
        minimum: 0,
        maximum: EVENT_ID_MAX,
        description: 'What a reconnecting EventSource sends: as `after`, and it wins over it.',
      },
    },
    stream: 'EventStreamMessages',
    serve: async ({ client, req, res, args }) => {
      const filter = streamFilter(args);
      return serveStream(await client(), req, res, filter);
    },
  },
  {
    id: 'trend',
    method: 'GET',
    path: '/api/trend',
    summary: 'a metric over time, in buckets (upk trend)',
    query: {
      metric: { type: 'string', required: true, enum: TREND_METRICS, description: 'What to chart.' },
      bucket: { type: 'string', required: true, description: 'The length of a bucket, as `1h`, `15m`, `1d` (at least 1 minute).' },
      since: { ...SINCE, required: true },
      until: { ...UNTIL, description: 'An ISO 8601 time: up to then (default: now).' },
      service: { type: 'string', repeat: true, description: 'Only these services (default: every configured service).' },
    },
    answer: 'TrendResult',
    run: async ({ client, args }) => {
      const metric = TREND_METRICS.find((m) => m === args.str('metric'))!;
      const until = args.str('until');
      const services = args.strs('service');
      return {
        body: await (
          await client()
        ).trend({
          metric,
          bucket: args.str('bucket')!,
          since: args.str('since')!,
          ...(until === undefined ? {} : { until }),
          ...(services.length > 0 ? { services } : {}),
        }),
      };
    },
  },
  // The audit as an investigation tool: what changed (a service's configuration history), who did it (the audit trail).
  {
    id: 'configHistory',
    method: 'GET',
    path: '/api/services/:name/config-history',
    summary: "the service's configuration changes, each key's value before and after (upk config-history)",
    description:
      'Changes recorded before upkeeper kept configurations have their words only (`keys` null). Values are as configured: `Environment` included.',
    query: {
      since: SINCE,
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: CONFIG_HISTORY_MAX,
        default: 100,
        description: 'At most this many: the newest.',
      },
    },
    answer: 'ConfigHistory',
    run: async ({ client, params, args }) => {
      const since = args.str('since');
      const options = { limit: args.int('limit')!, ...(since === undefined ? {} : { since }) };
      return { body: { changes: await (await client()).configHistory(params.name!, options) } };
    },
  },
  {
    id: 'audit',
    method: 'GET',
    path: '/api/audit',
    summary: 'the audit trail: the client requests that changed something, who asked, how each ended (upk audit)',
    query: {
      since: SINCE,
      until: UNTIL,
      client: { type: 'string', description: 'Only requests whose client or requester contains this text (any letter case).' },
      service: {
        type: 'string',
        description: 'Only requests about this service, and those about no one service (config.reload, shutdown).',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: REQUESTS_MAX,
        default: 100,
        description: 'At most this many: the newest that match.',
      },
    },
    answer: 'AuditTrail',
    run: async ({ client, args }) => {
      const filter: RequestFilter = { limit: args.int('limit')! };
      for (const key of ['since', 'until', 'client', 'service'] as const) {
        const value = args.str(key);
        if (value !== undefined) filter[key] = value;
      }
      return { body: { requests: await (await client()).requests(filter) } };
    },
  },
  {
    id: 'timeline',
    method: 'GET',
    path: '/api/timeline',
    summary:
      'what happened, all services together: events, configuration changes and client requests in time order, in bursts (upk timeline)',
    description:
      'Bursts: entries less than `gapMs` (10 s) apart. `truncated`: more matched than `limit`; the next page: the same query with `after` = `next`, and `since` and `until` as the answer gives them.',
    query: {
      since: { ...SINCE, required: true },
      until: { ...UNTIL, description: 'An ISO 8601 time: up to then (default: now).' },
      service: {
        type: 'string',
        repeat: true,
        description: 'Only these services (default: every one); the requests about no one service (config.reload, shutdown) are kept.',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: TIMELINE_MAX,
        default: TIMELINE_DEFAULT,
        description: 'At most this many entries: the oldest.',
      },
      after: { type: 'string', description: "A truncated answer's `next`: the entries after those it carried (each entry once)." },
    },
    answer: 'TimelineResult',
    run: async ({ client, args }) => {
      const options: TimelineOptions = { since: args.str('since')!, limit: args.int('limit')! };
      const until = args.str('until');
      if (until !== undefined) options.until = until;
      const after = args.str('after');
      if (after !== undefined) options.after = after;
      const services = args.strs('service');
      if (services.length > 0) options.services = services;
      return { body: await (await client()).timeline(options) };
    },
  },
  {
    id: 'statusAt',
    method: 'GET',
    path: '/api/status',
    summary: 'every service as it was at a past time (upk list --at), reconstructed from the audit history',
    description:
      'State, desired state, pid, `started`, restarts, failures, last exit, hold and health, and the configuration change in force (`config`); `usage` is the usage record of the minute before (docs/controller.md).',
    query: {
      at: { type: 'string', required: true, time: true, description: 'An ISO 8601 time, not yet to come.' },
      service: { type: 'string', repeat: true, description: 'Only these services (default: every service that existed then).' },
    },
    answer: 'StatusAtResult',
    run: async ({ client, args }) => {
      const services = args.strs('service');
      return { body: await (await client()).statusAt(args.str('at')!, services.length > 0 ? services : undefined) };
    },
  },
  {
    id: 'correlate',
    method: 'GET',
    path: '/api/correlate',
    summary: "what fails together: other services' events near a service's failures, against chance (upk correlate)",
    description:
      'Without `service`, the pairs of services whose failures co-occur. The statistic is defined in docs/correlation.md: rows ranked by `score`, P(X ≥ k) for X binomial (n, p).',
    query: {
      service: { type: 'string', description: 'The service whose failures to look around (default: every pair of services).' },
      window: {
        type: 'string',
        description: "How far before or after a failure another service's event counts, as `30s`, `2m` (default 30s).",
      },
      since: { ...SINCE, description: 'An ISO 8601 time: from then on (default: 7 days ago).' },
      until: { ...UNTIL, description: 'An ISO 8601 time: up to then (default: now).' },
      failures: {
        type: 'integer',
        minimum: 1,
        maximum: CORRELATION_FAILURES_MAX,
        default: CORRELATION_FAILURES,
        description: 'How many of the last failures count.',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: CORRELATION_LIMIT_MAX,
        default: CORRELATION_LIMIT,
        description: 'The strongest this many rows.',
      },
    },
    answer: 'CorrelationResult',
    run: async ({ client, args }) => {
      const options: CorrelateOptions = { failures: args.int('failures')!, limit: args.int('limit')! };
      for (const key of ['service', 'window', 'since', 'until'] as const) {
        const value = args.str(key);
        if (value !== undefined) options[key] = value;
      }
      return { body: await (await client()).correlate(options) };
    },
  },
  {
    id: 'controllerStatus',
    method: 'GET',
    path: '/api/controller',
    summary: "the controller's status",
    answer: 'ControllerStatus',
    run: async ({ client }) => ({ body: await (await client()).controllerStatus() }),
  },
  {
    id: 'checkConfig',
    method: 'GET',
    path: '/api/config/check',
    summary: 'check the configuration files the controller reads (upk check-config); touches nothing',
    description:
      'Every issue with its file and key; an answer with `ok: false` is still 200. Read by `upk serve` itself: refused with 400 BAD_REQUEST by `upk serve --host` (the files are on the host).',
    answer: 'ConfigurationCheck',
    run: async ({ client }) => {
      const c = await client();
      // The files are read here, by `upk serve`: those of a host reached through ssh are not.
      if (c.host !== null)
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `checking the configuration reads its files on the controller's machine, not through ssh (${c.host}): run upk check-config there`,
        );
      const { configFile } = await c.controllerStatus();
      return { body: checkConfiguration(configFile === null ? {} : { config: configFile }) };
    },
  },
  {
    id: 'reloadConfig',
    method: 'POST',
    path: '/api/config/reload',
    summary: 'read the configuration files again and apply them',
    body: { restart: { type: 'boolean', description: 'Then restart the running services whose changes wait for their next start.' } },
    answer: 'ReloadResult',
    run: async ({ client, args }) => {
      const restart = args.bool('restart');
      return { body: await (await client()).reloadConfig(restart === undefined ? {} : { restart }) };
    },
  },
  {
    id: 'metrics',
    method: 'GET',
    path: '/metrics',
    summary: "Prometheus' text format: the controller's and every service's figures",
    description:
      'A controller that does not answer within 3 s gives `upkeeper_controller_up 0` and no other upkeeper metric, with status 200.',
    text: METRICS_CONTENT_TYPE,
    serve: async ({ client, req, res }) => {
      const text = await scrape(client);
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
  },
  {
    id: 'openapi',
    method: 'GET',
    path: '/api/openapi.json',
    summary: 'this document: the OpenAPI 3.1 description of the API',
    answer: 'OpenApiDocument',
    run: () => Promise.resolve({ body: readOpenApi() }),
  },
];

/** A route's path as a pattern; `:name` must be a valid service id. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    let g: string;
    try {
      g = decodeURIComponent(got[i]!);
    } catch {
      return null;
    }
    if (w.startsWith(':')) {
      if (g === '') return null;
      params[w.slice(1)] = g;
    } else if (w !== g) return null;
  }
  if (params.name !== undefined && !isValidServiceId(params.name))
    throw new UpkError(ErrorCode.BAD_REQUEST, `not a service name: ${JSON.stringify(params.name)}`);
  return params;
}
