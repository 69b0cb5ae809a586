// The controller's endpoint for buddies (StateDir/buddies.sock): a buddy whose ring is 75 % full with
// no controller collecting, or that exits with events not yet stored, delivers them here itself.
// Nothing on this socket is trusted: `hello` first, every field checked, and a delivery must carry on
// from what is stored for its buddy (a forged sequence number must not acknowledge away real events).
import { createServer, type Server, type Socket } from 'node:net';
import {
  BUDDY_MAX_FRAME_BYTES,
  BUDDY_PROTOCOL,
  controllerBuddyValidators,
  type ControllerBuddyMethods,
} from '../schema/buddy-protocol.js';
import { jsonCodec } from '../schema/codec.js';
import { ErrorCode, UpkError, toUpkError } from '../schema/errors.js';
import { HELLO_DEADLINE_MS, RpcConnection, dispatchTyped, type Handlers } from '../schema/rpc.js';
import { processAlive } from '../system/process-group.js';
import { closePrivate, listenPrivate } from '../system/private-socket.js';
import type { AuditStore } from './audit-store.js';
import type { Logger } from './log.js';
import type { ServiceEntry, ServiceTable } from './service-table.js';

/** What the endpoint needs of the controller. */
export interface EndpointParts {
  services: ServiceTable;
  store: AuditStore;
  log: Logger;
  /** Attach a service's buddy again (it reached us here, so it runs). */
  reattach(entry: ServiceEntry): void;
}

/** Refusals logged per minute at most; the rest are counted in the next line. */
const REFUSALS_LOGGED_PER_MINUTE = 30;

export class BuddyEndpoint {
  private readonly server: Server;
  private readonly connections = new Set<RpcConnection>();
  private readonly handlers: Handlers<ControllerBuddyMethods, null>;
  private refusalWindow = 0;
  private refusalsLogged = 0;
  private refusalsUnlogged = 0;

  constructor(
    private readonly path: string,
    private readonly parts: EndpointParts,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.handlers = {
      hello: ({ protocol }) => {
        if (protocol !== BUDDY_PROTOCOL) throw new UpkError(ErrorCode.PROTOCOL_ERROR, `the controller speaks buddy protocol ${BUDDY_PROTOCOL}, not ${protocol}`);
        return { protocol: BUDDY_PROTOCOL };
      },
      deliver: (params) => this.deliver(params),
    };
  }

  /** The controller holds the instance lock, so a socket file left here is stale. */
  listen(): Promise<void> {
    return listenPrivate(this.server, this.path);
  }

  /** Stop accepting; let answers already written reach their clients, then close. */
  close(): void {
    closePrivate(this.server, this.connections, this.path);
  }

  private deliver({ buddy, events }: ControllerBuddyMethods['deliver']['params']): ControllerBuddyMethods['deliver']['result'] {
    const { services, store, log } = this.parts;
    const entry = services.byUuid(buddy.uuid);
    if (!entry && !store.serviceByUuid(buddy.uuid)) throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service has uuid ${buddy.uuid}`);
    const known = store.buddyByInstance(buddy.instance);
    if (known && known.serviceUuid !== buddy.uuid) {
      throw new UpkError(ErrorCode.BAD_REQUEST, `buddy instance ${buddy.instance} belongs to another service`);
    }
    if (!known && !processAlive(buddy.pid)) throw new UpkError(ErrorCode.BAD_REQUEST, `no process ${buddy.pid} runs: no buddy delivers as it`);
    if (events.length === 0) return { ack: 0 };
    const stored = known ? store.lastSeq(known.id) : 0;
    const first = events[0]!.seq;
    if (first > stored + 1) {
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `events from seq ${first}, but the last stored for buddy ${buddy.instance} is ${stored}: deliveries carry on from what is stored`,
      );
    }
    const buddyId = known?.id ?? store.buddyId(buddy.instance, buddy.uuid, buddy.pid, Date.parse(buddy.started));
    store.insertEvents([{ serviceUuid: buddy.uuid, service: buddy.service, instance: buddy.instance, buddyId, events }]);
    const ack = events[events.length - 1]!.seq;
    const link = entry?.link;
    // The poller acknowledges from here on only when nothing lies between what it had and this.
    if (link?.instance === buddy.instance && link.acked >= first - 1) link.acked = Math.max(link.acked, ack);
    log.warn(`${buddy.service}: buddy ${buddy.pid} delivered ${events.length} events itself (up to seq ${ack})`);
    if (entry && !entry.link?.open) this.parts.reattach(entry);
    return { ack };
  }

  private accept(socket: Socket): void {
    const connection = new RpcConnection(socket, {
      codec: jsonCodec,
      maxFrameBytes: BUDDY_MAX_FRAME_BYTES,
      handshake: { method: 'hello', deadlineMs: HELLO_DEADLINE_MS },
      maxInFlight: 4, // a buddy delivers one batch at a time
      maxBufferedBytes: BUDDY_MAX_FRAME_BYTES,
      onRequest: async (method, params) => {
        try {
          return await dispatchTyped(this.handlers, controllerBuddyValidators, method, params, null);
        } catch (err) {
          this.refused(`${method}: ${toUpkError(err).message}`);
          throw err;
        }
      },
      onClose: (reason) => {
        this.connections.delete(connection);
        if (reason) this.refused(`connection dropped: ${reason.message}`);
        else if (!connection.greeted) this.refused('a connection closed without hello');
      },
    });
    this.connections.add(connection);
  }

  /** Log why something on the socket was refused: at most REFUSALS_LOGGED_PER_MINUTE a minute. */
  private refused(why: string): void {
    const now = Date.now();
    if (now - this.refusalWindow > 60_000) {
      if (this.refusalsUnlogged > 0) this.parts.log.warn(`buddies.sock: ${this.refusalsUnlogged} more refusals in the last minute`);
      this.refusalWindow = now;
      this.refusalsLogged = 0;
      this.refusalsUnlogged = 0;
    }
    if (this.refusalsLogged++ < REFUSALS_LOGGED_PER_MINUTE) this.parts.log.warn(`buddies.sock: refused: ${why}`);
    else this.refusalsUnlogged += 1;
  }
}
