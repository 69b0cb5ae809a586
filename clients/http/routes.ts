// The routes of the HTTP API under /api/: one table, each a libclient call. Reads are GET; every
// change is POST (never GET: a link, a prefetch or a crawler must not stop a service).
import {
  ErrorCode,
  EVENTS_PAGE_MAX,
  LOG_TAIL_MAX_LINES,
  UpkError,
  checkConfiguration,
  isValidServiceId,
  type Client,
  type EventFilter,
  type OutcomeItem,
  type TrendMetric,
} from '../../libclient/index.js';
import { HTTP_STATUS } from './http-errors.js';

/** What a route is given: the controller's client, the path's parameters, the query and the JSON body. */
export interface RouteContext {
  client: Client;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
}

/** A route's answer: the body as JSON, and its status (200 unless said). */
export interface RouteAnswer {
  status?: number;
  body: unknown;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Under /api: `:name` is a service id, `:action` a custom action's name. */
  path: string;
  summary: string;
  run(c: RouteContext): Promise<RouteAnswer>;
}

const bad = (message: string): UpkError => new UpkError(ErrorCode.BAD_REQUEST, message);

/** An integer query parameter within [min, max], or undefined when absent. */
export function intQuery(query: URLSearchParams, key: string, min: number, max: number): number | undefined {
  const text = query.get(key);
  if (text === null) return undefined;
  if (!/^-?\d+$/.test(text)) throw bad(`query parameter ${key}: expected an integer, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw bad(`query parameter ${key}: expected ${min} to ${max}, got ${n}`);
  return n;
}

function strParam(query: URLSearchParams, key: string): string | undefined {
  return query.get(key) ?? undefined;
}

function optBoolBody(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(`body field ${key}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** One service's outcome: 200 when it went as asked, else the status of its error, the outcome in the body either way. */
function outcome([item]: OutcomeItem[]): RouteAnswer {
  if (!item) throw new UpkError(ErrorCode.INTERNAL, 'the controller answered no outcome');
  if (item.ok) return { body: { outcome: item } };
  const error = item.error ?? { code: ErrorCode.ACTION_FAILED, message: item.message };
  return { status: HTTP_STATUS[error.code] ?? 500, body: { outcome: item, error } };
}

export const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/services',
    summary: 'every service with its status',
    run: async ({ client }) => ({ body: { services: await client.list() } }),
  },
  {
    method: 'GET',
    path: '/services/:name',
    summary: "one service's status",
    run: async ({ client, params }) => ({ body: { service: (await client.status(params.name))[0] ?? null } }),
  },
  {
    method: 'POST',
    path: '/services/:name/start',
    summary: 'start a service',
    run: async ({ client, params }) => outcome(await client.start(params.name!)),
  },
  {
    method: 'POST',
    path: '/services/:name/stop',
    summary: 'stop a service',
    run: async ({ client, params }) => outcome(await client.stop(params.name!)),
  },
  {
    method: 'POST',
    path: '/services/:name/restart',
    summary: 'restart a service (body {"overlap": true}: the new run beside the old one until it is ready)',
    run: async ({ client, params, body }) => {
      const overlap = optBoolBody(body, 'overlap');
      return outcome(await client.restart(params.name!, overlap === undefined ? {} : { overlap }));
    },
  },
  {
    method: 'POST',
    path: '/services/:name/reload',
    summary: 'reload a service (its reload action)',
    run: async ({ client, params }) => outcome(await client.reload(params.name!)),
  },
  {
    method: 'POST',
    path: '/services/:name/signal',
    summary: 'send a signal (body {"signal": "HUP", "group": false})',
    run: async ({ client, params, body }) => {
      if (typeof body.signal !== 'string' || body.signal === '') throw bad('body field signal: expected a signal name or number, as "HUP"');
      const group = optBoolBody(body, 'group');
      return { body: await client.signal(params.name!, body.signal, group === undefined ? {} : { group }) };
    },
  },
  {
    method: 'POST',
    path: '/services/:name/actions/:action',
    summary: "run a service's custom action; its exit code and output",
    run: async ({ client, params }) => ({ body: { result: await client.action(params.name!, params.action!) } }),
  },
  {
    method: 'GET',
    path: '/services/:name/why',
    summary: 'why the service failed: its last failure and what led to it',
    run: async ({ client, params }) => ({ body: await client.why(params.name!) }),
  },
  {
    method: 'GET',
    path: '/services/:name/logs',
    summary: "the last lines of the service's output files (query lines: of each stream, default 20, at most 1,000)",
    run: async ({ client, params, query }) => {
      const lines = intQuery(query, 'lines', 1, LOG_TAIL_MAX_LINES);
      return { body: await client.logs(params.name!, lines === undefined ? {} : { lines }) };
    },
  },
  {
    method: 'GET',
    path: '/events',
    summary: 'events, oldest first: query service, type (comma-separated), since, until, after (an event id), limit (default 100)',
    run: async ({ client, query }) => {
      const filter: EventFilter = { limit: intQuery(query, 'limit', 1, EVENTS_PAGE_MAX) ?? 100 };
      const service = strParam(query, 'service');
      if (service !== undefined) filter.service = service;
      const types = strParam(query, 'type');
      if (types !== undefined) filter.types = types.split(',').filter((t) => t !== '');
      const since = strParam(query, 'since');
      if (since !== undefined) filter.since = since;
      const until = strParam(query, 'until');
      if (until !== undefined) filter.until = until;
      const after = intQuery(query, 'after', 0, Number.MAX_SAFE_INTEGER);
      if (after !== undefined) filter.afterId = after;
      const events = await client.events(filter);
      return { body: { events, last: events.at(-1)?.id ?? null } };
    },
  },
  {
    method: 'GET',
    path: '/trend',
    summary: 'a metric over time in buckets: query metric, bucket (as 1h), since, until, service (repeatable)',
    run: async ({ client, query }) => {
      const metric = strParam(query, 'metric');
      const bucket = strParam(query, 'bucket');
      const since = strParam(query, 'since');
      if (metric === undefined || bucket === undefined || since === undefined)
        throw bad('query parameters metric, bucket and since are required');
      const until = strParam(query, 'until');
      const services = query.getAll('service');
      return {
        body: await client.trend({
          metric: metric as TrendMetric,
          bucket,
          since,
          ...(until === undefined ? {} : { until }),
          ...(services.length > 0 ? { services } : {}),
        }),
      };
    },
  },
  {
    method: 'GET',
    path: '/controller',
    summary: "the controller's status",
    run: async ({ client }) => ({ body: await client.controllerStatus() }),
  },
  {
    method: 'GET',
    path: '/config/check',
    summary: 'check the configuration files the controller reads (upk check-config): every issue, with file and key; touches nothing',
    run: async ({ client }) => {
      const { configFile } = await client.controllerStatus();
      return { body: checkConfiguration(configFile === null ? {} : { config: configFile }) };
    },
  },
  {
    method: 'POST',
    path: '/config/reload',
    summary: 'read the service files again and apply them (body {"restart": true}: restart changed services)',
    run: async ({ client, body }) => {
      const restart = optBoolBody(body, 'restart');
      return { body: await client.reloadConfig(restart === undefined ? {} : { restart }) };
    },
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
  if (params.name !== undefined && !isValidServiceId(params.name)) throw bad(`not a service name: ${JSON.stringify(params.name)}`);
  return params;
}
