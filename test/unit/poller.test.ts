// The poller's cadence (controller/poller.ts) on fake buddies and virtual time: an active buddy every
// interval, a quiet one every QUIET_POLL_MS (every QUIET_FACTOR intervals while a client subscribes),
// an announcement at once; acknowledgements only after the commit; and a database that cannot be written tried again with backoff, never in a loop.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { BuddyLink } from '../../controller/buddy-link.js';
import type { EventBatch } from '../../controller/audit-store.js';
import {
  POLL_SECONDS_BUCKETS,
  Poller,
  QUIET_FACTOR,
  QUIET_POLL_MS,
  WRITE_RETRY_FIRST_MS,
  WRITE_RETRY_MAX_MS,
} from '../../controller/poller.js';
import { ServiceEntry } from '../../controller/service-entry.js';
import { ServiceTable } from '../../controller/service-table.js';
import type { WriteFailure } from '../../controller/write-health.js';
import { USAGE_RECORD, type BuddyEvent, type BuddyStatus } from '../../schema/records.js';
import { buddyStatus } from '../helpers/buddy-status.js';
import { loadServiceText } from '../helpers/load-services.js';
import { VirtualClock, settle } from '../helpers/virtual-clock.js';

const INTERVAL_MS = 500;

/** A fake buddy: it holds events until they are acknowledged, and notes when it is polled. */
class FakeBuddy {
  held: BuddyEvent[] = [];
  polls: number[] = [];
  acks: number[] = [];
  private seq = 0;
  constructor(
    readonly id: string,
    public state: BuddyStatus['state'],
    private readonly clock: VirtualClock,
  ) {}

  add(type: BuddyEvent['type'] = 'exited'): void {
    this.held.push({ seq: ++this.seq, time: this.clock.now(), type });
  }

  link(): BuddyLink {
    const call = (method: string, params: { ack?: number; max?: number; seq?: number }): Promise<unknown> => {
      if (method === 'poll') {
        this.polls.push(this.clock.now());
        this.held = this.held.filter((e) => e.seq > (params.ack ?? 0));
        return Promise.resolve({
          events: this.held.slice(0, params.max),
          more: this.held.length > (params.max ?? Infinity),
          status: buddyStatus(this.id, this.state, { pid: 1000, pending: this.held.length }),
        });
      }
      if (method === 'ack') this.acks.push(params.seq ?? -1);
      return Promise.resolve(null);
    };
    const link = {
      open: true,
      acked: 0,
      buddyId: 1,
      instance: `i-${this.id}`,
      pid: 1,
      hello: { status: buddyStatus(this.id, this.state, { pid: 1000 }) },
      call,
    };
    return link as unknown as BuddyLink;
  }
}

/** A store that can be made unwritable. */
class FakeStore {
  stored: BuddyEvent[] = [];
  failing: WriteFailure | null = null;
  get writeFailure(): WriteFailure | null {
    return this.failing;
  }
  insertEvents(batches: EventBatch[]): number {
    if (this.failing) throw new Error('database or disk is full');
    for (const b of batches) this.stored.push(...b.events);
    return batches.reduce((n, b) => n + b.events.length, 0);
  }
  probe(): void {}
}

function world(t: TestContext, buddies: Record<string, BuddyStatus['state']>) {
  const loaded = loadServiceText(t, JSON.stringify(Object.fromEntries(Object.keys(buddies).map((id) => [id, { ExecStart: 'x' }]))));
  const clock = new VirtualClock(0);
  const table = new ServiceTable();
  const fakes = new Map<string, FakeBuddy>();
  const entries = new Map<string, ServiceEntry>();
  for (const cfg of loaded.services) {
    const fake = new FakeBuddy(cfg.id, buddies[cfg.id]!, clock);
    const e = new ServiceEntry(cfg, `uuid-${cfg.id}`, `/nonexistent/${cfg.id}`, 'running');
    e.bind(fake.link());
    table.set(e);
    fakes.set(cfg.id, fake);
    entries.set(cfg.id, e);
  }
  const store = new FakeStore();
  const poller = new Poller(table, store, INTERVAL_MS, clock);
  t.after(() => poller.stop());
  return { poller, clock, store, b: (id: string) => fakes.get(id)!, e: (id: string) => entries.get(id)! };
}

