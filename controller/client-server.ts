// The controller's client socket: MessagePack frames, `hello` first, then typed requests.
import { createServer, type Server, type Socket } from 'node:net';
import {
  CLIENT_MAX_FRAME_BYTES,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  clientValidators,
  type ClientMethods,
  type HelloParams,
} from '../schema/client-protocol.js';
import { msgpackCodec } from '../schema/codec-msgpack.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { RpcConnection, dispatchTyped, type Handlers } from '../schema/rpc.js';
import type { Logger } from './log.js';
import { closePrivate, listenPrivate } from '../system/private-socket.js';

/** Who is on the other end of a connection, as it said in `hello`. */
export interface ClientContext {
  client: string;
  pid: number | null;
  user: string | null;
  protocol: number | null;
  connection: RpcConnection;
}

/** The protocol version both ends speak, or null. */
export function negotiate(range: HelloParams['protocol']): number | null {
  const best = Math.min(PROTOCOL_MAX, range.max);
  return best >= Math.max(PROTOCOL_MIN, range.min) ? best : null;
}

export class ClientServer {
  private readonly server: Server;
  private readonly connections = new Set<RpcConnection>();

  constructor(
    private readonly socketPath: string,
    private readonly handlers: Handlers<ClientMethods, ClientContext>,
    private readonly log: Logger,
  ) {
    this.server = createServer((socket) => this.accept(socket));
  }

  /** The controller holds the instance lock, so a socket file left here is stale. */
  listen(): Promise<void> {
    return listenPrivate(this.server, this.socketPath);
  }

  /** Stop accepting; let answers already written reach their clients, then close. */
  close(): void {
    closePrivate(this.server, this.connections, this.socketPath);
  }

  private accept(socket: Socket): void {
    const ctx: ClientContext = { client: 'unknown', pid: null, user: null, protocol: null, connection: null! };
    const connection = new RpcConnection(socket, {
      codec: msgpackCodec,
      maxFrameBytes: CLIENT_MAX_FRAME_BYTES,
      onRequest: async (method, params) => {
        if (method !== 'hello' && ctx.protocol === null) {
          setImmediate(() => connection.end());
          throw new UpkError(ErrorCode.PROTOCOL_ERROR, 'the first request must be hello');
        }
        try {
          return await dispatchTyped(this.handlers, clientValidators, method, params, ctx);
        } catch (err) {
          if (method === 'hello') setImmediate(() => connection.end());
          throw err;
        }
      },
      onClose: (reason) => {
        this.connections.delete(connection);
        if (reason) this.log.warn(`client ${ctx.client} (pid ${ctx.pid ?? '?'}) dropped: ${reason.message}`);
      },
    });
    ctx.connection = connection;
    this.connections.add(connection);
  }
}
