// The controller's client socket: MessagePack frames, `hello` first (within HELLO_DEADLINE_MS), then
// typed requests; at most `maxConnections` clients at once.
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  CLIENT_MAX_BUFFERED_BYTES,
  CLIENT_MAX_FRAME_BYTES,
  CLIENT_HANDSHAKE,
  CLIENT_STALL_MS,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  clientValidators,
  type ClientConnection,
  type ClientMethods,
  type HelloParams,
} from '../schema/client-protocol.js';
import { msgpackCodec } from '../schema/codec-msgpack.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { RpcConnection, dispatchTyped, type Handlers } from '../schema/rpc.js';
import type { Logger } from './log.js';
import { closePrivate, listenPrivate } from '../schema/private-socket.js';

/** Who is on the other end of a connection, as it said in `hello`. */
export interface ClientContext {
  client: string;
  pid: number | null;
  user: string | null;
  protocol: number | null;
  connection: ClientConnection;
}

/** The protocol version both ends speak, or null. */
export function negotiate(range: HelloParams['protocol']): number | null {
  const best = Math.min(PROTOCOL_MAX, range.max);
  return best >= Math.max(PROTOCOL_MIN, range.min) ? best : null;
}

/** Client connections served at once at most: 1,000, or a quarter of the open-file limit if that is less. */
export const CLIENT_CONNECTIONS_MAX = 1000;
/**
 * Requests of one client handled at once; the next ones wait until one is answered and what waits to
 * be written to it is under CLIENT_MAX_BUFFERED_BYTES. So what one client can make the controller
 * hold is bounded: that, plus the answers of these requests (each at most a frame).
 */
export const CLIENT_REQUESTS_IN_FLIGHT_MAX = 4;
/** Past the limit, a connection is told why in answer to its first request, within this long. */
const REFUSAL_DEADLINE_MS = 1000;
/** Past the limit by this many more, connections are closed at once, unanswered. */
const REFUSAL_BACKLOG = 64;
/**
 * Connections that may wait for the controller to accept them (capped by net.core.somaxconn): room
 * for every client it serves and more, so that a burst of clients (a thousand `upk status` from
 * cron at once) while it is busy waits instead of failing with EAGAIN.
 */
const ACCEPT_BACKLOG = 4096;
/** A refusal is logged at most this often. */
const REFUSAL_LOG_MS = 60_000;

/** This process's limit of open files (the soft one, which Node raises to the hard one at start). */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : Infinity;
  } catch {
    return Infinity;
  }
}

export class ClientServer {
  private readonly server: Server;
  private readonly connections = new Set<ClientConnection>();
  private refusing = 0;
  private lastRefusalLog = 0;
  readonly maxConnections: number;

  constructor(
    private readonly socketPath: string,
    private readonly handlers: Handlers<ClientMethods, ClientContext>,
    private readonly log: Logger,
    maxConnections = Math.min(CLIENT_CONNECTIONS_MAX, Math.max(16, Math.floor(openFileLimit() / 4))),
  ) {
    this.maxConnections = maxConnections;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** The controller holds the instance lock, so a socket file left here is stale. */
  listen(): Promise<void> {
    return listenPrivate(this.server, this.socketPath, ACCEPT_BACKLOG);
  }

  /** Stop accepting; let answers already written reach their clients, then close. */
  close(): void {
    closePrivate(this.server, this.connections, this.socketPath);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.maxConnections) return this.refuse(socket);
    const ctx: ClientContext = { client: 'unknown', pid: null, user: null, protocol: null, connection: null! };
    const connection: ClientConnection = new RpcConnection(socket, {
      codec: msgpackCodec,
      maxFrameBytes: CLIENT_MAX_FRAME_BYTES,
      maxBufferedBytes: CLIENT_MAX_BUFFERED_BYTES,
      stallMs: CLIENT_STALL_MS,
      maxInFlight: CLIENT_REQUESTS_IN_FLIGHT_MAX,
      handshake: CLIENT_HANDSHAKE,
      onRequest: (method, params) => dispatchTyped(this.handlers, clientValidators, method, params, ctx),
      onClose: (reason) => {
        this.connections.delete(connection);
        if (reason) this.log.warn(`client ${ctx.client} (pid ${ctx.pid ?? '?'}) dropped: ${reason.message}`);
      },
    });
    ctx.connection = connection;
    this.connections.add(connection);
  }

  /** Too many clients: answer the first request with LIMIT_REACHED, then close. */
  private refuse(socket: Socket): void {
    const now = Date.now();
    if (now - this.lastRefusalLog > REFUSAL_LOG_MS) {
      this.lastRefusalLog = now;
      this.log.warn(`refusing client connections: ${this.connections.size} are open, the most served at once`);
    }
    if (this.refusing >= REFUSAL_BACKLOG) {
      socket.destroy();
      return;
    }
    this.refusing += 1;
    const max = this.maxConnections;
    new RpcConnection(socket, {
      codec: msgpackCodec,
      maxFrameBytes: CLIENT_MAX_FRAME_BYTES,
      handshake: { ...CLIENT_HANDSHAKE, deadlineMs: REFUSAL_DEADLINE_MS },
      onRequest: () => {
        throw new UpkError(ErrorCode.LIMIT_REACHED, `the controller already serves ${max} client connections, the most it serves at once`);
      },
      onClose: () => (this.refusing -= 1),
    });
  }
}
