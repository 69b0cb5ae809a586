// The timeline's pure part: three sorted lists merged in time order (ties: the earlier list first),
// cut at a limit, and grouped into bursts by the gap. Then its pages on a real SQLite file: thousands
// of entries of the three kinds in one millisecond, each visited once, in order, whatever the limit;
// the cursor checked; and a filter by service keeping the requests about no one service, as the
// audit trail's does.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { auditHandlers } from '../../controller/audit-handlers.js';
import { AuditStore } from '../../controller/audit-store.js';
import type { ClientContext } from '../../controller/client-server.js';
import { ServiceTable } from '../../controller/service-table.js';
import { timelineHandlers } from '../../controller/timeline-handlers.js';
import { burstsOf, mergeByTime, type Timed } from '../../schema/timeline-merge.js';
import { ErrorCode } from '../../schema/errors.js';
import { TIMELINE_KINDS, timelineValidators, type TimelineEntry, type TimelineResult } from '../../schema/timeline-protocol.js';
import { auditValidators } from '../../schema/audit-protocol.js';
import { loadServiceText } from '../helpers/load-services.js';

const T0 = Date.parse('2026-12-06T02:00:00.000Z');

/** A stand-in entry of a kind, at T0 + `s` seconds, of a service. */
function at(s: number, kind: TimelineEntry['kind'], service: string | null, id: number): Timed {
  const ms = T0 + s * 1000;
  const time = new Date(ms).toISOString();
  const entry = { time, kind, service, id } as unknown as TimelineEntry;
  return { ms, entry };
}
const ids = (ts: Timed[]): number[] => ts.map((t) => (t.entry as unknown as { id: number }).id);

describe('timeline merge', () => {
  const events = [at(0, 'event', 'web', 1), at(2, 'event', 'db', 2), at(30, 'event', 'web', 3), at(31, 'event', 'web', 4)];
  const changes = [at(1, 'config', 'web', 10), at(30, 'config', 'db', 11)];
  const requests = [at(0.5, 'request', null, 20), at(29.9, 'request', 'web', 21), at(30, 'request', 'web', 22)];

  it('interleaves the three lists in time order; at one time, events, then changes, then requests', () => {
    const { merged, truncated } = mergeByTime([events, changes, requests], 100);
    assert.equal(truncated, false);
    assert.deepEqual(ids(merged), [1, 20, 10, 2, 21, 3, 11, 22, 4]);
  });

  it('stops at the limit and tells it was cut; not when exactly the limit matched', () => {
    const cut = mergeByTime([events, changes, requests], 4);
    assert.deepEqual(ids(cut.merged), [1, 20, 10, 2]);
    assert.equal(cut.truncated, true);
    const exact = mergeByTime([events, changes, requests], 9);
    assert.equal(exact.merged.length, 9);
    assert.equal(exact.truncated, false);
    assert.deepEqual(mergeByTime([[], [], []], 10), { merged: [], truncated: false });
  });

  it('groups entries less than the gap apart into bursts; a pause of the gap or more begins a new one', () => {
    const { merged } = mergeByTime([events, changes, requests], 100);
    const bursts = burstsOf(merged, 10_000);
    assert.deepEqual(bursts, [
      { from: '2026-12-06T02:00:00.000Z', to: '2026-12-06T02:00:02.000Z', first: 0, count: 4, services: ['db', 'web'] },
      { from: '2026-12-06T02:00:29.900Z', to: '2026-12-06T02:00:31.000Z', first: 4, count: 5, services: ['db', 'web'] },
    ]);
    // Exactly the gap apart: two bursts; just under: one.
    assert.equal(burstsOf([at(0, 'event', 'a', 1), at(10, 'event', 'a', 2)], 10_000).length, 2);
    assert.equal(burstsOf([at(0, 'event', 'a', 1), at(9.999, 'event', 'a', 2)], 10_000).length, 1);
    // A lone request about no service: a burst naming none.
    assert.deepEqual(burstsOf([at(0, 'request', null, 1)], 10_000)[0]!.services, []);
    assert.deepEqual(burstsOf([], 10_000), []);
  });
});

