// Collects events from buddies into the database. Each round's events are written in one
// transaction; buddies are acknowledged only after the commit.
//
// When: every BuddyPollingInterval for an active buddy (it had events, or is starting, stopping or
// backing off); every QUIET_FACTOR intervals for a quiet one; and at once when a buddy announces
// events. Polling every buddy every interval cost 3.6 % of a core with 50 idle services on the
// development machine (each round trip is ~0.2 ms of kernel and Node time); the announcement makes
// the slower safety-net poll free of latency cost.
import { POLL_BATCH } from '../schema/buddy-protocol.js';
import { USAGE_RECORD, type BuddyStatus } from '../schema/records.js';
import type { AuditStore, EventBatch } from './audit-store.js';
import { BUDDY_REQUEST_TIMEOUT_MS, type BuddyLink } from './buddy-link.js';
import type { ServiceEntry, ServiceTable } from './service-table.js';

/** A quiet buddy is polled every this many intervals (10 s at the default 0.5 s). */
export const QUIET_FACTOR = 20;
const ACTIVE_STATES: ReadonlySet<BuddyStatus['state']> = new Set(['starting', 'stopping', 'backoff']);

export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Services whose buddy said it has events, to collect in an extra round right away. */
  private readonly eager = new Set<ServiceEntry>();
  /** When each service is next due for a poll. */
  private readonly due = new WeakMap<ServiceEntry, number>();
  private stopped = false;
  /** Called with each fresh status (for live views). */
  onStatus: (entry: ServiceEntry, status: BuddyStatus) => void = () => undefined;

  constructor(
    private readonly services: ServiceTable,
    private readonly store: AuditStore,
    private intervalMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** A new BuddyPollingInterval (after a configuration reload): from the next round on. */
  setInterval(ms: number): void {
    this.intervalMs = ms;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stop polling after the round in flight (if any) is committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Collect from this service as soon as possible (its buddy announced events). */
  wake(entry: ServiceEntry): void {
    this.eager.add(entry);
    if (!this.running && !this.stopped) void this.run(this.takeEager());
  }

  /** Run one round over the given services (all when omitted), now; resolves after the commit. */
  async collect(entries?: ServiceEntry[]): Promise<void> {
    while (this.running) await this.running;
    await this.run(entries ?? this.services.values());
  }

  /** Collect until the given buddies (all when omitted) hold nothing more than one answer carries. */
  async drain(entries?: ServiceEntry[]): Promise<void> {
    await this.collect(entries);
    while (this.eager.size > 0) await this.collect(this.takeEager());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      const due = this.services.values().filter((e) => (this.due.get(e) ?? 0) <= now);
      const round = due.length > 0 ? this.run(due) : Promise.resolve();
      void round.finally(() => this.schedule());
    }, this.intervalMs);
  }

  private takeEager(): ServiceEntry[] {
    const list = [...this.eager];
    this.eager.clear();
    return list;
  }

  private run(entries: ServiceEntry[]): Promise<void> {
    const round = this.round(entries).finally(() => {
      this.running = null;
      if (this.eager.size > 0 && !this.stopped) void this.run(this.takeEager());
    });
    this.running = round;
    return round;
  }

  private async round(entries: ServiceEntry[]): Promise<void> {
    const live = entries.filter((e) => e.link?.open);
    const answers = await Promise.allSettled(
      live.map(async (e) => {
        const link = e.link!;
        const result = await link.call('poll', { ack: link.acked, max: POLL_BATCH }, BUDDY_REQUEST_TIMEOUT_MS);
        return { e, link, result };
      }),
    );
    const batches: EventBatch[] = [];
    const acks: { link: BuddyLink; seq: number }[] = [];
    const now = Date.now();
    for (const a of answers) {
      if (a.status === 'rejected') continue; // a closed link is handled by its onClose
      const { e, link, result } = a.value;
      e.status = result.status;
      this.onStatus(e, result.status);
      const fresh = result.events.filter((ev) => ev.seq > link.acked);
      if (fresh.length > 0) {
        batches.push({ serviceUuid: e.uuid, service: e.config.id, instance: link.instance, buddyId: link.buddyId, events: fresh });
        acks.push({ link, seq: fresh[fresh.length - 1]!.seq });
      }
      // A usage record (one a minute while a service runs) is no sign of activity.
      const active = fresh.some((ev) => ev.type !== USAGE_RECORD) || ACTIVE_STATES.has(result.status.state);
      this.due.set(e, now + this.intervalMs * (active ? 1 : QUIET_FACTOR));
      if (result.more) this.eager.add(e); // (collected again at once unless stopped: drain() goes on)
    }
    if (batches.length === 0) return;
    try {
      this.store.insertEvents(batches);
    } catch (err) {
      this.log(`cannot write events (they stay in the buddies and come again): ${(err as Error).message}`);
      return;
    }
    for (const { link, seq } of acks) {
      link.acked = seq;
      link.call('ack', { seq }, BUDDY_REQUEST_TIMEOUT_MS).catch(() => undefined);
    }
  }
}
