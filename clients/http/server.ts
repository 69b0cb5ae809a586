// The HTTP API served (`upk serve`): on a Unix socket (0600, the default: StateDir/http.sock) and/or a
// TCP port (loopback unless told otherwise; every request needs the bearer token in StateDir/http-token).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, STATE_DIR, UpkError, checkHost, readControllerConfig } from '../../libclient/index.js';
import type { ConnectOptions } from '../../libclient/index.js';
import { answerClientErrors } from './client-error.js';
import { createHandler, sendJson } from './handler.js';
import { HTTP_STATUS } from './http-errors.js';
import { loadOrCreateToken } from './token.js';

/** Connections one listener holds at once; Node closes any more as soon as it accepts them. */
const MAX_CONNECTIONS = 256;
/** A request's headers must arrive within this, and the whole request within REQUEST_TIMEOUT_MS (checked every second). */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const TIMEOUT_CHECK_MS = 1000;
/**
 * Requests one listener serves at once, and one connection (pipelined): more are answered 429 at
 * once. Each answer is held whole until the peer takes it: this bounds the memory they hold.
 */
const MAX_IN_FLIGHT = 64;
const MAX_IN_FLIGHT_PER_CONNECTION = 4;
/** The live streams (handler.ts bounds them itself). */
const STREAM_PATH = /^\/api\/(?:stream|services\/[^/?]+\/logs\/stream)(?:\?|$)/;
/** A peer must take a whole answer within this once it is ready, else its connection is closed. */
const ANSWER_TAKEN_MS = 30_000;
/** On SIGTERM or SIGINT, requests in flight have this long to be answered (streams are ended at once). */
export const STOP_GRACE_MS = 5000;
/** The longest path a Unix socket may have (sun_path, with its NUL); Node would cut a longer one short. */
const SOCKET_PATH_MAX_BYTES = 107;

export interface ServeOptions {
  /** The controller configuration file (default as upk finds it). */
  config?: string;
  socket?: string;
  listen?: string;
  tokenFile?: string;
  connect: ConnectOptions;
  /** Told where it listens, once it does. */
  onListening(where: string[]): void;
}

