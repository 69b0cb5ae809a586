// The pure parts of readiness: ReadyLine's matching over chunks, sd_notify's datagrams, and the
// machine policy the readiness keys give.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { policyOf, START_TIMEOUT_DEFAULT } from '../../buddy/machine-policy.js';
import { parseNotify } from '../../buddy/notify-relay.js';
import { LINE_MATCH_BYTES as READY_LINE_BYTES, LineMatcher as ReadyLine } from '../../buddy/line-matcher.js';
import type { BuddySettings } from '../../schema/buddy-protocol.js';

const chunks = (m: ReadyLine, ...parts: string[]): boolean[] => parts.map((p) => m.feed(Buffer.from(p)).length > 0);

test('ReadyLine matches whole lines, across chunks, and not a line still open', () => {
  const m = new ReadyLine(/^listening on \d+$/);
  assert.deepEqual(chunks(m, 'booting\nlisten', 'ing on 80', '80'), [false, false, false]);
  assert.deepEqual(chunks(m, '\n'), [true]);
  assert.deepEqual(chunks(new ReadyLine(/ready/), 'a\r\nb\nready'), [false], 'a line counts once its newline comes');
  assert.deepEqual(chunks(new ReadyLine(/^ok$/), 'ok\r\n'), [true], 'a CRLF line ends before its CR');
});

test('ReadyLine: a long line is matched on its first READY_LINE_BYTES; reset forgets a line begun', () => {
  const long = new ReadyLine(/x$/);
  assert.equal(long.feed(Buffer.from('a'.repeat(READY_LINE_BYTES) + 'x\n')).length > 0, false, 'past the limit: not seen');
  const head = new ReadyLine(/^a+ready/);
  assert.equal(head.feed(Buffer.from('a'.repeat(100) + 'ready' + 'b'.repeat(10 * READY_LINE_BYTES))).length > 0, false);
  assert.equal(head.feed(Buffer.from('\n')).length > 0, true, 'the head of a long line matches');
  const m = new ReadyLine(/^up$/);
  m.feed(Buffer.from('u'));
  m.reset();
  assert.equal(m.feed(Buffer.from('p\n')).length > 0, false);
});

test('parseNotify reads READY, STATUS, WATCHDOG, STOPPING and MAINPID; ignores the rest', () => {
  assert.deepEqual(parseNotify('READY=1\nSTATUS=Listening on 8080\nMAINPID=4242\n'), {
    ready: true,
    watchdog: false,
    stopping: false,
    status: 'Listening on 8080',
    mainPid: 4242,
  });
  assert.deepEqual(parseNotify('WATCHDOG=1\nSTOPPING=1\nERRNO=2\nMAINPID=x\nREADY=0'), { ready: false, watchdog: true, stopping: true });
  assert.equal(parseNotify('STATUS=a=b').status, 'a=b', 'a value may hold "="');
});

test('policyOf: a readiness key makes readiness signalled, with StartTimeout 90 s unless set; MaxRunTime', () => {
  const base = { minUptime: 1, serviceType: 'simple', readyFd: null, readyLine: null, startTimeout: null, maxRunTime: null } as const;
  const of = (s: Partial<BuddySettings>) => policyOf({ ...(base as unknown as BuddySettings), ...s });
  assert.deepEqual([of({}).readiness, of({}).startTimeoutMs, of({}).maxRunTimeMs], ['uptime', 0, 0]);
  assert.deepEqual(
    [of({ startTimeout: 5 }).readiness, of({ startTimeout: 5 }).startTimeoutMs],
    ['uptime', 0],
    'MinUptime has no start timeout',
  );
  for (const s of [{ serviceType: 'notify' as const }, { readyFd: 3 }, { readyLine: 'up' }]) {
    assert.deepEqual([of(s).readiness, of(s).startTimeoutMs], ['signal', START_TIMEOUT_DEFAULT * 1000]);
  }
  assert.equal(of({ readyFd: 3, startTimeout: 0 }).startTimeoutMs, 0, '0: no limit');
  assert.equal(of({ readyFd: 3, startTimeout: 2.5 }).startTimeoutMs, 2500);
  assert.equal(of({ maxRunTime: 0.7 }).maxRunTimeMs, 700);
});
