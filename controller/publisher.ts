// Sends what is stored and what changes to the clients that subscribed: each event once, in id order
// (after its commit), and each service's status when it differs from the last one sent.
//
// A subscription that asks for stored events (`sinceId`) first catches up from the database, a page
// at a time and only as fast as its client reads; it goes live in the same turn as the query that
// found nothing more, so no event slips between. A client that does not read what is sent live has
// its subscription ended once more than CLIENT_MAX_BUFFERED_BYTES wait (`ended`): the controller never
// buffers without bound, and the client subscribes again from its last event.
import {
  CLIENT_MAX_BUFFERED_BYTES,
  SUBSCRIPTIONS_PER_CONNECTION_MAX,
  type ClientConnection,
  type ClientNotifications,
  type ControllerProblem,
} from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { ServiceEvent, ServiceStatus } from '../schema/records.js';
import { matchesEvent, type EventMatch } from '../schema/event-filter.js';

export interface Subscriber {
  connection: ClientConnection;
  /** The client's number for this subscription. */
  id: number;
  /** Service uuids wanted, or null for all. */
  uuids: Set<string> | null;
  /** Event types wanted, or null for all. */
  types: Set<string> | null;
  /** What else an event must match (pid, exit code, signal, text). */
  match: EventMatch;
  /** The last event id sent (or the one to catch up after). */
  lastId: number | null;
  /** False while it catches up from the database: live events are not sent to it yet. */
  live: boolean;
  /** Who subscribed, for the log: the client's name and pid. */
  who: string;
  /**
   * What may wait for it before it is ended: CLIENT_MAX_BUFFERED_BYTES, plus the statuses sent when
   * it began until they have gone (a thousand services' statuses must not end a subscription at once).
   */
  allowance: number;
}

/** Reads stored events after an id, for a subscription catching up. */
export type EventPager = (sub: Subscriber, afterId: number, limit: number) => ServiceEvent[];

/** Events per page while catching up, and the backlog at which it waits for the client to read. */
const CATCH_UP_PAGE = 500;
const CATCH_UP_LOW_WATER = CLIENT_MAX_BUFFERED_BYTES / 4;

export class Publisher {
  private readonly byConnection = new Map<ClientConnection, Map<number, Subscriber>>();
  /** Connections whose close is watched (once each, however often their subscriptions come and go). */
  private readonly watched = new WeakSet<ClientConnection>();
  private readonly lastStatus = new Map<string, string>();
  private count = 0;
  /** Hears of every subscription ended because its client did not read. */
  onEnded: (sub: Subscriber, reason: string) => void = () => undefined;
  /** Hears of each new subscription: the statuses it watches are worth refreshing now. */
  onAdded: (sub: Subscriber) => void = () => undefined;

  constructor(private readonly pager: EventPager) {}

  /** True while any client subscribes: statuses are worth working out. */
  get listening(): boolean {
    return this.count > 0;
  }

  /**
   * Register a subscription. With `lastId` set, it catches up on the stored events after it first;
   * else it is live at once. Throws LIMIT_REACHED past SUBSCRIPTIONS_PER_CONNECTION_MAX.
   */
  add(sub: Subscriber): void {
    let subs = this.byConnection.get(sub.connection);
    if (subs?.has(sub.id)) throw new UpkError(ErrorCode.BAD_REQUEST, `subscription ${sub.id} already exists on this connection`);
    if (subs && subs.size >= SUBSCRIPTIONS_PER_CONNECTION_MAX) {
      throw new UpkError(ErrorCode.LIMIT_REACHED, `a connection may hold at most ${SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions`);
    }
    if (!subs) {
      subs = new Map();
      this.byConnection.set(sub.connection, subs);
    }
    if (!this.watched.has(sub.connection)) {
      this.watched.add(sub.connection);
      const connection = sub.connection;
      connection.socket.once('close', () => {
        for (const s of [...(this.byConnection.get(connection)?.values() ?? [])]) this.drop(s);
      });
    }
    subs.set(sub.id, sub);
    this.count += 1;
    this.onAdded(sub);
    sub.allowance = CLIENT_MAX_BUFFERED_BYTES;
    // Caught up from the next turn: the subscribe answer and the statuses go first.
    if (!sub.live) setImmediate(() => void this.catchUp(sub));
  }

  remove(connection: ClientConnection, id: number): void {
    const sub = this.byConnection.get(connection)?.get(id);
    if (sub) this.drop(sub);
  }

  private drop(sub: Subscriber): void {
    const subs = this.byConnection.get(sub.connection);
    if (!subs || subs.get(sub.id) !== sub) return;
    subs.delete(sub.id);
    if (subs.size === 0) this.byConnection.delete(sub.connection);
    this.count -= 1;
    // With nobody listening no status is compared: what was last sent is forgotten with the last one.
    if (this.count === 0) this.lastStatus.clear();
  }

  /** True while a subscription wants this service's statuses (its live view shows them). */
  watches(uuid: string): boolean {
    for (const s of this.subscribers()) if (wantsService(s, uuid)) return true;
    return false;
  }

  private *subscribers(): Iterable<Subscriber> {
    for (const subs of this.byConnection.values()) yield* subs.values();
  }

  private active(sub: Subscriber): boolean {
    return this.byConnection.get(sub.connection)?.get(sub.id) === sub;
  }

