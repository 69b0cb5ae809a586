// GET /api/stream: live events and statuses as Server-Sent Events, on a libclient subscription. An
// event carries its id, so a browser's EventSource that reconnects sends Last-Event-ID and resumes
// after it, as a subscription resumes from an event id: nothing lost, nothing twice.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ErrorCode,
  UpkError,
  type Client,
  type ControllerInfo,
  type ControllerProblem,
  type LogLine,
  type Notice,
  type ServiceEvent,
  type ServiceStatus,
  type SubscribeFilter,
} from '../../libclient/index.js';
import type { Args } from './route-args.js';

/** A comment line this often keeps proxies and browsers from closing a quiet stream. */
export const SSE_KEEPALIVE_MS = 15_000;
/** What may wait for a reader that does not read; past it the stream ends (the reader resumes from its last id). */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;
/** How long a browser waits before it reconnects (the `retry` field). */
const SSE_RETRY_MS = 2000;

/**
 * What `GET /api/stream` sends: each message's `event:` is one of these names, its `data:` the JSON
 * of the value (the OpenAPI document describes the stream with this type).
 */
export interface EventStreamMessages {
  /** An event, as stored; the message's `id:` is its id, for `Last-Event-ID`. */
  event: ServiceEvent;
  /** A service's status: each one's when the stream begins, then every change. */
  status: ServiceStatus;
  /** A service is no longer configured (removed, or replaced by a new identity under its id). */
  removed: { service: string; uuid: string };
  /** What is wrong with the controller's own work (empty when nothing is): at the start, and at every change. */
  problems: ControllerProblem[];
  /** The controller went away (`reason`: `stop` or `shutdown` when it said so), or is back; the stream goes on. */
  controller: { state: 'lost'; reason: 'stop' | 'shutdown' | null } | { state: 'back'; controller: ControllerInfo };
}

/** What `GET /api/services/NAME/logs/stream` sends, as EventStreamMessages says for the event stream. */
export interface LogStreamMessages {
  /** One line of the service's output. */
  line: LogLine;
  /** Following the output failed (the stream ends). */
  error: { message: string };
}

/** SSE messages of one stream's kinds (M): `event:` a name, `data:` the JSON of its value (one line), `id:` when given. */
const messages =
  <M>() =>
  <K extends keyof M & string>(event: K, data: M[K], id?: number): string =>
    `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const eventMessage = messages<EventStreamMessages>();
const logMessage = messages<LogStreamMessages>();

/** The subscription a stream asks: query service (repeatable), type (comma-separated), and where to resume. */
export function streamFilter(args: Args): SubscribeFilter {
  const filter: SubscribeFilter = {};
  const services = args.strs('service');
  if (services.length > 0) filter.services = services;
  if (args.has('type')) filter.types = args.strs('type');
  // Last-Event-ID (a reconnecting EventSource) wins over the query's `after` (a first connection).
  const resume = args.int('Last-Event-ID') ?? args.int('after');
  if (resume !== undefined) filter.sinceId = resume;
  return filter;
}

/** One notice as an SSE message: `event:` its kind, `data:` its JSON (one line), `id:` for events. */
export function sseMessage(n: Notice): string {
  switch (n.kind) {
    case 'event':
      return eventMessage('event', n.event, n.event.id);
    case 'status':
      return eventMessage('status', n.status);
    case 'removed':
      return eventMessage('removed', { service: n.service, uuid: n.uuid });
    case 'problems':
      return eventMessage('problems', n.problems);
    case 'controller':
      return eventMessage(
        'controller',
        n.state === 'lost' ? { state: n.state, reason: n.reason ?? null } : { state: n.state, controller: n.controller },
      );
  }
}

/** An open Server-Sent Events answer: `send` is false once the reader has gone or lags by SSE_MAX_BUFFERED_BYTES. */
interface SseAnswer {
  send(message: string): boolean;
  /** Resolves when the reader has gone (or the answer ended). */
  readonly gone: Promise<void>;
  end(): void;
}

function openSse(req: IncomingMessage, res: ServerResponse): SseAnswer {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // nginx: do not hold the stream back
    'x-content-type-options': 'nosniff',
  });
  res.write(`retry: ${SSE_RETRY_MS}\n: upkeeper event stream\n\n`);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
  let markGone!: () => void;
  const gone = new Promise<void>((resolve) => (markGone = resolve));
  const end = (): void => {
    clearInterval(keepalive);
    if (!res.writableEnded) res.end();
    markGone();
  };
  res.once('close', end);
  req.once('close', end);
  return {
    // A reader that does not read: past the bound the answer ends, and the reader resumes from its last id.
    send: (message) => {
      if (res.writableEnded || res.destroyed) return false;
      res.write(message);
      return res.writableLength <= SSE_MAX_BUFFERED_BYTES;
    },
    gone,
    end,
  };
}

/** Serve one stream of events and statuses until the reader goes, or reads too slowly (then it ends: the reader resumes). */
export async function serveStream(client: Client, req: IncomingMessage, res: ServerResponse, filter: SubscribeFilter): Promise<void> {
  const subscription = await client.subscribe(filter);
  const answer = openSse(req, res);
  void answer.gone.then(() => subscription.close());
  try {
    for await (const notice of subscription) if (!answer.send(sseMessage(notice))) break;
  } finally {
    subscription.close();
    answer.end();
  }
}

/** Serve a service's output lines as they are written (`upk logs -f`), `lines` of history first. */
export async function serveLogStream(
  client: Client,
  req: IncomingMessage,
  res: ServerResponse,
  service: string,
  lines: number,
): Promise<void> {
  await client.logs(service, { lines: 1 }); // an unknown service is a 404 before the stream begins
  // Through ssh (upk serve --host) the output files are the host's: a 400 before the stream begins.
  if (client.host !== null)
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      `following logs reads the output files on the controller's machine, not through ssh (${client.host}): ask for the last lines (GET /api/services/${service}/logs), or run it there`,
    );
  const abort = new AbortController();
  const answer = openSse(req, res);
  void answer.gone.then(() => abort.abort());
  try {
    for await (const line of client.followLogs(service, { lines, signal: abort.signal })) if (!answer.send(logMessage('line', line))) break;
  } catch (err) {
    if (!abort.signal.aborted) answer.send(logMessage('error', { message: (err as Error).message }));
  } finally {
    abort.abort();
    answer.end();
  }
}