/** "8080", ":8080", "127.0.0.1:8080", "[::1]:8080" → host and port; the host defaults to loopback. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535)
    throw new UpkError(ErrorCode.BAD_REQUEST, `--listen ${JSON.stringify(text)}: expected [HOST:]PORT, as 127.0.0.1:8080 or 8080`);
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

/** Listen on a Unix socket only the user may open: a stale socket file (nobody answers) is replaced, never another file. */
async function listenSocket(server: Server, path: string): Promise<void> {
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX_BYTES)
    throw new UpkError(ErrorCode.BAD_REQUEST, `${path}: too long for a Unix socket (at most ${SOCKET_PATH_MAX_BYTES} bytes)`);
  let isSocket: boolean | null = null;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    /* none */
  }
  if (isSocket === false) throw new UpkError(ErrorCode.BAD_REQUEST, `${path}: exists and is not a socket; it is left as it is`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = netConnect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new UpkError(ErrorCode.BAD_REQUEST, `${path}: another program answers on this socket (another upk serve?)`);
  if (isSocket)
    try {
      unlinkSync(path);
    } catch {
      /* gone */
    }
  const umask = process.umask(0o177); // created 0600: never a moment when others may connect
  try {
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => reject(new UpkError(ErrorCode.BAD_REQUEST, `cannot listen on ${path}: ${err.message}`));
      server.once('error', failed);
      server.listen(path, () => {
        server.off('error', failed);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
}

function listenTcp(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new UpkError(
          ErrorCode.BAD_REQUEST,
          `cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

/** The host whose controller is served through ssh (ConnectOptions.host, else $UPKEEPER_HOST, as connect() reads it), checked; or null. */
function remoteHostOf(options: ConnectOptions): string | null {
  if (options.socket !== undefined) return null;
  const host = options.host ?? ((options.env ?? process.env).UPKEEPER_HOST || undefined);
  return host === undefined ? null : checkHost(host);
}

/**
 * The default Unix socket in this machine's StateDir: `http.sock`, or `http@HOST.sock` for a host
 * through ssh (every character but letters, digits, `.`, `_`, `-` and `@` made `_`), so that serving
 * a host never takes the place of serving this machine's controller, nor another host's.
 */
export function defaultSocketName(host: string | null): string {
  return host === null ? STATE_DIR.httpSocket : `http@${host.replace(/[^A-Za-z0-9._@-]/g, '_')}.sock`;
}

/** Serve until SIGTERM or SIGINT, then close every listener and connection. */
export async function serve(opts: ServeOptions): Promise<void> {
  const config = readControllerConfig(opts.config === undefined ? {} : { config: opts.config });
  const host = remoteHostOf(opts.connect);
  const socketPath = opts.socket ?? (opts.listen === undefined ? join(config.stateDir, defaultSocketName(host)) : undefined);
  const tcp = opts.listen === undefined ? null : parseListen(opts.listen);
  const tokenFile = opts.tokenFile ?? join(config.stateDir, STATE_DIR.httpToken);
  const token = tcp ? loadOrCreateToken(tokenFile) : null;
  const servers: Server[] = [];
  const bounds: InFlight[] = [];
  const handlers = [
    // Named in the audit trail (client_requests.client) by the listener the request came in on.
    createHandler({ connect: { ...opts.connect, client: 'upk serve (unix socket)' }, token: null }),
    ...(tcp ? [createHandler({ connect: { ...opts.connect, client: 'upk serve (http)' }, token })] : []),
  ];
  const make = (handler: (typeof handlers)[number]): Server => {
    const bounded = boundedInFlight();
    bounds.push(bounded);
    const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS }, (req, res) => {
      if (!bounded.admit(req, res)) return;
      handler(req, res); // without a next(), what is not its own is answered 404 NOT_FOUND
    });
    server.on('connection', bounded.track);
    // a request the parser refuses: answered (431, 400, 408), then a lingering close (client-error.ts)
    server.on('clientError', answerClientErrors({ headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS }));
    server.maxConnections = MAX_CONNECTIONS;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    servers.push(server);
    return server;
  };
  const where: string[] = [];
  let ownSocket = false;
  const removeSocket = (): void => {
    if (ownSocket && socketPath !== undefined)
      try {
        unlinkSync(socketPath);
      } catch {
        /* gone */
      }
    ownSocket = false;
  };
  const stop = (): void => {
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    for (const h of handlers) h.close();
    removeSocket();
  };
  /** Take no more requests; answer those in flight (within STOP_GRACE_MS), end the streams; then stop. */
  const stopGracefully = async (): Promise<void> => {
    removeSocket();
    for (const b of bounds) b.stopTaking();
    for (const s of servers) {
      s.close();
      s.closeIdleConnections();
    }
    for (const b of bounds) b.endStreams();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(bounds.map((b) => b.drained())),
      new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS))),
    ]);
    clearTimeout(timer);
    stop();
  };
  // The signals are listened to from before the first listener opens until serve() returns, by one
  // listener each that stays: a signal that comes during start-up stops it once it listens (its
  // socket removed), and a second one is never lost. (Swapping listeners between the two signals
  // closed Node's signal watcher for a moment: a second signal that came with the first was dropped,
  // or, in that moment, killed the process by default.)
  let signals = 0;
  let onSignal = (): void => undefined;
  const signalled = (): void => {
    signals++;
    onSignal();
  };
  process.on('SIGTERM', signalled);
  process.on('SIGINT', signalled);
  try {
    try {
      if (socketPath !== undefined) {
        await listenSocket(make(handlers[0]!), socketPath);
        ownSocket = true;
        where.push(`unix:${socketPath}`);
      }
      if (tcp) {
        const port = await listenTcp(make(handlers.at(-1)!), tcp.host, tcp.port);
        const host = tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host;
        where.push(`http://${host}:${port} (bearer token in ${tokenFile})`);
      }
    } catch (err) {
      stop(); // a listener that could not open: close the others, or this process would serve on, half of it
      throw err;
    }
    opts.onListening(where);
    await new Promise<void>((resolve) => {
      let graceful: Promise<void> | null = null;
      onSignal = () => {
        if (signals >= 2) {
          // a second signal stops at once
          stop();
          resolve();
        } else graceful ??= stopGracefully().then(resolve);
      };
      if (signals > 0) onSignal(); // signalled while it started
    });
  } finally {
    process.removeListener('SIGTERM', signalled);
    process.removeListener('SIGINT', signalled);
  }
}

/**
 * Requests in flight, at most MAX_IN_FLIGHT on a listener and MAX_IN_FLIGHT_PER_CONNECTION on a
 * connection (more are answered 429 at once), and each answer taken within ANSWER_TAKEN_MS.
 */
interface InFlight {
  track(socket: Socket): void;
  admit(req: IncomingMessage, res: ServerResponse): boolean;
  /** Resolves once no request but streams is in flight. */
  drained(): Promise<void>;
  /** End every live stream (its reader resumes elsewhere, from its last id). */
  endStreams(): void;
  /**
   * Take no new request: one that comes on a connection still open (kept alive, or pipelined) is
   * answered 503 SHUTTING_DOWN, and every connection closes after its answer.
   */
  stopTaking(): void;
}

function boundedInFlight(): InFlight {
  const perSocket = new Map<Socket, number>();
  /** Of those, the ones counted towards the listener's total (streams are not). */
  const counts = new Map<Socket, number>();
  let total = 0;
  const streams = new Set<ServerResponse>();
  /** Each connection's last answer admitted, until it is closed (answers go out in order). */
  const last = new Map<Socket, ServerResponse>();
  let closing = false;
  let onDrained: (() => void) | null = null;
  return {
    stopTaking: () => {
      closing = true;
      // a connection's last answer, if not begun yet, says `Connection: close`, and the connection
      // closes after it (not after an earlier one: the answers pipelined behind it would be lost)
      for (const res of last.values()) if (!res.headersSent) res.shouldKeepAlive = false;
    },
    drained: () => (total === 0 ? Promise.resolve() : new Promise((resolve) => (onDrained = resolve))),
    endStreams: () => {
      for (const res of streams) {
        res.end();
        res.socket?.end(); // after what is written: the connection would stay open to the reader
      }
    },
    track: (socket) => {
      perSocket.set(socket, 0);
      socket.once('close', () => {
        total -= counts.get(socket) ?? 0;
        counts.delete(socket);
        perSocket.delete(socket);
        if (total === 0) onDrained?.();
      });
    },
    admit: (req, res) => {
      const socket = req.socket;
      if (closing) {
        const message = 'upk serve is stopping: it takes no new request';
        sendJson(res, HTTP_STATUS.SHUTTING_DOWN, { error: { code: ErrorCode.SHUTTING_DOWN, message } }, { connection: 'close' });
        return false;
      }
      const mine = perSocket.get(socket) ?? 0;
      // A live stream holds no answer in memory (its own bound is 1 MiB, 64 streams): it does not
      // count towards the listener's requests in flight, or a few dashboards would lock out the API.
      const counted = !STREAM_PATH.test(req.url ?? '') ? 1 : 0;
      if ((counted && total >= MAX_IN_FLIGHT) || mine >= MAX_IN_FLIGHT_PER_CONNECTION) {
        const message = `too many requests at once (at most ${MAX_IN_FLIGHT}, ${MAX_IN_FLIGHT_PER_CONNECTION} on one connection)`;
        sendJson(res, HTTP_STATUS.LIMIT_REACHED, { error: { code: ErrorCode.LIMIT_REACHED, message } });
        return false;
      }
      perSocket.set(socket, mine + 1);
      counts.set(socket, (counts.get(socket) ?? 0) + counted);
      total += counted;
      if (!counted) streams.add(res);
      last.set(socket, res);
      let taken: NodeJS.Timeout | undefined;
      res.once('prefinish', () => (taken = setTimeout(() => socket.destroy(), ANSWER_TAKEN_MS).unref()));
      res.once('close', () => {
        clearTimeout(taken);
        streams.delete(res);
        if (last.get(socket) === res) last.delete(socket);
        const n = perSocket.get(socket);
        if (n !== undefined) {
          // (else the connection closed: counted off already)
          perSocket.set(socket, n - 1);
          counts.set(socket, (counts.get(socket) ?? 0) - counted);
          total -= counted;
        }
        if (total === 0) onDrained?.();
      });
      return true;
    },
  };
}
