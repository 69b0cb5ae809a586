// Event details read back from the database or the wire: each field only with its type, and the words for them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEvent } from '../../libclient/words.js';
import { detailOf } from '../../schema/event-details.js';
import type { EventType, ServiceEvent } from '../../schema/records.js';

const T = { timeout: 5000 };

const event = (type: EventType, detail: Record<string, unknown> | null): ServiceEvent => ({
  id: 1,
  service: 'web',
  uuid: 'u',
  buddy: 'b',
  seq: 1,
  time: '2026-11-21T08:03:06.233Z',
  type,
  pid: 20198,
  code: 1,
  signal: null,
  detail,
});

test('detailOf: the fields of their type, and nothing of another type', T, () => {
  const lastOutput = { stdout: 'starting', stderr: '' };
  assert.deepEqual(detailOf(event('exited', { uptimeMs: 208, requested: false, lastOutput }), 'exited'), {
    uptimeMs: 208,
    requested: false,
    lastOutput,
  });
  // A field of the wrong type, an unknown value of a closed set, a key no type has: left out.
  assert.deepEqual(detailOf(event('exited', { uptimeMs: '208', requested: false, lastOutput: { stdout: 1 }, extra: 1 }), 'exited'), {
    requested: false,
  });
  assert.deepEqual(detailOf(event('backoff', { reason: 'later', delayMs: 91 }), 'backoff'), { delayMs: 91 });
  assert.deepEqual(detailOf(event('signal_sent', { group: true, reason: 'stop', escaped: [4, 'x'] }), 'signal_sent'), {
    group: true,
    reason: 'stop',
  });
  // Another type, no detail, no event.
  assert.deepEqual(detailOf(event('spawned', { restart: true }), 'spawn_failed'), {});
  assert.deepEqual(detailOf(event('spawned', null), 'spawned'), {});
  assert.deepEqual(detailOf(null, 'spawned'), {});
});

test('describeEvent: what the detail says, and "?" for what it lacks', T, () => {
  assert.equal(describeEvent(event('spawned', { restart: true })), 'restarted automatically (pid 20198)');
  assert.equal(describeEvent(event('exited', { uptimeMs: 208, requested: false })), 'exited with code 1 after 208 ms');
  assert.equal(describeEvent(event('exited', { uptimeMs: 'long' })), 'exited with code 1 after ?');
  assert.equal(
    describeEvent(event('runaway', { starts: 4, windowMs: 4000, until: '2026-11-21T08:03:10.025Z' })),
    'too many starts (4 within 4 s): starts held until 2026-11-21 08:03:10 UTC',
  );
  assert.equal(describeEvent(event('runaway', { starts: 4 })), 'too many starts (4 within ?): starts held until ?');
  assert.equal(describeEvent(event('events_dropped', null)), "? events were lost (the buddy's ring and journal were full)");
});
