// Sends what is stored and what changes to the clients that subscribed: each event once, in id order
// (after its commit), and each service's status when it differs from the last one sent.
import { EVENT_NOTIFICATION, REMOVED_NOTIFICATION, STATUS_NOTIFICATION, type ClientNotifications } from '../schema/client-protocol.js';
import type { ServiceEvent, ServiceStatus } from '../schema/records.js';
import { matchesEvent, type EventMatch } from '../schema/event-filter.js';
import type { RpcConnection } from '../schema/rpc.js';

export interface Subscriber {
  connection: RpcConnection;
  /** The client's number for this subscription. */
  id: number;
  /** Service uuids wanted, or null for all. */
  uuids: Set<string> | null;
  /** Event types wanted, or null for all. */
  types: Set<string> | null;
  /** What else an event must match (pid, exit code, signal, text). */
  match: EventMatch;
}

export class Publisher {
  private readonly subscribers = new Set<Subscriber>();
  private readonly lastStatus = new Map<string, string>();

  /** True while any client subscribes: statuses are worth working out. */
  get listening(): boolean {
    return this.subscribers.size > 0;
  }

  add(sub: Subscriber): void {
    this.subscribers.add(sub);
    sub.connection.socket.once('close', () => this.drop(sub));
  }

  remove(connection: RpcConnection, id: number): void {
    for (const s of this.subscribers) if (s.connection === connection && s.id === id) this.drop(s);
  }

  private drop(sub: Subscriber): void {
    this.subscribers.delete(sub);
    // With nobody listening no status is compared: what was last sent is forgotten with the last one.
    if (this.subscribers.size === 0) this.lastStatus.clear();
  }

  /** Newly stored events, oldest first. */
  events(events: ServiceEvent[]): void {
    if (this.subscribers.size === 0) return;
    for (const event of events) {
      for (const s of this.subscribers) if (wantsEvent(s, event)) sendEvent(s, event);
    }
  }

  /**
   * A service is no longer configured: subscribers drop it. When a new identity (`successor`) takes
   * its id, a subscriber that named the service follows it there.
   */
  removed(service: string, uuid: string, successor?: string): void {
    this.lastStatus.delete(uuid);
    for (const s of this.subscribers) {
      if (!wantsService(s, uuid)) continue;
      if (successor !== undefined) s.uuids?.add(successor);
      const params: ClientNotifications['removed'] = { subscription: s.id, service, uuid };
      s.connection.notify(REMOVED_NOTIFICATION, params);
    }
  }

  /** A service's status as it is now; sent only when it changed. */
  status(status: ServiceStatus): void {
    const text = JSON.stringify(status);
    if (this.lastStatus.get(status.uuid) === text) return;
    this.lastStatus.set(status.uuid, text);
    for (const s of this.subscribers) if (wantsService(s, status.uuid)) sendStatus(s, status);
  }
}

export const wantsService = (s: Subscriber, uuid: string): boolean => s.uuids === null || s.uuids.has(uuid);
export const wantsEvent = (s: Subscriber, e: ServiceEvent): boolean =>
  wantsService(s, e.uuid) && (s.types === null || s.types.has(e.type)) && matchesEvent(s.match, e);

export function sendEvent(s: Subscriber, event: ServiceEvent): void {
  const params: ClientNotifications['event'] = { subscription: s.id, event };
  s.connection.notify(EVENT_NOTIFICATION, params);
}

export function sendStatus(s: Subscriber, status: ServiceStatus): void {
  const params: ClientNotifications['status'] = { subscription: s.id, status };
  s.connection.notify(STATUS_NOTIFICATION, params);
}