/** An entry's key: its kind and id (each table numbers its own rows). */
const key = (e: TimelineEntry): string => `${e.kind} ${e.kind === 'event' ? e.event.id : e.kind === 'config' ? e.change.id : e.request.id}`;

/** The timeline's order: time, then kind (events, changes, requests), then id. */
function inOrder(entries: TimelineEntry[]): TimelineEntry[] {
  const rank = (e: TimelineEntry): number => TIMELINE_KINDS.indexOf(e.kind);
  const id = (e: TimelineEntry): number => Number(key(e).split(' ')[1]);
  return [...entries].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || rank(a) - rank(b) || id(a) - id(b));
}

/**
 * A store with web and db, and at T0: 1,200 events, 400 configuration changes and 520 client requests
 * (80 about no one service) all in one millisecond, interleaved as they were written, with a few
 * entries of each kind a millisecond before and after.
 */
function crowdedStore(t: TestContext): { store: AuditStore; total: number } {
  const dir = mkdtempSync(join(tmpdir(), 'upk-timeline-'));
  const store = new AuditStore(join(dir, 'upkeeper.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const loaded = loadServiceText(t, JSON.stringify({ web: { ExecStart: 'sleep 1' }, db: { ExecStart: 'sleep 1' } })).services;
  const services = loaded.map((svc) => ({ id: svc.id, uuid: store.upsertService(svc, () => null, T0 - 60_000).uuid }));
  const seqs = new Map<string, number>();
  const event = (s: { id: string; uuid: string }, time: number): void => {
    const buddyId = store.buddyId(`b-${s.id}`, s.uuid, 1, T0 - 60_000);
    const seq = (seqs.get(s.id) ?? 0) + 1;
    seqs.set(s.id, seq);
    const detail = { desired: 'running', cause: 'command' } as const;
    store.insertEvents([
      { serviceUuid: s.uuid, service: s.id, instance: `b-${s.id}`, buddyId, events: [{ seq, time, type: 'desired', detail }] },
    ]);
  };
  const change = (s: { id: string; uuid: string }, time: number): void =>
    store.recordChanges([{ service: s.id, uuid: s.uuid, change: 'changed', message: 'x', keys: ['ExecStart'] }], 'reload', time);
  const request = (s: { id: string; uuid: string } | null, time: number): void => {
    const id = store.beginRequest(
      {
        client: 'test',
        clientPid: 1,
        clientUser: 'me',
        request: s ? 'restart' : 'config.reload',
        serviceUuid: s?.uuid ?? null,
        params: {},
      },
      time,
    );
    store.finishRequest(id, true, 'ok');
  };
  const [web, db] = services as [{ id: string; uuid: string }, { id: string; uuid: string }];
  let total = 0;
  for (const ms of [T0 - 1, T0 + 1]) {
    event(web, ms);
    change(db, ms);
    request(null, ms);
    total += 3;
  }
  for (let i = 0; i < 1200; i++) {
    event(i % 3 === 0 ? db : web, T0);
    if (i % 3 === 0) change(i % 2 === 0 ? web : db, T0);
    if (i % 5 < 2) request(i % 15 === 0 ? null : i % 2 === 0 ? web : db, T0);
    total += 1 + (i % 3 === 0 ? 1 : 0) + (i % 5 < 2 ? 1 : 0);
  }
  return { store, total };
}

const CTX = {} as ClientContext;

describe("timeline pages (after: a page's next)", { timeout: 60_000 }, () => {
  const since = new Date(T0 - 1000).toISOString();
  const until = new Date(T0 + 1000).toISOString();

  it('visits every entry once, in order, even with thousands in one millisecond, whatever the limit', async (t) => {
    const { store, total } = crowdedStore(t);
    const timeline = timelineHandlers({ services: new ServiceTable(), store, collect: async () => undefined }).timeline;
    const ask = async (q: Record<string, unknown>): Promise<TimelineResult> => timeline(timelineValidators.timeline(q), CTX);
    const whole = await ask({ since, until, limit: 10_000 });
    assert.equal(whole.entries.length, total);
    assert.equal(whole.truncated, false);
    assert.equal(whole.next, undefined, 'no next when not truncated');
    assert.deepEqual(whole.entries.map(key), inOrder(whole.entries).map(key), 'the whole answer in the timeline order');
    assert.ok(new Set(whole.entries.map(key)).size === total);

    for (const limit of [1, 7, 333]) {
      const seen: TimelineEntry[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await ask({ since, until, limit, ...(after === undefined ? {} : { after }) });
        pages++;
        assert.ok(page.entries.length <= limit);
        assert.equal(page.truncated, page.next !== undefined, 'next exactly when truncated');
        seen.push(...page.entries);
        after = page.next;
      } while (after !== undefined);
      assert.deepEqual(seen.map(key), whole.entries.map(key), `limit ${limit}: each entry once, in order`);
      assert.equal(pages, Math.ceil(total / limit), `limit ${limit}: no page more than needed`);
    }

    // With a service named: its entries, and the requests about no one service, paged the same way.
    const onlyWeb = whole.entries.filter((e) => e.service === 'web' || (e.kind === 'request' && e.service === null));
    const seen: TimelineEntry[] = [];
    let after: string | undefined;
    do {
      const page = await ask({ since, until, limit: 50, services: ['web'], ...(after === undefined ? {} : { after }) });
      seen.push(...page.entries);
      after = page.next;
    } while (after !== undefined);
    assert.deepEqual(seen.map(key), onlyWeb.map(key));
  });

  it('refuses a cursor no answer gave, and one outside since..until (BAD_REQUEST)', async (t) => {
    const { store } = crowdedStore(t);
    const timeline = timelineHandlers({ services: new ServiceTable(), store, collect: async () => undefined }).timeline;
    const ask = async (q: Record<string, unknown>): Promise<TimelineResult> => timeline(timelineValidators.timeline(q), CTX);
    const first = await ask({ since, until, limit: 3 });
    assert.match(first.next!, /^\d+-[ecr]-\d+$/);
    const bad = { code: ErrorCode.BAD_REQUEST };
    for (const after of [
      '',
      'x',
      '1-e-0',
      '01-e-1',
      '1-x-1',
      '1-e-1-',
      ' 1-e-1',
      '1-E-1',
      '99999999999999999-e-1',
      '1-e-99999999999999999',
      7,
    ]) {
      await assert.rejects(ask({ since, until, after }), bad, JSON.stringify(after));
    }
    await assert.rejects(ask({ since, until, after: `${T0 - 5000}-e-1` }), {
      ...bad,
      message: /is not from .* to .*: page with the since and until/,
    });
    await assert.rejects(ask({ since, until: new Date(T0 - 2).toISOString(), after: first.next }), bad);
    // The same cursor with its query: the page after.
    const second = await ask({ since, until, limit: 3, after: first.next });
    assert.equal(second.entries.length, 3);
    assert.notDeepEqual(second.entries.map(key), first.entries.map(key));
  });

  it('a filter by service keeps the requests about no one service, in the timeline and in the audit trail alike', async (t) => {
    const { store } = crowdedStore(t);
    const services = new ServiceTable();
    const timeline = await timelineHandlers({ services, store, collect: async () => undefined }).timeline(
      timelineValidators.timeline({ since, until, services: ['web'], limit: 10_000 }),
      CTX,
    );
    const requests = await auditHandlers({ services, store }).requests(
      auditValidators.requests({ since, until, service: 'web', limit: 10_000 }),
      CTX,
    );
    const fromTimeline = timeline.entries.flatMap((e) => (e.kind === 'request' ? [e.request.id] : []));
    assert.deepEqual(
      requests.map((r) => r.id),
      fromTimeline,
    );
    assert.ok(requests.some((r) => r.service === null && r.request === 'config.reload'));
    assert.ok(requests.some((r) => r.service === 'web'));
    assert.ok(requests.every((r) => r.service === 'web' || r.service === null));
  });
});
