// A long controller outage while a service crash-loops: the ring overflows into the journal on disk,
// and the next controller gets every event, once. Past the journal's bound, the loss is recorded.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, assertStartsRecorded } from '../helpers/sandbox.js';

const crashLoop = (box: Sandbox, name: string, extra: Record<string, unknown>) => ({
  ExecStart: `sh -c 'echo $$ >> ${box.file(`${name}.starts`)}; exit 1'`,
  InitialState: 'running',
  MinUptime: 0,
  UserRateLimit: 0.01,
  UserMaxRestarts: -1,
  RingbufferSize: 8,
  ...extra,
});

describe('journal', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('journal');
    box.writeServices({
      looper: crashLoop(box, 'looper', {}),
      bounded: crashLoop(box, 'bounded', { JournalMaxEvents: 30 }),
      solo: { ExecStart: 'sleep 1000', MinUptime: 0.1, ReconnectRetries: 1 },
    });
    await box.startController();
    await box.waitFor('both looping', () => box.events('looper').length > 10 && box.events('bounded').length > 10);
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
  });
  after(() => box.cleanup());

  it('an outage fills the journal; the next controller stores every event exactly once', async () => {
    // A 10-minute outage with one crash a second is 600 starts, some 1,800 events: wait for that many.
    const lines = (): number => readFileSync(join(box.runDir('looper'), 'journal'), 'utf8').split('\n').length - 2;
    await box.waitFor('1,800 events in the journal', () => lines() >= 1800, 40_000);
    await box.startController();
    const c = await box.client();
    await c.stop('looper');
    const events = box.events('looper');
    assertStartsRecorded(events, box.file('looper.starts'));
    assert.equal(events.filter((e) => e.type === 'events_dropped').length, 0);
    const seqs = new Map<number, number[]>();
    for (const e of events) seqs.set(e.buddy_id, [...(seqs.get(e.buddy_id) ?? []), e.seq]);
    for (const [, list] of seqs)
      assert.deepEqual(
        list,
        list.map((_, i) => i + 1),
        'no gap, no repeat',
      );
    await box.waitFor('the journal removed once delivered', () => !existsSync(join(box.runDir('looper'), 'journal')));
  });

  it('past JournalMaxEvents, events are dropped and an events_dropped event records how many', async () => {
    const c = await box.client();
    await c.stop('bounded');
    // The record of a loss is made when an acknowledgement makes room, and stored at the next poll:
    // wait until every gap is accounted for (or 10 s), then judge.
    const accounted = (): boolean => {
      const all = box.events('bounded');
      const have = new Set(all.map((e) => e.seq));
      const gaps = [...Array(Math.max(0, ...have)).keys()].filter((i) => !have.has(i + 1)).length;
      const told = all
        .filter((e) => e.type === 'events_dropped')
        .reduce((n, e) => n + (JSON.parse(e.detail!) as { count: number }).count, 0);
      return gaps === told;
    };
    await box.waitFor('every loss recorded', accounted, 10_000).catch(() => undefined);
    const events = box.events('bounded');
    const drops = events.filter((e) => e.type === 'events_dropped');
    assert.ok(drops.length >= 1, 'the loss is recorded');
    const details = drops.map((d) => JSON.parse(d.detail!) as { count: number; firstSeq: number; lastSeq: number });
    for (const d of details) {
      assert.ok(d.count > 0);
      // A record lost in its turn is counted into the next, whose range then spans both: count ≤ range.
      assert.ok(d.lastSeq - d.firstSeq + 1 >= d.count, `count ${d.count} within ${d.firstSeq}..${d.lastSeq}`);
    }
    const stored = new Set(events.map((e) => e.seq));
    const max = Math.max(...stored);
    const missing = [...Array(max).keys()].map((i) => i + 1).filter((s) => !stored.has(s));
    for (const s of missing)
      assert.ok(
        details.some((d) => d.firstSeq <= s && s <= d.lastSeq),
        `lost seq ${s} lies in a loss record's range`,
      );
    assert.equal(
      details.reduce((n, d) => n + d.count, 0),
      missing.length,
      'the counts add up to exactly the sequence numbers missing',
    );
  });

  it('a buddy that exits while no controller runs leaves its journal; the next controller takes it in', async () => {
    const c = await box.client();
    await c.start('solo');
    const [solo] = await c.status('solo');
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    process.kill(solo!.buddyPid!, 'SIGTERM'); // the buddy stops its service and exits; no one to deliver to
    const left = await box.waitFor(
      'journal.<instance>',
      () => {
        const files = readdirSync(box.runDir('solo')).filter((f) => f.startsWith('journal.'));
        return files.length > 0 ? files : undefined;
      },
      15_000,
    );
    await box.startController();
    await (await box.client()).stop('solo');
    const events = box.events('solo');
    const first = events.filter((e) => e.buddy_id === events[0]!.buddy_id);
    assert.equal(first.at(-1)!.type, 'buddy_exiting', "the lost buddy's events are all there, to its last");
    assert.deepEqual(
      first.map((e) => e.seq),
      first.map((_, i) => i + 1),
    );
    for (const f of left) assert.ok(!existsSync(join(box.runDir('solo'), f)), `${f} was taken in and removed`);
  });
});