/** The gaps between successive moments. */
const gaps = (times: number[]): number[] => times.slice(1).map((x, i) => x - times[i]!);

describe('poller cadence', { timeout: 10_000 }, () => {
  it('an active buddy is polled every interval, a quiet one every QUIET_POLL_MS, and every QUIET_FACTOR intervals while a client subscribes', async (t) => {
    const w = world(t, { busy: 'starting', calm: 'running' });
    w.poller.start();
    await w.clock.pass(3 * QUIET_POLL_MS);
    assert.equal(w.b('busy').polls.length, (3 * QUIET_POLL_MS) / INTERVAL_MS);
    assert.deepEqual(gaps(w.b('calm').polls), [QUIET_POLL_MS, QUIET_POLL_MS]);
    let watched = true;
    w.poller.watched = (e) => watched && e === w.e('calm');
    w.poller.refresh();
    await w.clock.pass(INTERVAL_MS);
    const at = w.b('calm').polls.at(-1)!;
    assert.equal(w.clock.now() - at <= INTERVAL_MS, true, 'a client that begins watching gets fresh statuses at the next tick');
    await w.clock.pass(3 * QUIET_FACTOR * INTERVAL_MS);
    assert.deepEqual(gaps(w.b('calm').polls.filter((x) => x >= at)), [
      QUIET_FACTOR * INTERVAL_MS,
      QUIET_FACTOR * INTERVAL_MS,
      QUIET_FACTOR * INTERVAL_MS,
    ]);
    watched = false;
    await w.clock.pass(2 * QUIET_POLL_MS);
    assert.deepEqual(gaps(w.b('calm').polls).slice(-1), [QUIET_POLL_MS], 'the safety net again once nobody watches');
  });

  it('while every buddy is quiet, the poller sleeps until the next one is due instead of waking every interval', async (t) => {
    const w = world(t, { calm: 'running', other: 'running' });
    w.poller.start();
    await w.clock.pass(2 * INTERVAL_MS);
    assert.equal(w.b('calm').polls.length, 1, 'polled once, then quiet');
    assert.ok(w.clock.untilNext! > QUIET_POLL_MS - 2 * INTERVAL_MS, `the next wake-up in ${w.clock.untilNext} ms`);
    w.poller.refresh();
    assert.equal(w.clock.untilNext, INTERVAL_MS, 'a new subscription: every buddy at the next tick');
    await w.clock.pass(INTERVAL_MS);
    assert.equal(w.b('calm').polls.length, 2);
    // A quiet buddy announces and is now active: polled at once, then every interval again.
    await w.clock.pass(10 * INTERVAL_MS);
    w.b('calm').state = 'backoff';
    w.poller.wake(w.e('calm'));
    await w.clock.pass(0);
    const woken = w.b('calm').polls.at(-1)!;
    await w.clock.pass(3 * INTERVAL_MS);
    assert.deepEqual(
      gaps(w.b('calm').polls.filter((x) => x >= woken)),
      [INTERVAL_MS, INTERVAL_MS, INTERVAL_MS],
      'the clock re-armed after the round',
    );
  });

  it('usage records are no sign of activity, and are acknowledged by the next poll, not at once; other events are, until the buddy is quiet again', async (t) => {
    const w = world(t, { svc: 'running' });
    w.poller.start();
    await w.clock.pass(INTERVAL_MS); // the first poll
    w.b('svc').add(USAGE_RECORD);
    await w.clock.pass(QUIET_POLL_MS);
    assert.equal(w.b('svc').polls.length, 2, 'a usage record: still the quiet pace');
    assert.equal(w.store.stored.length, 1, 'stored');
    assert.deepEqual(w.b('svc').acks, [], 'no wake-up of its own to acknowledge it');
    w.b('svc').add('exited');
    await w.clock.pass(QUIET_POLL_MS); // collected at the quiet poll, then active for one interval
    assert.equal(w.b('svc').held.length, 1, "the usage record went with the next poll's ack");
    assert.deepEqual(w.b('svc').acks, [2], 'an event is acknowledged at once');
    await w.clock.pass(3 * INTERVAL_MS);
    assert.deepEqual(gaps(w.b('svc').polls).slice(-2), [QUIET_POLL_MS, INTERVAL_MS]);
    assert.deepEqual(
      w.store.stored.map((e) => e.seq),
      [1, 2],
      'each once',
    );
  });

  it('a buddy that announces events is polled at once, between ticks', async (t) => {
    const w = world(t, { svc: 'running' });
    w.poller.start();
    await w.clock.pass(INTERVAL_MS + 10);
    assert.equal(w.b('svc').polls.length, 1);
    w.b('svc').add('exited');
    w.poller.wake(w.e('svc'));
    await settle();
    assert.deepEqual(w.b('svc').polls, [INTERVAL_MS, INTERVAL_MS + 10], 'no time passed');
    assert.equal(w.store.stored.length, 1);
  });

  it('acknowledges only what was committed; an unwritable database is tried again after 0.5 s doubling up to 10 s, and the events wait in the buddy', async (t) => {
    const w = world(t, { svc: 'running' });
    w.b('svc').add('exited');
    w.store.failing = { since: 0, error: 'database or disk is full' };
    w.poller.start();
    await w.clock.pass(40_000);
    assert.deepEqual(w.b('svc').acks, [], 'nothing acknowledged');
    assert.equal(w.b('svc').held.length, 1, 'the event waits in the buddy');
    const expected = [WRITE_RETRY_FIRST_MS, 1000, 2000, 4000, 8000, WRITE_RETRY_MAX_MS, WRITE_RETRY_MAX_MS];
    assert.deepEqual(gaps(w.b('svc').polls).slice(0, expected.length), expected);
    w.store.failing = null;
    await w.clock.pass(WRITE_RETRY_MAX_MS);
    assert.equal(w.store.stored.length, 1);
    assert.deepEqual(w.b('svc').acks, [1], 'acknowledged once stored');
  });

  it('a read waits for a round, at most its limit, even while the database cannot be written', async (t) => {
    const w = world(t, { svc: 'running' });
    w.store.failing = { since: 0, error: 'full' };
    w.b('svc').add('exited');
    let answered = false;
    void w.poller.collect([w.e('svc')], 500).then(() => (answered = true));
    await settle();
    assert.equal(answered, true, 'the round runs at once (its status is fresh) though its write fails');
    assert.equal(w.b('svc').polls.length, 1);
  });

  it('counts its rounds, their polls and durations, and what the buddies hold that is not stored (for metrics), as rounds run', async (t) => {
    const w = world(t, { a: 'starting', b: 'running' });
    const s = w.poller.stats;
    await w.poller.collect([]);
    assert.equal(s.rounds, 0, 'a round that polls no buddy is no round');
    for (let i = 0; i < 3; i++) w.b('a').add('exited');
    await w.poller.collect();
    assert.deepEqual([s.rounds, s.polls, w.store.stored.length], [1, 2, 3]);
    assert.equal(w.poller.pending(), 0, 'all it held is stored');
    w.store.failing = { since: 0, error: 'full' };
    w.b('a').add('exited');
    w.b('b').add('spawned');
    w.b('b').add('exited');
    await w.poller.collect([w.e('a'), w.e('b')], 500);
    assert.equal(w.poller.pending(), 3, 'not stored: still theirs');
    w.store.failing = null;
    await w.poller.collect([w.e('a'), w.e('b')]);
    assert.equal(w.poller.pending(), 0);
    assert.equal(w.store.stored.length, 6);
    assert.deepEqual([s.rounds, s.polls], [3, 6]);
    assert.ok(s.seconds >= 0 && s.seconds < 10);
    const buckets = s.buckets();
    assert.deepEqual(
      buckets.map(([le]) => le),
      POLL_SECONDS_BUCKETS,
    );
    assert.ok(
      buckets.every(([, n], i) => i === 0 || n >= buckets[i - 1]![1]),
      'cumulative',
    );
    assert.equal(buckets.at(-1)![1], 3, 'every round took less than 10 s');
  });
});
