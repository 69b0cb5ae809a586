// GET /api/stream: live events and statuses as Server-Sent Events, on a libclient subscription. An
// event carries its id, so a browser's EventSource that reconnects sends Last-Event-ID and resumes
// after it, as a subscription resumes from an event id: nothing lost, nothing twice.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, UpkError, type Client, type Notice, type SubscribeFilter } from '../../libclient/index.js';

/** A comment line this often keeps proxies and browsers from closing a quiet stream. */
export const SSE_KEEPALIVE_MS = 15_000;
/** What may wait for a reader that does not read; past it the stream ends (the reader resumes from its last id). */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;
/** How long a browser waits before it reconnects (the `retry` field). */
const SSE_RETRY_MS = 2000;

/** The subscription a stream asks: query service (repeatable), type (comma-separated), and where to resume. */
export function streamFilter(req: IncomingMessage, query: URLSearchParams): SubscribeFilter {
  const filter: SubscribeFilter = {};
  const services = query.getAll('service').filter((s) => s !== '');
  if (services.length > 0) filter.services = services;
  const types = query.get('type');
  if (types !== null) filter.types = types.split(',').filter((t) => t !== '');
  // Last-Event-ID (a reconnecting EventSource) wins over the query's `after` (a first connection).
  const header = req.headers['last-event-id'];
  const resume = (Array.isArray(header) ? header[0] : header) ?? query.get('after') ?? undefined;
  if (resume !== undefined && resume !== '') {
    if (!/^\d{1,15}$/.test(resume.trim()))
      throw new UpkError(ErrorCode.BAD_REQUEST, `Last-Event-ID or after: expected an event id, got ${JSON.stringify(resume)}`);
    filter.sinceId = Number(resume.trim());
  }
  return filter;
}

/** One notice as an SSE message: `event:` its kind, `data:` its JSON (one line), `id:` for events. */
export function sseMessage(n: Notice): string {
  switch (n.kind) {
    case 'event':
      return `id: ${n.event.id}\nevent: event\ndata: ${JSON.stringify(n.event)}\n\n`;
    case 'status':
      return `event: status\ndata: ${JSON.stringify(n.status)}\n\n`;
    case 'removed':
      return `event: removed\ndata: ${JSON.stringify({ service: n.service, uuid: n.uuid })}\n\n`;
    case 'problems':
      return `event: problems\ndata: ${JSON.stringify(n.problems)}\n\n`;
    case 'controller':
      return `event: controller\ndata: ${JSON.stringify(n.state === 'lost' ? { state: n.state, reason: n.reason ?? null } : { state: n.state, controller: n.controller })}\n\n`;
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
  const sse = openSse(req, res);
  void sse.gone.then(() => subscription.close());
  try {
    for await (const notice of subscription) if (!sse.send(sseMessage(notice))) break;
  } finally {
    subscription.close();
    sse.end();
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
  const abort = new AbortController();
  const sse = openSse(req, res);
  void sse.gone.then(() => abort.abort());
  try {
    for await (const line of client.followLogs(service, { lines, signal: abort.signal }))
      if (!sse.send(`event: line\ndata: ${JSON.stringify(line)}\n\n`)) break;
  } catch (err) {
    if (!abort.signal.aborted) sse.send(`event: error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
  } finally {
    abort.abort();
    sse.end();
  }
}
