// The HTTP API as one request handler, `(req, res, next?)` in Node's own http terms: it mounts in
// http.createServer and, as middleware, in the usual frameworks. Every answer is JSON; every error
// carries upkeeper's stable code with a fitting status (http-errors.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, UpkError, connect, type Client, type ConnectOptions } from '../../libclient/index.js';
import { isDashboardPath, serveDashboardFile } from './dashboard-files.js';
import { HttpError, HttpErrorCode, errorAnswer } from './http-errors.js';
import { requesterOf } from './requester.js';
import { routeArgs } from './route-args.js';
import type { RouteContext } from './route-types.js';
import { ROUTES, matchPath } from './routes.js';
import { bearerMatches } from './token.js';

/** Largest request body read (a change's JSON options are a few bytes). */
export const HTTP_BODY_MAX_BYTES = 64 * 1024;
/** How long a request body may take to arrive. */
export const HTTP_BODY_TIMEOUT_MS = 10_000;
/** Live streams (GET /api/stream) one handler serves at once: each holds a connection to the controller. */
export const HTTP_MAX_STREAMS = 64;
/** The paths of routes outside /api/ (`/metrics`): the handler answers these too, and leaves the rest to `next()`. */
const OUTSIDE_API = new Set(ROUTES.map((r) => r.path).filter((p) => !p.startsWith('/api/')));

export interface HandlerOptions {
  /** The controller's client; default: one connected as `upk` connects (ConnectOptions), at the first request. */
  client?: Client;
  /** How to reach the controller when no client is given (its socket, its configuration file). */
  connect?: ConnectOptions;
  /**
   * Ask this bearer token of every request (`Authorization: Bearer …`); null or absent: none (a 0600
   * Unix socket). Visible ASCII characters, no space (else createHandler throws BAD_REQUEST).
   */
  token?: string | null;
  /** Serve the dashboard's page at / (default true); false leaves / to the next handler (middleware). */
  dashboard?: boolean;
}

export type NextFunction = (err?: unknown) => void;

/** A request handler; `close()` ends the connection it opened to the controller. */
export interface UpkeeperHandler {
  (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void;
  close(): void;
}

/** Send a JSON answer (nothing once the answer has begun or the peer has gone). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/** The body a parser before the handler already read (express.json() and the like set `req.body`). */
function parsedBody(req: IncomingMessage): Record<string, unknown> {
  const body = (req as IncomingMessage & { body?: unknown }).body;
  if (body === undefined || body === null || (typeof body === 'string' && body.trim() === '')) return {};
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body))
    throw new HttpError('BAD_REQUEST', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The request's JSON body (an object; empty: {}), at most HTTP_BODY_MAX_BYTES, within HTTP_BODY_TIMEOUT_MS. */
function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  // Mounted after a body parser: the stream is read already, and would never end again.
  if (req.readableEnded) return Promise.resolve().then(() => parsedBody(req));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(
      () => fail(new HttpError('BAD_REQUEST', `the request body did not arrive within ${HTTP_BODY_TIMEOUT_MS / 1000} s`)),
      HTTP_BODY_TIMEOUT_MS,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.resume();
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > HTTP_BODY_MAX_BYTES)
        return fail(new HttpError(HttpErrorCode.PAYLOAD_TOO_LARGE, `the request body exceeds ${HTTP_BODY_MAX_BYTES} bytes`));
      chunks.push(chunk);
    });
    req.on('error', (err) => fail(err));
    req.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return reject(new HttpError('BAD_REQUEST', `the request body is not JSON: ${(err as Error).message}`));
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        return reject(new HttpError('BAD_REQUEST', 'the request body must be a JSON object'));
      resolve(value as Record<string, unknown>);
    });
  });
}

/**
 * A change asked by a page of another site: its browser sends an Origin that is not this server's.
 * (The bearer token already stops such a page; this also guards a Unix socket behind a proxy.)
 */
function foreignOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    const from = new URL(origin);
    // the Host header as a URL's host is (lowercase, the default port left out), to compare like with like
    return req.headers.host === undefined || from.host !== new URL(`${from.protocol}//${req.headers.host}`).host;
  } catch {
    return true;
  }
}

/** The request's URL; one that cannot be parsed is the client's fault (400), not ours. */
function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new HttpError('BAD_REQUEST', `not a URL: ${JSON.stringify(req.url)}`);
  }
}

