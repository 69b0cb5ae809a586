// The buddy's event queue: ring in memory, journal on disk, order, acknowledgement, bounded loss.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EventQueue } from '../../buddy/event-queue.js';
import { JournalFile, setAsideOldJournal } from '../../buddy/journal-file.js';
import { EventRing } from '../../buddy/ring.js';
import { readJournal } from '../../schema/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'upk-queue-'));
let n = 0;
function queue(capacity: number, journalMax: number) {
  const path = join(dir, `journal-${++n}`);
  const journal = new JournalFile(path, { journal: 1, instance: `i${n}`, uuid: 'u', service: 's', pid: 1, started: 'x' });
  return { q: new EventQueue(capacity, journal, journalMax), path, journal };
}
const seqs = (events: { seq: number }[]): number[] => events.map((e) => e.seq);

describe('event ring', { timeout: 5000 }, () => {
  it('keeps the newest; a push into a full ring returns the oldest', () => {
    const r = new EventRing(2);
    const ev = (seq: number) => ({ seq, time: seq, type: 'spawned' as const });
    assert.equal(r.push(ev(1)), undefined);
    r.push(ev(2));
    assert.equal(r.push(ev(3))?.seq, 1);
    assert.deepEqual(seqs(r.peek(9)), [2, 3]);
    assert.equal(r.ack(2), 1);
    assert.deepEqual(seqs(r.resize(0)), []);
  });
});

