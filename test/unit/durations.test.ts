// Durations people write ("15m") and read ("2 min 5 s"), and the event filter shared by SQL and live events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBucket, formatDuration, parseDuration } from '../../schema/durations.js';
import { matchesEvent, signalName } from '../../schema/event-filter.js';
import type { ServiceEvent } from '../../schema/records.js';

const T = { timeout: 5000 };

test('parseDuration: a number and a unit, nothing else', T, () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration(' 1.5m '), 90_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('1w'), 604_800_000);
  for (const bad of ['', '10', 'm', '-5s', '5 sec', '1h30m', '1e3s']) assert.equal(parseDuration(bad), null, bad);
});

test('formatDuration: the two largest units', T, () => {
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(2500), '2.5 s');
  assert.equal(formatDuration(3000), '3 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(formatDuration(3_600_000), '1 h');
  assert.equal(formatDuration(90_061_000), '1 d 1 h');
  assert.equal(formatDuration(3_660_000), '1 h 1 min');
  assert.equal(formatDuration(Number.NaN), '-');
  assert.equal(formatBucket(3_600_000), '1h');
  assert.equal(formatBucket(300_000), '5m');
  assert.equal(formatBucket(86_400_000), '1d');
});

test('matchesEvent: pid, exit code, signal and text in the detail (ASCII letters in any case)', T, () => {
  const e: ServiceEvent = {
    id: 1,
    service: 'web',
    uuid: 'u',
    buddy: 'b',
    seq: 1,
    time: '2026-01-01T00:00:00.000Z',
    type: 'exited',
    pid: 42,
    code: null,
    signal: 'SIGKILL',
    detail: { lastOutput: { stderr: 'Out Of Memory' } },
  };
  assert.ok(matchesEvent({}, e));
  assert.ok(matchesEvent({ pid: 42, signal: 'SIGKILL', text: 'out of memory' }, e));
  assert.ok(!matchesEvent({ pid: 43 }, e));
  assert.ok(!matchesEvent({ code: 0 }, e), 'no code');
  assert.ok(!matchesEvent({ text: 'segfault' }, e));
  assert.ok(!matchesEvent({ text: 'x' }, { ...e, detail: null }));
  assert.equal(signalName('kill'), 'SIGKILL');
  assert.equal(signalName('SIGTERM'), 'SIGTERM');
  assert.equal(signalName('9'), 'SIGKILL');
});