/** True when the request carries `token`: exactly one Authorization header, with it as its bearer token. */
function authorized(req: IncomingMessage, token: string): boolean {
  const given = req.headersDistinct.authorization ?? [];
  // Node keeps the first of two headers: a proxy before it may have checked the other one
  return bearerMatches(token, given.length === 1 ? given[0] : undefined);
}

/** The API handler: routes under /api/ (routes.ts). */
export function createHandler(options: HandlerOptions = {}): UpkeeperHandler {
  let client: Client | null = options.client ?? null;
  let connecting: Promise<Client> | null = null;
  const ownClient = options.client === undefined;
  let streams = 0;
  const token = options.token ?? null;
  // A token no client can send in a header (a space, a character outside ASCII, none at all) would
  // lock every request out: refused here, where it is given.
  if (token !== null && (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)))
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      'createHandler: token must be one or more visible ASCII characters (no space): the characters a bearer token can be sent with',
    );

  const controller = (): Promise<Client> => {
    if (client) return Promise.resolve(client);
    connecting ??= connect({ client: 'upk serve', ...options.connect }).then(
      (c) => {
        client = c;
        connecting = null;
        return c;
      },
      (err: unknown) => {
        connecting = null;
        throw err;
      },
    );
    return connecting;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, next?: NextFunction): Promise<void> => {
    const url = requestUrl(req);
    const path = url.pathname;
    if (options.dashboard !== false && isDashboardPath(path)) {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new HttpError(HttpErrorCode.METHOD_NOT_ALLOWED, `${path} takes GET, not ${req.method ?? ''}`, { allow: 'GET, HEAD' });
      return serveDashboardFile(req, res, path);
    }
    if (!path.startsWith('/api/') && !OUTSIDE_API.has(path)) {
      if (next) return next();
      throw new HttpError(HttpErrorCode.NOT_FOUND, `no such route: ${path}`);
    }
    if (token !== null && !authorized(req, token))
      throw new HttpError(
        HttpErrorCode.UNAUTHORIZED,
        'a bearer token is required: Authorization: Bearer <the token in StateDir/http-token>',
        {
          'www-authenticate': 'Bearer realm="upkeeper"',
        },
      );
    const matching = ROUTES.map((r) => ({ route: r, params: matchPath(r.path, path) })).filter((m) => m.params !== null);
    if (matching.length === 0) throw new HttpError(HttpErrorCode.NOT_FOUND, `no such route: ${req.method ?? ''} ${path}`);
    // Every GET but a stream also takes HEAD (RFC 9110): the same status and headers, no body (Node drops it).
    const headable = (r: (typeof ROUTES)[number]): boolean => r.method === 'GET' && !('stream' in r);
    const hit = matching.find((m) => m.route.method === req.method || (req.method === 'HEAD' && headable(m.route)));
    if (!hit) {
      const allow = [...new Set(matching.flatMap((m) => (headable(m.route) ? ['GET', 'HEAD'] : [m.route.method])))].join(', ');
      throw new HttpError(HttpErrorCode.METHOD_NOT_ALLOWED, `${path} takes ${allow}, not ${req.method ?? ''}`, { allow });
    }
    const route = hit.route;
    if (route.method === 'POST' && foreignOrigin(req))
      throw new HttpError(HttpErrorCode.FORBIDDEN, `a change from another site (Origin ${req.headers.origin ?? ''}) is refused`);
    const body = route.method === 'POST' ? await readBody(req) : {};
    const args = routeArgs(route, url.searchParams, req.headers, body);
    if ('answer' in route) {
      // each change is recorded with who asked for it (client_requests.requester)
      const requester = requesterOf(req);
      const context: RouteContext = { client: () => controller().then((c) => c.onBehalfOf(requester)), params: hit.params!, args };
      const answer = await route.run(context);
      sendJson(res, answer.status ?? 200, answer.body);
      return;
    }
    const context: RouteContext = { client: controller, params: hit.params!, args };
    if ('text' in route) await route.serve({ ...context, req, res });
    else {
      if (streams >= HTTP_MAX_STREAMS) throw new HttpError('LIMIT_REACHED', `at most ${HTTP_MAX_STREAMS} live streams at once`);
      streams++;
      try {
        await route.serve({ ...context, req, res });
      } finally {
        streams--;
      }
    }
  };

  const handler = ((req, res, next) => {
    serve(req, res, next).catch((err: unknown) => {
      const { status, body, headers } = errorAnswer(err);
      sendJson(res, status, body, headers);
    });
  }) as UpkeeperHandler;
  handler.close = () => {
    if (ownClient) client?.close();
    client = null;
  };
  return handler;
}
