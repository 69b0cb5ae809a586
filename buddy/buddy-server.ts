// The buddy's socket: answers the controller's polls and commands (buddy-protocol.ts).
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  BUDDY_HANDSHAKE,
  BUDDY_MAX_FRAME_BYTES,
  BUDDY_PROTOCOL,
  POLL_BATCH,
  fitBatch,
  type BuddyNotifications,
  buddyValidators,
  type BuddyMethods,
} from '../schema/buddy-protocol.js';
import { jsonCodec } from '../schema/codec.js';
import { socketAddress } from '../schema/socket-path.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { RpcConnection, dispatchTyped, type Handlers, type NoMessages } from '../schema/rpc.js';
import { upkeeperVersion } from '../schema/version.js';
import { closePrivate, listenPrivate } from '../schema/private-socket.js';
import type { EventQueue } from './event-queue.js';
import { readSettings } from '../schema/run-dir-read.js';
import type { Identity, Supervisor } from './supervisor.js';

/** A controller's connection, at the buddy's end: it answers BuddyMethods and sends BuddyNotifications. */
type ControllerConnection = RpcConnection<NoMessages, BuddyNotifications>;

export class BuddyServer {
  private readonly server: Server;
  private readonly connections = new Set<ControllerConnection>();
  private readonly handlers: Handlers<BuddyMethods, ControllerConnection>;
  private notifyScheduled = false;
  /** Called after every acknowledgement (a shutting-down buddy waits for its ring to empty). */
  onAck: () => void = () => undefined;
  /** Called when a connection ends (an exiting buddy need not wait for a controller that left). */
  onClose: () => void = () => undefined;
  /** When a controller last acknowledged events (or asked and there were none). */
  lastDrained = Date.now();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly queue: EventQueue,
    private readonly identity: Identity,
    private readonly settingsFile: string,
    private readonly log: (message: string) => void,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.handlers = {
      hello: ({ protocol }) => {
        if (protocol !== BUDDY_PROTOCOL) {
          throw new UpkError(ErrorCode.PROTOCOL_ERROR, `buddy speaks protocol ${BUDDY_PROTOCOL}, not ${protocol}`);
        }
        return {
          protocol: BUDDY_PROTOCOL,
          instance: this.identity.instance,
          pid: process.pid,
          version: upkeeperVersion(),
          status: this.supervisor.status(),
        };
      },
      poll: ({ ack, max }) => {
        if (ack !== undefined) this.acknowledge(ack);
        else this.lastDrained = Date.now();
        this.supervisor.measureIfDue();
        const events = fitBatch(this.queue.peek(Math.min(max ?? POLL_BATCH, POLL_BATCH)));
        if (events.length > 0) this.queue.collected(events[events.length - 1]!.seq);
        return { events, more: this.queue.pending > events.length, status: this.supervisor.status() };
      },
      ack: ({ seq }) => {
        this.acknowledge(seq);
        return null;
      },
      start: ({ controller, resume }) => this.supervisor.command('start', controller === true, resume === true),
      stop: ({ controller }) => this.supervisor.command('stop', controller === true),
      restart: ({ controller, overlap }) => this.supervisor.command('restart', controller === true, false, overlap === true),
      attach: ({ controller }) => this.supervisor.attach(controller === true),
      shutdown: ({ controller }) => this.supervisor.command('shutdown', controller === true),
      reload: () => this.supervisor.reload(),
      action: ({ action }) => this.supervisor.action(action),
      signal: ({ signal, group }) => this.supervisor.signal(signal, group ?? false),
      reconfigure: () => {
        this.supervisor.reconfigure(readSettings(this.settingsFile));
        return this.supervisor.status();
      },
    };
  }

  /** Listen on `path`; a socket file left by a dead buddy is replaced, a living buddy's is not. */
  async listen(path: string): Promise<void> {
    if (await answers(path)) throw new Error(`another buddy is listening on ${path}`);
    await listenPrivate(this.server, path);
  }

  /** Tell connected controllers there are events to collect (once per turn of the event loop). */
  announce(): void {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      const seq = this.queue.lastSeq;
      for (const c of this.connections) if (c.greeted) c.notify('events', { seq });
    });
  }

  close(path: string): void {
    closePrivate(this.server, this.connections, path);
  }

  /** Controllers connected (that said hello). */
  get controllers(): number {
    let n = 0;
    for (const c of this.connections) if (c.greeted) n += 1;
    return n;
  }

  private acknowledge(seq: number): void {
    this.lastDrained = Date.now();
    this.supervisor.ack(seq);
    this.onAck();
  }

  private accept(socket: Socket): void {
    const connection: ControllerConnection = new RpcConnection(socket, {
      codec: jsonCodec,
      maxFrameBytes: BUDDY_MAX_FRAME_BYTES,
      // hello first (a wrong protocol closes the connection after the answer), within 10 s.
      handshake: BUDDY_HANDSHAKE,
      onRequest: (method, params) => dispatchTyped(this.handlers, buddyValidators, method, params, connection),
      onClose: (reason) => {
        this.connections.delete(connection);
        this.queue.collected(0); // what it took and did not acknowledge may not be stored
        if (reason) this.log(`controller connection closed: ${reason.message}`);
        this.onClose();
      },
    });
    this.connections.add(connection);
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketAddress(path));
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    // EAGAIN: its queue of connections waiting to be accepted is full, so something listens.
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EAGAIN'));
  });
}
