// The event ring: sequence numbers, acknowledgement, overflow accounting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventRing } from '../../buddy/ring.js';

describe('event ring', { timeout: 5000 }, () => {
  it('numbers events from 1 and keeps them until acknowledged', () => {
    const r = new EventRing(4);
    r.push('spawned', { pid: 1 }, 10);
    r.push('exited', { pid: 1, code: 0 }, 11);
    assert.deepEqual(r.peek(10).map((e) => e.seq), [1, 2]);
    assert.equal(r.ack(1, 12), 1);
    assert.deepEqual(r.peek(10).map((e) => e.seq), [2]);
    assert.equal(r.ack(1, 12), 0, 'an old ack is harmless');
    r.ack(2, 13);
    assert.equal(r.pending, 0);
    assert.equal(r.lastSeq, 2);
  });

  it('drops the oldest on overflow and records events_dropped once there is room', () => {
    const r = new EventRing(3);
    for (let i = 0; i < 5; i++) r.push('spawned', { pid: i }, i);
    assert.deepEqual(r.peek(10).map((e) => e.seq), [3, 4, 5]);
    assert.equal(r.droppedSinceReport, 2);
    r.ack(3, 100);
    const events = r.peek(10);
    assert.deepEqual(events.map((e) => e.type), ['spawned', 'spawned', 'events_dropped']);
    assert.deepEqual(events[2]!.detail, { count: 2 });
    assert.equal(events[2]!.seq, 6, 'sequence numbers only grow');
  });

  it('peek respects the batch size', () => {
    const r = new EventRing(10);
    for (let i = 0; i < 7; i++) r.push('spawned', {}, i);
    assert.equal(r.peek(3).length, 3);
  });

  it('resize keeps the newest events', () => {
    const r = new EventRing(5);
    for (let i = 0; i < 5; i++) r.push('spawned', {}, i);
    r.resize(2);
    assert.deepEqual(r.peek(10).map((e) => e.seq), [4, 5]);
    assert.equal(r.droppedSinceReport, 3);
  });
});
