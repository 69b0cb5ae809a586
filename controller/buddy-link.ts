// The controller's connection to one buddy: hello, polls, acknowledgements and commands.
import { connect } from 'node:net';
import {
  BUDDY_MAX_FRAME_BYTES,
  BUDDY_PROTOCOL,
  buddyNotificationValidators,
  type BuddyHello,
  type BuddyMethods,
} from '../schema/buddy-protocol.js';
import { jsonCodec } from '../schema/codec.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { RpcConnection, receiveTyped, type ResultOf } from '../schema/rpc.js';
import { socketAddress } from '../schema/socket-path.js';

/** How long the controller waits for a poll or a quick command before calling the buddy unresponsive. */
export const BUDDY_REQUEST_TIMEOUT_MS = 5000;

export class BuddyLink {
  /** Highest sequence number committed to the database (and so acknowledged). */
  acked = 0;
  /** The buddy's row in the database. */
  buddyId = 0;
  onNotify: () => void = () => undefined;
  /** A notification from the buddy that was dropped (an unknown one, or bad params), and why. */
  onDropped: (err: UpkError) => void = () => undefined;
  onClose: () => void = () => undefined;

  private constructor(
    private readonly rpc: RpcConnection<BuddyMethods>,
    readonly hello: BuddyHello,
  ) {}

  get open(): boolean {
    return this.rpc.isOpen;
  }

  get pid(): number {
    return this.hello.pid;
  }

  get instance(): string {
    return this.hello.instance;
  }

  /** Connect and say hello; rejects when nothing listens or it is not a buddy of our protocol. */
  static connect(socketPath: string, timeoutMs = BUDDY_REQUEST_TIMEOUT_MS): Promise<BuddyLink> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketAddress(socketPath));
      let link: BuddyLink | null = null;
      const rpc = new RpcConnection<BuddyMethods>(socket, {
        codec: jsonCodec,
        maxFrameBytes: BUDDY_MAX_FRAME_BYTES,
        onNotification: receiveTyped({ events: () => link?.onNotify() }, buddyNotificationValidators, (err) => link?.onDropped(err)),
        onClose: () => link?.onClose(),
      });
      socket.once('error', (err) => reject(new UpkError(ErrorCode.BUDDY_UNREACHABLE, `${socketPath}: ${err.message}`)));
      socket.once('connect', () => {
        rpc
          .request('hello', { protocol: BUDDY_PROTOCOL }, timeoutMs)
          .then((hello) => {
            link = new BuddyLink(rpc, hello);
            resolve(link);
          })
          .catch((err: unknown) => {
            rpc.destroy();
            reject(err);
          });
      });
    });
  }

  call<K extends keyof BuddyMethods>(method: K, params: BuddyMethods[K]['params'], timeoutMs = 0): Promise<ResultOf<BuddyMethods, K>> {
    return this.rpc.request(method, params, timeoutMs);
  }

  close(): void {
    this.rpc.destroy();
  }
}
