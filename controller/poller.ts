// Collects events from buddies into the database. Each round's events are written in one
// transaction; buddies are acknowledged only after the commit.
//
// When: every BuddyPollingInterval for an active buddy (it had events, or is starting, stopping or
// backing off); every QUIET_FACTOR intervals for a quiet one while a client subscribes to its service
// (a live view shows its CPU and memory), and every QUIET_POLL_MS otherwise; and at once when a buddy
// announces events. Polling every buddy every interval cost 3.6 % of a core with 50 idle services on
// the development machine; the 10 s poll of quiet ones, with an acknowledgement of each minute's usage
// record, still 0.8 % more than the 60 s poll without it (a wake-up of a --jitless buddy is ~2 ms of
// CPU). The announcement makes the slower safety-net poll free of latency cost, and reads (list,
// status) collect before they answer.
//
// When the database cannot be written (a full disk, say), the events stay in the buddies (and their
// journals) and are tried again after WRITE_RETRY_FIRST_MS, doubling up to WRITE_RETRY_MAX_MS: rounds
// go on answering statuses, but nothing loops on a failing write.
import { POLL_BATCH } from '../schema/buddy-protocol.js';
import { detailOf } from '../schema/event-details.js';
import { USAGE_RECORD, type BuddyStatus, type DesiredState } from '../schema/records.js';
import type { AuditStore, EventBatch } from './audit-store.js';
import { BUDDY_REQUEST_TIMEOUT_MS, type BuddyLink } from './buddy-link.js';
import type { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { REAL_CLOCK, type Clock, type Timer } from '../system/clock.js';

/** A quiet buddy is polled every this many intervals (10 s at the default 0.5 s) while a client subscribes. */
export const QUIET_FACTOR = 20;
/** A quiet buddy is polled this often when no client subscribes: the safety net for a lost announcement. */
export const QUIET_POLL_MS = 60_000;
/** After a failed write, events are tried again after this long, doubling up to the maximum. */
export const WRITE_RETRY_FIRST_MS = 500;
export const WRITE_RETRY_MAX_MS = 10_000;
const ACTIVE_STATES: ReadonlySet<BuddyStatus['state']> = new Set(['starting', 'stopping', 'backoff']);

/** The bounds of the poll round durations counted (seconds), as Prometheus' histogram buckets. */
export const POLL_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the rounds did since the controller started (`controller.status`'s stats): counted as they end, nothing while idle. */
export class PollStats {
  rounds = 0;
  seconds = 0;
  /** Buddies polled, over all rounds. */
  polls = 0;
  /** Rounds per bucket of POLL_SECONDS_BUCKETS (not cumulative); longer ones only in `rounds`. */
  private readonly counts = POLL_SECONDS_BUCKETS.map(() => 0);

  add(seconds: number, polls: number): void {
    this.rounds++;
    this.seconds += seconds;
    this.polls += polls;
    const i = POLL_SECONDS_BUCKETS.findIndex((le) => seconds <= le);
    if (i >= 0) this.counts[i]!++;
  }

  /** `[le, rounds]`: the rounds that took at most `le` seconds, for each bound. */
  buckets(): [le: number, rounds: number][] {
    let sum = 0;
    return POLL_SECONDS_BUCKETS.map((le, i) => [le, (sum += this.counts[i]!)]);
  }
}

/** Causes of a desired state the buddy decides itself (not a command): the controller records it too. */
const BUDDY_CAUSES: ReadonlySet<string> = new Set(['timeout', 'unhealthy', 'limit', 'completed']);

export class Poller {
  /** Cancels the next scheduled round. */
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  /** Services to collect from in the next round: their buddy announced events, or a caller asked. */
  private readonly eager = new Set<ServiceEntry>();
  /** Callers waiting for the next round (it includes what they asked for). */
  private waiters: (() => void)[] = [];
  /** When each service is next due for a poll. */
  private readonly due = new WeakMap<ServiceEntry, number>();
  private stopped = false;
  /** Between start() and stop(): the clock runs (rounds asked for before start run, and arm nothing). */
  private started = false;
  /** While writes fail: when to try again, and the wait after that. */
  private retryAt = 0;
  private retryDelay = WRITE_RETRY_FIRST_MS;
  private retryTimer: Timer | null = null;
  /** Called with each fresh status (for live views). */
  onStatus: (entry: ServiceEntry, status: BuddyStatus) => void = () => undefined;
  /** Called with a desired state a buddy chose itself (MaxRunTime, a health check, a limit, a job done), once stored. */
  onBuddyDesired: (entry: ServiceEntry, desired: DesiredState) => void = () => undefined;
  /** Called when the database refuses a buddy's events for another reason than being unwritable. */
  onRefused: (batch: EventBatch, err: unknown) => void = () => undefined;
  /** True while a client subscribes to this service (its quiet buddy is polled every QUIET_FACTOR intervals then). */
  watched: (entry: ServiceEntry) => boolean = () => false;
  /** The rounds so far: how many, how long, how many polls. */
  readonly stats = new PollStats();
  /** What each buddy held, not yet stored, after its last poll (events and usage records). */
  private readonly waiting = new WeakMap<ServiceEntry, number>();

  constructor(
    private readonly services: Pick<ServiceTable, 'values' | 'byUuid'>,
    private readonly store: Pick<AuditStore, 'insertEvents' | 'writeFailure' | 'probe'>,
    private intervalMs: number,
    private readonly clock: Clock = REAL_CLOCK,
  ) {}

  /** A new BuddyPollingInterval (after a configuration reload): from the next round on. */
  setInterval(ms: number): void {
    this.intervalMs = ms;
  }

  start(): void {
    this.stopped = false;
    this.started = true;
    this.schedule();
  }

  /** Something changed when the next wake-up should come (the database became unwritable): re-arm the clock. */
  poke(): void {
    this.schedule();
  }

  /** Stop polling after the round in flight (if any) is committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    this.timer?.clear();
    this.retryTimer?.clear();
    this.timer = null;
    this.retryTimer = null;
    await this.running;
  }

  /** The buddy stopped its service on its own (cause timeout, unhealthy, limit): the database follows it. */
  private takeBuddyDesired(batch: EventBatch): void {
    const decided = batch.events.filter((ev) => ev.type === 'desired' && BUDDY_CAUSES.has(String(detailOf(ev, 'desired').cause)));
    const entry = decided.length > 0 ? this.services.byUuid(batch.serviceUuid) : undefined;
    const desired = detailOf(decided.at(-1), 'desired').desired;
    if (entry && desired) this.onBuddyDesired(entry, desired);
  }

  /** Collect from this service as soon as possible (its buddy announced events). */
  wake(entry: ServiceEntry): void {
    this.eager.add(entry);
    this.next();
  }

  /** A client begins to watch statuses: every buddy is polled at the next tick, then the quiet ones it watches every QUIET_FACTOR intervals. */
  refresh(): void {
    for (const e of this.services.values()) this.due.delete(e);
    this.schedule();
  }

  /** A new buddy: collect from it now, and poll it at the active pace until it is quiet. */
  hurry(entry: ServiceEntry): void {
    this.due.delete(entry);
    this.wake(entry);
  }

  /**
   * Run a round over the given services (all when omitted) and resolve after its commit; with
   * `maxWaitMs`, resolve after that long at the latest (a read answers with what is known then).
   */
  collect(entries?: ServiceEntry[], maxWaitMs?: number): Promise<void> {
    for (const e of entries ?? this.services.values()) this.eager.add(e);
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.next(true);
    if (maxWaitMs === undefined) return done;
    let timer: Timer | undefined;
    const waited = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, maxWaitMs)));
    return Promise.race([done, waited]).finally(() => timer?.clear());
  }

  /** Collect until the given buddies (all when omitted) hold nothing more than one answer carries. */
  async drain(entries?: ServiceEntry[]): Promise<void> {
    await this.collect(entries);
    // A round that found more has already started the next one (or left it for the next collect).
    while ((this.eager.size > 0 || this.running) && !this.writeFailing) await this.collect([]);
  }

  /** The events and usage records the linked buddies hold that are not stored yet, as their last polls saw them. */
  pending(): number {
    let n = 0;
    for (const e of this.services.values()) if (e.link?.open) n += this.waiting.get(e) ?? 0;
    return n;
  }

  /** How long a quiet buddy waits for its next poll. */
  private quietMs(entry: ServiceEntry): number {
    return this.watched(entry) ? this.intervalMs * QUIET_FACTOR : Math.max(QUIET_POLL_MS, this.intervalMs * QUIET_FACTOR);
  }

  /** True while the database cannot be written. */
  private get writeFailing(): boolean {
    return this.store.writeFailure !== null;
  }

  /**
   * Start the next round unless one runs. `asked`: a caller waits for it (it runs even while writes
   * fail, to refresh statuses); announcements alone wait for the retry time then.
   */
  private next(asked = false): void {
    if (this.running || (this.eager.size === 0 && this.waiters.length === 0)) return;
    if (this.stopped && !asked) return;
    if (!asked && this.waiters.length === 0 && this.writeFailing && this.clock.now() < this.retryAt) {
      this.retryTimer ??= this.clock.setTimeout(() => {
        this.retryTimer = null;
        this.next();
      }, this.retryAt - this.clock.now());
      return;
    }
    void this.run();
  }

  /**
   * Arm the timer for the next buddy due (at least one interval away, at most QUIET_POLL_MS): an idle
   * controller sleeps until then instead of waking every interval (~1.3 ms of CPU a second here).
   * While the database cannot be written, it wakes every interval to try it again.
   */
  private schedule(): void {
    if (this.stopped || !this.started) return;
    this.timer?.clear();
    let next = Infinity;
    for (const e of this.services.values()) if (e.link?.open) next = Math.min(next, this.due.get(e) ?? 0);
    const wait = this.writeFailing ? this.intervalMs : Math.min(Math.max(next - this.clock.now(), this.intervalMs), QUIET_POLL_MS);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      const now = this.clock.now();
      for (const e of this.services.values()) if ((this.due.get(e) ?? 0) <= now) this.eager.add(e);
      if (this.writeFailing && now >= this.retryAt && this.eager.size === 0) this.store.probe();
      this.next();
      this.schedule();
    }, wait);
  }

  private run(): Promise<void> {
    const entries = [...this.eager];
    this.eager.clear();
    const waiters = this.waiters;
    this.waiters = [];
    const round = this.round(entries).finally(() => {
      this.running = null;
      for (const resolve of waiters) resolve();
      this.next(this.waiters.length > 0);
      // Due times changed; a round next() started meanwhile leaves the clock on its interval until it ends.
      this.schedule();
    });
    this.running = round;
    return round;
  }

  /** A round over the entries whose buddy is linked, counted in `stats` (a round with none is no round). */
  private async round(entries: ServiceEntry[]): Promise<void> {
    const live = entries.filter((e) => e.link?.open);
    if (live.length === 0) return;
    const began = performance.now();
    try {
      await this.pollAndStore(live);
    } finally {
      this.stats.add((performance.now() - began) / 1000, live.length);
    }
  }

  private async pollAndStore(live: ServiceEntry[]): Promise<void> {
    const answers = await Promise.allSettled(
      live.map(async (e) => {
        const link = e.link!;
        const result = await link.call('poll', { ack: link.acked, max: POLL_BATCH }, BUDDY_REQUEST_TIMEOUT_MS);
        return { e, link, result };
      }),
    );
    const batches: EventBatch[] = [];
    const taken = new Map<EventBatch, ServiceEntry>();
    const acks: { link: BuddyLink; seq: number; tell: boolean }[] = [];
    const more: ServiceEntry[] = [];
    const now = this.clock.now();
    for (const a of answers) {
      if (a.status === 'rejected') continue; // a closed link is handled by its onClose
      const { e, link, result } = a.value;
      e.observe(result.status);
      this.onStatus(e, result.status);
      const fresh = result.events.filter((ev) => ev.seq > link.acked);
      // What it holds besides what was stored before (the fresh ones, less once they are stored below).
      this.waiting.set(e, Math.max(0, result.status.pending - (result.events.length - fresh.length)));
      // A usage record (one a minute while a service runs) is no sign of activity.
      const news = fresh.some((ev) => ev.type !== USAGE_RECORD);
      if (fresh.length > 0) {
        const batch = { serviceUuid: e.uuid, service: e.config.id, instance: link.instance, buddyId: link.buddyId, events: fresh };
        batches.push(batch);
        taken.set(batch, e);
        // Usage records alone are acknowledged by the next poll (its `ack`): one wake-up of a quiet buddy fewer.
        acks.push({ link, seq: fresh[fresh.length - 1]!.seq, tell: news });
      }
      const active = news || ACTIVE_STATES.has(result.status.state);
      this.due.set(e, now + (active ? this.intervalMs : this.quietMs(e)));
      if (result.more) more.push(e);
    }
    if (batches.length === 0) return;
    let stored = batches;
    try {
      this.store.insertEvents(batches);
    } catch (err) {
      if (this.store.writeFailure) {
        // The store reports the failure (once); the events stay in the buddies for the next try.
        for (const e of [...more, ...batches.map((b) => this.services.byUuid(b.serviceUuid))]) if (e) this.eager.add(e);
        this.retryAt = this.clock.now() + this.retryDelay;
        this.retryDelay = Math.min(this.retryDelay * 2, WRITE_RETRY_MAX_MS);
        return;
      }
      // Not an unwritable database, but one batch it refuses: each buddy's on its own, so that one
      // bad batch holds up no other buddy (its own events stay in its buddy, and it is told).
      stored = batches.filter((b) => {
        try {
          this.store.insertEvents([b]);
          return true;
        } catch (one) {
          this.onRefused(b, one === err ? err : one);
          return false;
        }
      });
    }
    this.retryDelay = WRITE_RETRY_FIRST_MS;
    for (const b of stored) {
      const e = taken.get(b)!;
      this.waiting.set(e, Math.max(0, (this.waiting.get(e) ?? 0) - b.events.length));
      this.takeBuddyDesired(b);
    }
    for (const e of more) this.eager.add(e); // (collected again at once unless stopped: drain() goes on)
    for (const { link, seq, tell } of acks) {
      if (!stored.some((b) => b.instance === link.instance)) continue;
      link.acked = seq;
      if (tell) link.call('ack', { seq }, BUDDY_REQUEST_TIMEOUT_MS).catch(() => undefined);
    }
  }
}
