// The controller's endpoint for buddies (StateDir/buddies.sock): a buddy whose ring is 75 % full with
// no controller collecting, or that exits with events not yet stored, delivers them here itself.
import { createServer, type Server, type Socket } from 'node:net';
import {
  BUDDY_MAX_FRAME_BYTES,
  controllerBuddyValidators,
  type ControllerBuddyMethods,
} from '../schema/buddy-protocol.js';
import { jsonCodec } from '../schema/codec.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { RpcConnection, dispatchTyped, type Handlers } from '../schema/rpc.js';
import type { Controller } from './controller.js';
import { closePrivate, listenPrivate } from '../system/private-socket.js';

export class BuddyEndpoint {
  private readonly server: Server;
  private readonly connections = new Set<RpcConnection>();
  private readonly handlers: Handlers<ControllerBuddyMethods, null>;

  constructor(
    private readonly path: string,
    controller: Controller,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.handlers = {
      deliver: ({ buddy, events }) => {
        const c = controller;
        const entry = c.services.byUuid(buddy.uuid);
        if (!entry && !c.store.serviceByUuid(buddy.uuid)) {
          throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service has uuid ${buddy.uuid}`);
        }
        const buddyId = c.store.buddyId(buddy.instance, buddy.uuid, buddy.pid, Date.parse(buddy.started));
        c.store.insertEvents([{ serviceUuid: buddy.uuid, service: buddy.service, instance: buddy.instance, buddyId, events }]);
        const ack = events.length > 0 ? events[events.length - 1]!.seq : 0;
        if (entry?.link?.instance === buddy.instance) entry.link.acked = Math.max(entry.link.acked, ack);
        c.log.warn(`${buddy.service}: buddy ${buddy.pid} delivered ${events.length} events itself (up to seq ${ack})`);
        if (entry && !entry.link?.open) c.buddies.reattach(entry);
        return { ack };
      },
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

  private accept(socket: Socket): void {
    const connection = new RpcConnection(socket, {
      codec: jsonCodec,
      maxFrameBytes: BUDDY_MAX_FRAME_BYTES,
      onRequest: (method, params) => dispatchTyped(this.handlers, controllerBuddyValidators, method, params, null),
      onClose: () => this.connections.delete(connection),
    });
    this.connections.add(connection);
  }
}
