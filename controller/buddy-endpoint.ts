// The controller's endpoint for buddies (StateDir/buddies.sock): a buddy whose ring is 75 % full with
// no controller collecting, or that exits with events not yet stored, delivers them here itself.
// Nothing on this socket is trusted: `hello` first, every field checked, a delivery must carry on from
// what is stored for its buddy, and the buddy that answers on the service's own socket must be that
// instance and hold those very events (a forged delivery must not acknowledge away real ones).
import { createServer, type Server, type Socket } from 'node:net';
import {
  BUDDY_MAX_FRAME_BYTES,
  BUDDY_PROTOCOL,
  ENDPOINT_HANDSHAKE,
  POLL_BATCH,
  controllerBuddyValidators,
  type ControllerBuddyMethods,
} from '../schema/buddy-protocol.js';
import { join } from 'node:path';
import { RUN_DIR } from '../schema/run-dir.js';
import type { BuddyEvent } from '../schema/records.js';
import { BUDDY_REQUEST_TIMEOUT_MS, BuddyLink } from './buddy-link.js';
import { jsonCodec } from '../schema/codec.js';
import { ErrorCode, UpkError, toUpkError } from '../schema/errors.js';
import { RpcConnection, dispatchTyped, type Handlers } from '../schema/rpc.js';
import { closePrivate, listenPrivate } from '../schema/private-socket.js';
import type { AuditStore } from './audit-store.js';
import type { Logger } from './log.js';
import type { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';

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
        if (protocol !== BUDDY_PROTOCOL)
          throw new UpkError(ErrorCode.PROTOCOL_ERROR, `the controller speaks buddy protocol ${BUDDY_PROTOCOL}, not ${protocol}`);
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

  private async deliver({
    buddy,
    events,
  }: ControllerBuddyMethods['deliver']['params']): Promise<ControllerBuddyMethods['deliver']['result']> {
    const { services, store, log } = this.parts;
    const entry = services.byUuid(buddy.uuid);
    if (!entry) {
      throw new UpkError(
        store.serviceByUuid(buddy.uuid) ? ErrorCode.BAD_REQUEST : ErrorCode.NO_SUCH_SERVICE,
        `no configured service has uuid ${buddy.uuid} (a removed service's buddy leaves its events in its journal)`,
      );
    }
    const known = store.buddyByInstance(buddy.instance);
    if (known && known.serviceUuid !== buddy.uuid) {
      throw new UpkError(ErrorCode.BAD_REQUEST, `buddy instance ${buddy.instance} belongs to another service`);
    }
    if (events.length === 0) return { ack: 0 };
    const stored = known ? store.lastSeq(known.id) : 0;
    const first = events[0]!.seq;
    if (first > stored + 1) {
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `events from seq ${first}, but the last stored for buddy ${buddy.instance} is ${stored}: deliveries carry on from what is stored`,
      );
    }
    const storedNow = (): number => (known ? store.lastSeq(known.id) : 0);
    await this.proveOrigin(
      entry,
      buddy.instance,
      events.filter((e) => e.seq > stored),
      storedNow,
    );
    const buddyId = known?.id ?? store.buddyId(buddy.instance, buddy.uuid, buddy.pid, Date.parse(buddy.started));
    store.insertEvents([{ serviceUuid: buddy.uuid, service: buddy.service, instance: buddy.instance, buddyId, events }]);
    const ack = events[events.length - 1]!.seq;
    const link = entry.link;
    // The poller acknowledges from here on only when nothing lies between what it had and this.
    if (link?.instance === buddy.instance && link.acked >= first - 1) link.acked = Math.max(link.acked, ack);
    log.warn(`${buddy.service}: buddy ${buddy.pid} delivered ${events.length} events itself (up to seq ${ack})`);
    if (!entry.link?.open) this.parts.reattach(entry);
    return { ack };
  }

  /**
   * The buddy that answers on the service's socket (the controller's own link to it, or a new
   * connection) must be `instance`, and must still hold these events, unacknowledged, as delivered.
   */
  private async proveOrigin(entry: ServiceEntry, instance: string, events: BuddyEvent[], storedNow: () => number): Promise<void> {
    if (events.length === 0) return;
    const own = entry.link?.open && entry.link.instance === instance ? entry.link : null;
    const link = own ?? (await BuddyLink.connect(join(entry.runDir, RUN_DIR.socket)).catch(() => null));
    const refuse = (why: string): never => {
      throw new UpkError(ErrorCode.BAD_REQUEST, `not delivered by buddy ${instance}: ${why}`);
    };
    try {
      if (!link) return refuse(`no buddy answers on ${entry.config.id}'s socket`);
      if (link.instance !== instance) return refuse(`the buddy of ${entry.config.id} is instance ${link.instance}`);
      // A poll that acknowledges nothing: the buddy's oldest events not yet acknowledged, the very ones
      // it delivers (those a poll stored meanwhile excepted).
      const { events: page } = await link.call('poll', { max: POLL_BATCH }, BUDDY_REQUEST_TIMEOUT_MS);
      const held = new Map(page.map((e) => [e.seq, e]));
      const storedUpTo = storedNow();
      for (const e of events) {
        if (e.seq <= storedUpTo) continue;
        const h = held.get(e.seq);
        if (!h || h.type !== e.type || h.time !== e.time) return refuse(`it does not hold event ${e.seq} as delivered`);
      }
    } finally {
      if (link && !own) link.close();
    }
  }

  private accept(socket: Socket): void {
    const connection = new RpcConnection(socket, {
      codec: jsonCodec,
      maxFrameBytes: BUDDY_MAX_FRAME_BYTES,
      handshake: ENDPOINT_HANDSHAKE,
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
