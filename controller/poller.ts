// Collects events from buddies: every BuddyPollingInterval, and at once when a buddy says it has some.
// Each round's events are written in one transaction; buddies are acknowledged only after the commit.
import { POLL_BATCH } from '../schema/buddy-protocol.js';
import type { BuddyStatus } from '../schema/records.js';
import type { AuditStore, EventBatch } from './audit-store.js';
import { BUDDY_REQUEST_TIMEOUT_MS } from './buddy-link.js';
import type { ServiceEntry, ServiceTable } from './service-table.js';

export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Services whose buddy said it has events, to collect in an extra round right away. */
  private readonly eager = new Set<ServiceEntry>();
  private stopped = false;
  /** Called with each fresh status (for live views). */
  onStatus: (entry: ServiceEntry, status: BuddyStatus) => void = () => undefined;

  constructor(
    private readonly services: ServiceTable,
    private readonly store: AuditStore,
    private readonly intervalMs: number,
    private readonly log: (message: string) => void,
  ) {}

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

  /** Ask for a round for these services as soon as possible. */
  wake(entry: ServiceEntry): void {
    this.eager.add(entry);
    if (!this.running && !this.stopped) void this.run([...this.drainEager()]);
  }

  /** Run one round over the given services (all when omitted), now; resolves after the commit. */
  async collect(entries?: ServiceEntry[]): Promise<void> {
    while (this.running) await this.running;
    await this.run(entries ?? this.services.all());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(this.services.all()).finally(() => this.schedule());
    }, this.intervalMs);
  }

  private *drainEager(): Generator<ServiceEntry> {
    const list = [...this.eager];
    this.eager.clear();
    yield* list;
  }

  private run(entries: ServiceEntry[]): Promise<void> {
    const round = this.round(entries).finally(() => {
      this.running = null;
      if (this.eager.size > 0 && !this.stopped) void this.run([...this.drainEager()]);
    });
    this.running = round;
    return round;
  }

  private async round(entries: ServiceEntry[]): Promise<void> {
    const live = entries.filter((e) => e.link?.open);
    let more: ServiceEntry[] = [];
    const answers = await Promise.allSettled(
      live.map(async (e) => {
        const link = e.link!;
        const result = await link.call('poll', { ack: link.acked, max: POLL_BATCH }, BUDDY_REQUEST_TIMEOUT_MS);
        return { e, link, result };
      }),
    );
    const batches: EventBatch[] = [];
    const acks: { link: NonNullable<ServiceEntry['link']>; seq: number }[] = [];
    for (const a of answers) {
      if (a.status === 'rejected') continue; // a closed link is handled by its onClose
      const { e, link, result } = a.value;
      e.status = result.status;
      this.onStatus(e, result.status);
      const fresh = result.events.filter((ev) => ev.seq > link.acked);
      if (fresh.length > 0) {
        batches.push({ serviceUuid: e.uuid, buddyId: link.buddyId, events: fresh });
        acks.push({ link, seq: fresh[fresh.length - 1]!.seq });
      }
      if (result.more) more.push(e);
    }
    if (batches.length > 0) {
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
    if (more.length > 0 && !this.stopped) {
      for (const e of more) this.eager.add(e);
      more = [];
    }
  }
}
