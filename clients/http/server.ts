// The HTTP API served (`upk serve`): on a Unix socket (0600, the default: StateDir/http.sock) and/or a
// TCP port (loopback unless told otherwise; every request needs the bearer token in StateDir/http-token).
import { createServer, type Server } from 'node:http';
import { connect as netConnect } from 'node:net';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, STATE_DIR, UpkError, readControllerConfig } from '../../libclient/index.js';
import type { ConnectOptions } from '../../libclient/index.js';
import { createHandler, sendJson } from './handler.js';
import { HTTP_STATUS, HttpErrorCode } from './http-errors.js';
import { loadOrCreateToken } from './token.js';

/** Connections one listener holds at once; more wait in the kernel's backlog. */
const MAX_CONNECTIONS = 256;
/** A request's headers must arrive within this, and the whole request within REQUEST_TIMEOUT_MS. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

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

/** Listen on a Unix socket only the user may open: a stale socket file (nobody answers) is replaced. */
async function listenSocket(server: Server, path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = netConnect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new UpkError(ErrorCode.BAD_REQUEST, `${path}: another program answers on this socket (another upk serve?)`);
  try {
    unlinkSync(path);
  } catch {
    /* none */
  }
  const umask = process.umask(0o177); // created 0600: never a moment when others may connect
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
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

/** Serve until SIGTERM or SIGINT, then close every listener and connection. */
export async function serve(opts: ServeOptions): Promise<void> {
  const config = readControllerConfig(opts.config === undefined ? {} : { config: opts.config });
  const socketPath = opts.socket ?? (opts.listen === undefined ? join(config.stateDir, STATE_DIR.httpSocket) : undefined);
  const tcp = opts.listen === undefined ? null : parseListen(opts.listen);
  const tokenFile = opts.tokenFile ?? join(config.stateDir, STATE_DIR.httpToken);
  const token = tcp ? loadOrCreateToken(tokenFile) : null;
  const servers: Server[] = [];
  const handlers = [
    createHandler({ connect: opts.connect, token: null }),
    ...(tcp ? [createHandler({ connect: opts.connect, token })] : []),
  ];
  const make = (handler: (typeof handlers)[number]): Server => {
    const server = createServer((req, res) =>
      handler(req, res, () =>
        sendJson(res, HTTP_STATUS.NOT_FOUND, { error: { code: HttpErrorCode.NOT_FOUND, message: `no such route: ${req.url ?? ''}` } }),
      ),
    );
    server.maxConnections = MAX_CONNECTIONS;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    servers.push(server);
    return server;
  };
  const where: string[] = [];
  if (socketPath !== undefined) {
    await listenSocket(make(handlers[0]!), socketPath);
    where.push(`unix:${socketPath}`);
  }
  if (tcp) {
    const port = await listenTcp(make(handlers.at(-1)!), tcp.host, tcp.port);
    const host = tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host;
    where.push(`http://${host}:${port} (bearer token in ${tokenFile})`);
  }
  opts.onListening(where);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      for (const s of servers) {
        s.close();
        s.closeAllConnections();
      }
      for (const h of handlers) h.close();
      if (socketPath !== undefined)
        try {
          unlinkSync(socketPath);
        } catch {
          /* gone */
        }
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
