// The controller's client socket: MessagePack frames, `hello` first, then typed requests.
import { chmodSync, unlinkSync } from 'node:fs';
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
import { socketAddress } from '../schema/socket-path.js';
import type { Logger } from './log.js';

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

  /** The caller holds the instance lock, so a socket file left here is stale. */
  listen(): Promise<void> {
    try {
      unlinkSync(this.socketPath);
    } catch {
      /* none */
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketAddress(this.socketPath), () => {
        this.server.off('error', reject);
        chmodSync(this.socketPath, 0o600);
        resolve();
      });
    });
  }

  /** Stop accepting; let answers already written reach their clients, then close. */
  close(): void {
    this.server.close();
    for (const c of this.connections) c.end();
    try {
      unlinkSync(this.socketPath);
    } catch {
      /* gone */
    }
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
