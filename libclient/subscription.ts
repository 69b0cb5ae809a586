// A subscription: events and status changes as an async iterable, on its own connection, which it
// re-opens by itself when the controller goes away, resuming after the last event it delivered.
import type { ClientMethods, ClientNotifications, ControllerInfo, ControllerProblem, SubscribeParams } from '../schema/client-protocol.js';
import type { ServiceEvent, ServiceStatus } from '../schema/records.js';
import { pickMatch, type EventMatch } from '../schema/event-filter.js';
import type { NotificationHandlers, ResultOf } from '../schema/rpc.js';
import type { ConnectionHooks } from './connection-hooks.js';

/** A connection as a subscription uses it (a Client's). */
export interface SubscriptionLine {
  readonly controller: ControllerInfo;
  call(method: 'subscribe', params: SubscribeParams): Promise<ResultOf<ClientMethods, 'subscribe'>>;
  close(): void;
}

/** Opens a connection of its own for a subscription (one that does not reconnect by itself: the subscription does). */
export type Dial = (hooks: ConnectionHooks) => Promise<SubscriptionLine>;

export interface SubscribeFilter extends EventMatch {
  /** Service names (as for every command) or `all`; default all. */
  services?: string[];
  /** Event types; default all. */
  types?: string[];
  /** Start after this event id (stored events first); default: from now. */
  sinceId?: number;
}

/** What a subscription yields. `controller` says the controller went away and came back. */
export type Notice =
  | { kind: 'event'; event: ServiceEvent }
  | { kind: 'status'; status: ServiceStatus }
  | { kind: 'removed'; service: string; uuid: string }
  /** What is wrong with the controller (empty: nothing): when the subscription begins, and on every change. */
  | { kind: 'problems'; problems: ControllerProblem[] }
  /** The controller went away; `reason` when it said so: `stop` (services run on) or `shutdown` (every service was stopped). */
  | { kind: 'controller'; state: 'lost'; reason?: 'stop' | 'shutdown' }
  | { kind: 'controller'; state: 'back'; controller: ControllerInfo };

/** The number of our one subscription on its connection. */
const SUBSCRIPTION = 1;
/** Waits between tries to reach the controller again: doubling from 100 ms to 2 s. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2000;

export class Subscription implements AsyncIterable<Notice> {
  private readonly queue: Notice[] = [];
  private wake: (() => void) | null = null;
  private client: SubscriptionLine | null = null;
  private closed = false;
  private lastId: number | null;
  /** Why the controller said it closes the connection, until the connection is gone. */
  private closingReason: 'stop' | 'shutdown' | null = null;

  private constructor(
    private readonly dial: Dial,
    private readonly filter: SubscribeFilter,
  ) {
    this.lastId = filter.sinceId ?? null;
  }

  /** @internal use Client.subscribe. */
  static async open(dial: Dial, filter: SubscribeFilter): Promise<Subscription> {
    const s = new Subscription(dial, filter);
    await s.connect();
    return s;
  }

  /** The controller this subscription is connected to now, or null while it is away. */
  get controller(): ControllerInfo | null {
    return this.client?.controller ?? null;
  }

  /** The id of the last event delivered: where a new subscription would resume. */
  get lastEventId(): number | null {
    return this.lastId;
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = null;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Notice> {
    try {
      for (;;) {
        while (this.queue.length > 0) yield this.queue.shift()!;
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      this.close();
    }
  }

  private async connect(): Promise<void> {
    const client = await this.dial({
      notifications: this.notifications,
      onClose: () => {
        if (this.client === client) void this.reconnect();
      },
    });
    this.client = client;
    try {
      await this.subscribe(client);
    } catch (err) {
      this.client = null;
      client.close();
      throw err;
    }
  }

  /** Ask for the subscription on `client`'s connection, after the last event delivered if any. */
  private async subscribe(client: SubscriptionLine): Promise<void> {
    const params: SubscribeParams = { subscription: SUBSCRIPTION };
    if (this.filter.services) params.services = this.filter.services;
    if (this.filter.types) params.types = this.filter.types;
    Object.assign(params, pickMatch(this.filter));
    if (this.lastId !== null) params.sinceId = this.lastId;
    const { lastId } = await client.call('subscribe', params);
    this.lastId ??= lastId;
  }

  /** What the controller sends on the subscription's connection (checked by clientNotificationValidators). */
  private readonly notifications: NotificationHandlers<ClientNotifications> = {
    event: ({ event }) => {
      if (this.lastId !== null && event.id <= this.lastId) return; // already delivered
      this.lastId = event.id;
      this.push({ kind: 'event', event });
    },
    status: ({ status }) => this.push({ kind: 'status', status }),
    removed: ({ service, uuid }) => this.push({ kind: 'removed', service, uuid }),
    problems: ({ problems }) => this.push({ kind: 'problems', problems }),
    closing: ({ reason }) => {
      this.closingReason = reason;
    },
    ended: () => {
      // The controller ended it (we read too slowly): subscribe again after the last event we have.
      const client = this.client;
      if (client) {
        void this.subscribe(client).catch(() => {
          if (this.client === client) client.close(); // reconnect() takes over
        });
      }
    },
  };

  private async reconnect(): Promise<void> {
    this.client = null;
    if (this.closed) return;
    const reason = this.closingReason;
    this.closingReason = null;
    this.push(reason ? { kind: 'controller', state: 'lost', reason } : { kind: 'controller', state: 'lost' });
    for (let delay = RETRY_FIRST_MS; !this.closed; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.closed) return;
      try {
        await this.connect();
        this.push({ kind: 'controller', state: 'back', controller: this.client!.controller });
        return;
      } catch {
        /* not back yet */
      }
    }
  }

  private push(notice: Notice): void {
    if (this.closed) return;
    this.queue.push(notice);
    this.wake?.();
  }
}
