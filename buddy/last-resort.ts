// The buddy's last resort: when its ring is 75 % full and no controller has drained it, or when it
// exits with events not yet stored, it reaches the controller itself on the controller's endpoint
// for buddies (StateDir/buddies.sock) and delivers them, retrying ReconnectRetries times.
import { connect } from 'node:net';
import {
  BUDDY_MAX_FRAME_BYTES,
  BUDDY_PROTOCOL,
  DELIVER_MAX_EVENTS,
  fitBatch,
  type BuddyIdentity,
  type BuddySettings,
  type ControllerBuddyMethods,
} from '../schema/buddy-protocol.js';
import { jsonCodec } from '../schema/codec.js';
import { socketAddress } from '../schema/socket-path.js';
import { RpcConnection } from '../schema/rpc.js';
import type { EventQueue } from './event-queue.js';
import { REAL_CLOCK, type Clock } from '../system/clock.js';

/** The 75 % rule of the original upkeeper. */
export const URGENT_FILL = 0.75;
/** Pause between two tries to reach the controller (the original's 0.5 s). */
const RETRY_MS = 500;
/** An exiting buddy tries at most this often even with ReconnectRetries -1 (it must end). */
const EXIT_RETRIES_MAX = 10;
/** After a failed round of tries, the next round waits this long (events go to the journal meanwhile). */
const COOLDOWN_MS = 10_000;
const DELIVER_TIMEOUT_MS = 10_000;

export class LastResort {
  private busy = false;
  private failedAt = -Infinity;
  /** The buddy exits: a round with unbounded tries stops trying. */
  private exiting = false;

  constructor(
    private readonly settings: () => BuddySettings,
    private readonly identity: BuddyIdentity,
    private readonly queue: EventQueue,
    private readonly log: (message: string) => void,
    /** Acknowledges what the controller stored (Supervisor.ack). */
    private readonly ack: (seq: number) => void,
    /** Time, injected for unit tests: the clock and a pause. */
    private readonly clock: Pick<Clock, 'now' | 'sleep'> = REAL_CLOCK,
  ) {}

  /** The 75 % rule: the ring is filling and no controller drained it within `drainedMs`. */
  urgent(msSinceDrained: number): boolean {
    return (
      this.queue.fill >= URGENT_FILL &&
      msSinceDrained > 2 * RETRY_MS &&
      !this.busy &&
      this.clock.now() - this.failedAt > COOLDOWN_MS &&
      this.settings().controllerEndpoint !== null
    );
  }

  /**
   * Deliver everything waiting; true when nothing is left. `exiting`: bounded tries even with -1,
   * after a delivery already under way (the exit must not set events aside while one is sent).
   */
  async deliver(reason: string, exiting = false): Promise<boolean> {
    const endpoint = this.settings().controllerEndpoint;
    if (endpoint === null) return false;
    if (this.busy) {
      if (!exiting) return false;
      // A round under way (with ReconnectRetries -1 it would try for ever) ends at its next try.
      this.exiting = true;
      while (this.busy) await this.clock.sleep(20);
      if (this.queue.pending === 0) return true;
    }
    this.busy = true;
    try {
      const configured = this.settings().reconnectRetries;
      const retries = exiting && (configured < 0 || configured > EXIT_RETRIES_MAX) ? EXIT_RETRIES_MAX : configured;
      let absent = false;
      for (let attempt = 0; (retries < 0 && !this.exiting) || attempt <= retries; attempt++) {
        if (attempt > 0) await this.clock.sleep(RETRY_MS);
        const rpc = await open(endpoint);
        // Exiting with no controller at all (its socket is gone: it was stopped), the journal keeps the
        // events for the next one at once; a socket there that refuses may be a controller restarting.
        if (rpc === 'absent' && exiting) {
          absent = true;
          break;
        }
        if (rpc === null || rpc === 'absent') continue;
        try {
          await rpc.request('hello', { protocol: BUDDY_PROTOCOL }, DELIVER_TIMEOUT_MS);
          while (this.queue.pending > 0) {
            const events = fitBatch(this.queue.peek(DELIVER_MAX_EVENTS));
            const { ack } = await rpc.request('deliver', { buddy: this.identity, events }, DELIVER_TIMEOUT_MS);
            this.ack(ack);
          }
          this.log(`${reason}: delivered every waiting event to the controller at ${endpoint}`);
          return true;
        } catch (err) {
          this.log(`${reason}: delivery to ${endpoint} failed: ${(err as Error).message}`);
        } finally {
          rpc.destroy();
        }
      }
      this.failedAt = this.clock.now();
      this.log(
        absent
          ? `${reason}: no controller runs (no socket at ${endpoint}); events wait in the journal`
          : `${reason}: no controller at ${endpoint} after ${retries < 0 ? 'many' : retries + 1} tries; events wait in the journal`,
      );
      return false;
    } finally {
      this.busy = false;
    }
  }
}

/** A connection, 'absent' when no socket is there, null when it cannot be reached otherwise. */
function open(path: string): Promise<RpcConnection<ControllerBuddyMethods> | 'absent' | null> {
  return new Promise((resolve) => {
    const socket = connect(socketAddress(path));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? 'absent' : null));
    socket.once('connect', () => resolve(new RpcConnection(socket, { codec: jsonCodec, maxFrameBytes: BUDDY_MAX_FRAME_BYTES })));
  });
}