describe('event queue', { timeout: 5000 }, () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the fill the 75 % rule reads leaves out what a poll handed out, until the controller that took it is gone', () => {
    const { q } = queue(4, 100);
    q.push('usage', { detail: null }, 1);
    q.push('usage', { detail: null }, 2);
    assert.equal(q.fill, 0.5);
    q.collected(seqs(q.peek(10)).at(-1)!); // a poll took both; their acknowledgement comes with the next poll
    assert.equal(q.fill, 0, 'collected: not why a ring fills');
    q.push('exited', { code: 1 }, 3);
    q.push('spawned', { pid: 2 }, 4);
    assert.equal(q.fill, 0.5, 'only the two new events count');
    q.ack(2, 5);
    assert.equal(q.fill, 0.5);
    q.collected(0); // the controller's connection closed: what it took may not be stored
    assert.equal(q.fill, 0.5);
    q.push('usage', { detail: null }, 6);
    q.collected(0);
    assert.equal(q.fill, 0.75);
  });

  it('events that overflow into the journal while a peek of the ring is delivered are acknowledged with it', () => {
    const { q } = queue(4, 100);
    for (let i = 1; i <= 4; i++) q.push('spawned', { pid: i }, i);
    const delivering = q.peek(10); // from the ring: 1..4
    assert.deepEqual(seqs(delivering), [1, 2, 3, 4]);
    for (let i = 5; i <= 7; i++) q.push('spawned', { pid: i }, i); // 1..3 overflow into the journal meanwhile
    q.ack(4, 100);
    assert.deepEqual(seqs(q.peek(10)), [5, 6, 7], 'nothing delivered twice');
    assert.equal(q.pending, 3);
  });

  it('an event the journal cannot take (a full disk) is counted as dropped, never thrown', () => {
    const { q, journal } = queue(2, 100);
    const errors: string[] = [];
    q.onJournalError = (m) => errors.push(m);
    journal.append = () => {
      throw new Error('ENOSPC: no space left on device, write');
    };
    for (let i = 1; i <= 5; i++) q.push('spawned', { pid: i }, i); // 1..3 overflow and are lost
    assert.equal(errors.length, 3);
    q.ack(5, 10);
    const [report] = q.peek(10);
    assert.equal(report?.type, 'events_dropped');
    assert.deepEqual(report?.detail, { count: 3, firstSeq: 1, lastSeq: 3 });
  });

  it('numbers events from 1 and keeps them until acknowledged', () => {
    const { q } = queue(4, 10);
    q.push('spawned', { pid: 1 }, 10);
    q.push('exited', { pid: 1, code: 0 }, 11);
    assert.deepEqual(seqs(q.peek(10)), [1, 2]);
    q.ack(1, 12);
    assert.deepEqual(seqs(q.peek(10)), [2]);
    q.ack(1, 12);
    q.ack(2, 13);
    assert.equal(q.pending, 0);
    assert.equal(q.lastSeq, 2);
  });

  it('overflow goes to the journal on disk, oldest first, and comes back in order', () => {
    const { q, path } = queue(3, 100);
    for (let i = 0; i < 10; i++) q.push('spawned', { pid: i }, i);
    assert.equal(q.pending, 10);
    assert.equal(q.journaled, 7);
    const onDisk = readJournal(path, 0, 100);
    assert.equal(onDisk.header?.instance, `i${n}`);
    assert.deepEqual(seqs(onDisk.events.map((e) => e.event)), [1, 2, 3, 4, 5, 6, 7]);
    const all: number[] = [];
    for (let batch = q.peek(4); batch.length > 0; batch = q.peek(4)) {
      all.push(...seqs(batch));
      q.ack(batch.at(-1)!.seq, 100);
    }
    assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'every event once, in order, across disk and memory');
    assert.ok(!existsSync(path), 'an empty journal is removed');
  });

  it('past the bound, events are dropped and an events_dropped event says how many and which', () => {
    const { q } = queue(2, 3);
    for (let i = 0; i < 9; i++) q.push('spawned', {}, i);
    assert.equal(q.pending, 5);
    assert.equal(q.droppedSinceReport, 4);
    const journal = q.peek(10);
    assert.deepEqual(seqs(journal), [1, 2, 3]);
    q.ack(3, 50);
    const rest = [];
    for (let batch = q.peek(10); batch.length > 0; batch = q.peek(10)) {
      rest.push(...batch);
      q.ack(batch.at(-1)!.seq, 60);
    }
    assert.deepEqual(
      rest.map((e) => [e.seq, e.type]),
      [
        [8, 'spawned'],
        [9, 'spawned'],
        [10, 'events_dropped'],
      ],
    );
    assert.deepEqual(rest[2]!.detail, { count: 4, firstSeq: 4, lastSeq: 7 }, 'sequence numbers only grow');
  });

  it('spill puts what is in memory on disk; a new buddy sets an old journal aside', () => {
    const { q, path, journal } = queue(5, 100);
    for (let i = 0; i < 3; i++) q.push('spawned', {}, i);
    q.spill(5);
    journal.retire();
    assert.ok(!existsSync(path));
    const retired = `${path}.i${n}`;
    assert.deepEqual(seqs(readJournal(retired, 0, 10).events.map((e) => e.event)), [1, 2, 3]);
    const { q: q2, path: p2 } = queue(1, 10);
    q2.push('spawned', {}, 1);
    q2.push('spawned', {}, 2);
    assert.equal(setAsideOldJournal(p2), `${p2}.i${n}`);
    assert.ok(readFileSync(`${p2}.i${n}`, 'utf8').includes('"seq":1'));
  });
});

describe('event queue without a journal', { timeout: 5000 }, () => {
  it('JournalMaxEvents 0: what an exiting buddy cannot keep is still written down as lost', () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'upk-queue0-'));
    try {
      const path = join(dir2, 'journal');
      const journal = new JournalFile(path, { journal: 1, instance: 'z', uuid: 'u', service: 's', pid: 1, started: 'x' });
      const q = new EventQueue(2, journal, 0);
      for (let i = 0; i < 5; i++) q.push('spawned', {}, i);
      q.spill(9);
      const kept = readJournal(path, 0, 10).events.map((e) => e.event);
      assert.deepEqual(
        kept.map((e) => [e.type, e.detail]),
        [['events_dropped', { count: 5, firstSeq: 1, lastSeq: 5 }]],
      );
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