  /**
   * A subscription was sent the statuses (and problems) it begins with. They may wait on top of the
   * usual bound, until they have gone; and they count as sent when none was yet (the first
   * subscriber), so that the next poll does not send every unchanged status again to everyone.
   */
  begun(sub: Subscriber, statuses: ServiceStatus[]): void {
    sub.allowance = CLIENT_MAX_BUFFERED_BYTES + sub.connection.buffered;
    for (const st of statuses) if (!this.lastStatus.has(st.uuid)) this.lastStatus.set(st.uuid, JSON.stringify(st));
  }

  /** Send the stored events after sub.lastId, page by page, as fast as the client reads; then go live. */
  private async catchUp(sub: Subscriber): Promise<void> {
    while (this.active(sub)) {
      const page = this.pager(sub, sub.lastId ?? 0, CATCH_UP_PAGE);
      if (page.length === 0) {
        sub.live = true; // in the turn of the query: every later event reaches it live
        return;
      }
      for (const event of page) {
        if (!sendEvent(sub, event)) return; // the connection is closing: nothing more goes out
        sub.lastId = event.id;
        if (sub.connection.buffered > CATCH_UP_LOW_WATER) break; // the rest of the page is read again later
      }
      // On only once most of what waits has gone (a 'drain' may leave a gathered chunk to write).
      while (sub.connection.isOpen && sub.connection.buffered > CATCH_UP_LOW_WATER) await drained(sub.connection);
      if (!sub.connection.isOpen) return;
    }
  }

  /** Newly stored events, oldest first. */
  events(events: ServiceEvent[]): void {
    if (this.count === 0) return;
    for (const event of events) {
      for (const s of this.subscribers()) {
        if (s.live && wantsEvent(s, event) && this.room(s)) {
          sendEvent(s, event);
          s.lastId = event.id;
        }
      }
    }
  }

  /**
   * A service is no longer configured: subscribers drop it. When a new identity (`successor`) takes
   * its id, a subscriber that named the service follows it there.
   */
  removed(service: string, uuid: string, successor?: string): void {
    this.lastStatus.delete(uuid);
    for (const s of this.subscribers()) {
      if (!wantsService(s, uuid)) continue;
      if (successor !== undefined) s.uuids?.add(successor);
      if (!this.room(s)) continue;
      s.connection.notify('removed', { subscription: s.id, service, uuid });
    }
  }

  /** A service's status as it is now; sent only when it changed. */
  status(status: ServiceStatus): void {
    const text = JSON.stringify(status);
    if (this.lastStatus.get(status.uuid) === text) return;
    this.lastStatus.set(status.uuid, text);
    for (const s of this.subscribers()) if (wantsService(s, status.uuid) && this.room(s)) sendStatus(s, status);
  }

  /** The controller closes every connection now, and says why. */
  closing(reason: ClientNotifications['closing']['reason']): void {
    for (const s of this.subscribers()) s.connection.notify('closing', { subscription: s.id, reason });
  }

  /** What is wrong with the controller changed: every subscriber hears it. */
  problems(problems: ControllerProblem[]): void {
    for (const s of this.subscribers()) if (this.room(s)) sendProblems(s, problems);
  }

  /** True when the client takes what it is sent; else its subscription ends here, telling it why. */
  private room(s: Subscriber): boolean {
    const buffered = s.connection.buffered;
    if (buffered <= CATCH_UP_LOW_WATER) s.allowance = CLIENT_MAX_BUFFERED_BYTES; // what it began with has gone
    if (buffered <= s.allowance) return true;
    this.drop(s);
    const params: ClientNotifications['ended'] = {
      subscription: s.id,
      code: ErrorCode.LIMIT_REACHED,
      reason: `the client did not read what was sent: more than ${CLIENT_MAX_BUFFERED_BYTES} bytes waited`,
      lastId: s.lastId,
    };
    s.connection.notify('ended', params);
    this.onEnded(s, params.reason);
    return false;
  }
}

const draining = new WeakMap<ClientConnection, Promise<void>>();

/**
 * Resolves when what waits to be written to the connection has gone, or the connection has: one
 * pair of listeners per connection, however many of its subscriptions wait.
 */
function drained(connection: ClientConnection): Promise<void> {
  let waiting = draining.get(connection);
  if (!waiting) {
    waiting = new Promise<void>((resolve) => {
      const done = (): void => {
        connection.socket.off('drain', done);
        connection.socket.off('close', done);
        draining.delete(connection);
        resolve();
      };
      connection.socket.once('drain', done);
      connection.socket.once('close', done);
    });
    draining.set(connection, waiting);
  }
  return waiting;
}

export const wantsService = (s: Subscriber, uuid: string): boolean => s.uuids === null || s.uuids.has(uuid);
export const wantsEvent = (s: Subscriber, e: ServiceEvent): boolean =>
  wantsService(s, e.uuid) && (s.types === null || s.types.has(e.type)) && matchesEvent(s.match, e);

/** False when it could not be sent (the connection is closed or closing). */
export function sendEvent(s: Subscriber, event: ServiceEvent): boolean {
  return s.connection.notify('event', { subscription: s.id, event });
}

export function sendStatus(s: Subscriber, status: ServiceStatus): void {
  s.connection.notify('status', { subscription: s.id, status });
}

export function sendProblems(s: Subscriber, problems: ControllerProblem[]): void {
  s.connection.notify('problems', { subscription: s.id, problems });
}
