// The validators of wire messages refuse a missing required integer (BAD_REQUEST naming it), never take it as 0;
// those of notifications check what a client relies on, and leave a newer controller's names be.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buddyNotificationValidators, buddyValidators, controllerBuddyValidators } from '../../schema/buddy-protocol.js';
import {
  REQUESTER_MAX,
  STATUS_AT_NAMES_MAX,
  clientNotificationValidators,
  clientValidators,
  requesterProblem,
} from '../../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../../schema/errors.js';
import { CONFIG_HISTORY_MAX, REQUESTS_MAX } from '../../schema/audit-protocol.js';
import { isoInstant, isoParts } from '../../schema/iso-time.js';

const T = { timeout: 5000 };
const refused = (run: () => unknown, key: string): void =>
  assert.throws(
    run,
    (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && err.message.startsWith(`${key} is missing`),
  );

test('a missing required integer is refused, by name', T, () => {
  refused(() => buddyValidators.hello({}), 'protocol');
  refused(() => buddyValidators.ack({}), 'seq');
  refused(() => controllerBuddyValidators.hello({}), 'protocol');
  refused(() => clientValidators.hello({ protocol: { max: 2 } }), 'min');
  refused(() => clientValidators.subscribe({}), 'subscription');
  refused(() => clientValidators.unsubscribe({}), 'subscription');
  const buddy = {
    instance: '00000000-0000-4000-8000-000000000001',
    uuid: '00000000-0000-4000-8000-000000000002',
    service: 'web',
    started: '2026-12-05T00:00:00Z',
  };
  refused(() => controllerBuddyValidators.deliver({ buddy, events: [] }), 'pid');
});

test('present, they pass; 0 is a value, and the client pid stays optional', T, () => {
  assert.deepEqual(buddyValidators.ack({ seq: 0 }), { seq: 0 });
  assert.deepEqual(clientValidators.hello({ protocol: { min: 1, max: 2 } }).protocol, { min: 1, max: 2 });
  assert.equal(clientValidators.hello({ protocol: { min: 1, max: 2 } }).pid, 0);
});

test('notifications: a missing subscription, event id or sequence number is refused; a bad value too', T, () => {
  const v = clientNotificationValidators;
  const event = { id: 7, service: 'web', uuid: 'u', type: 'spawned', time: '2026-12-05T00:00:00.000Z' };
  refused(() => v.event({ event }), 'subscription');
  refused(() => v.event({ subscription: 1, event: { ...event, id: undefined } }), 'id');
  refused(() => buddyNotificationValidators.events({}), 'seq');
  const bad = (run: () => unknown, message: RegExp): void =>
    assert.throws(run, (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && message.test(err.message));
  bad(() => v.status({ subscription: 1, status: { uuid: 'u', state: 'running' } }), /^name must be a non-empty string/);
  bad(() => v.event({ subscription: 1, event: 'web started' }), /^event must be an object/);
  bad(() => v.closing({ subscription: 1, reason: 'crash' }), /^reason must be one of stop, shutdown, got "crash"/);
  bad(() => v.problems({ subscription: 1, problems: [{ kind: 'log' }] }), /^message must be a non-empty string/);
  bad(() => v.ended({ subscription: 1, code: 'LIMIT_REACHED', reason: 'slow', lastId: -1 }), /^lastId must be an integer ≥ 0/);
});

test('notifications: a good one passes as sent, with names this build does not know (a newer controller may have more)', T, () => {
  const v = clientNotificationValidators;
  const event = { id: 7, service: 'web', uuid: 'u', type: 'a_newer_type', time: '2026-12-05T00:00:00.000Z', detail: null };
  assert.deepEqual(v.event({ subscription: 1, event }), { subscription: 1, event });
  const problems = [{ kind: 'a_newer_kind', message: 'm', since: '2026-12-05T00:00:00.000Z' }];
  assert.deepEqual(v.problems({ subscription: 2, problems }), { subscription: 2, problems });
  assert.deepEqual(v.ended({ subscription: 1, code: 'LIMIT_REACHED', reason: 'slow', lastId: null }).lastId, null);
  assert.deepEqual(v.closing({ subscription: 1, reason: 'shutdown' }), { subscription: 1, reason: 'shutdown' });
  assert.deepEqual(buddyNotificationValidators.events({ seq: 0 }), { seq: 0 });
});

test('requester: every request that changes something takes one, checked once: bounded, no control character', T, () => {
  const v = clientValidators;
  const who = 'http 127.0.0.1:54321 (curl/8.5.0)';
  assert.deepEqual(v.start({ services: ['web'], requester: who }), { services: ['web'], requester: who });
  assert.deepEqual(v.restart({ services: ['web'], overlap: true, requester: who }), { services: ['web'], overlap: true, requester: who });
  assert.deepEqual(v.action({ service: 'web', action: 'hello', requester: who }), { service: 'web', action: 'hello', requester: who });
  assert.deepEqual(v.signal({ service: 'web', signal: 'HUP', requester: who }), { service: 'web', signal: 'HUP', requester: who });
  assert.deepEqual(v['config.reload']({ requester: who }), { requester: who });
  assert.deepEqual(v['controller.stop']({ requester: who }), { requester: who });
  assert.deepEqual(v.shutdown({}), {}, 'absent: the client asks for itself');
  assert.deepEqual(v.remove({ services: ['old'], requester: null }), { services: ['old'] }, 'null: absent');
  assert.equal(v.stop({ services: ['web'], requester: 'é'.repeat(REQUESTER_MAX) }).requester?.length, REQUESTER_MAX);
  const bad = (requester: unknown, message: RegExp): void => {
    for (const run of [
      () => v.stop({ services: ['web'], requester }),
      () => v.action({ service: 'web', action: 'a', requester }),
      () => v.shutdown({ requester }),
      () => v['config.reload']({ restart: true, requester }),
    ])
      assert.throws(run, (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && message.test(err.message));
  };
  bad('', /^requester must not be empty/);
  bad('x'.repeat(REQUESTER_MAX + 1), /^requester must be at most 200 characters, got 201/);
  bad('http 10.0.0.1:1 (agent)\nforged line', /^requester must not contain control characters, got U\+000A/);
  bad('tab\there', /U\+0009/);
  bad('nul\u0000', /U\+0000/);
  bad('del\u007f', /U\+007F/);
  bad('c1\u009b', /U\+009B/);
  bad('line\u2028separator', /U\+2028/);
  bad(42, /^requester must be a string/);
  bad(['me'], /^requester must be a string/);
  assert.equal(requesterProblem('deploy-bot for alice@example.com'), null);
});

test('config.history and requests: bad params are refused by name; limits are bounded', T, () => {
  const bad = (run: () => unknown, message: RegExp): void =>
    assert.throws(run, (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && message.test(err.message));
  const history = clientValidators['config.history'];
  bad(() => history({}), /^service must be a non-empty string/);
  bad(() => history({ service: '' }), /^service must be a non-empty string/);
  bad(() => history({ service: 'web', since: 'yesterday' }), /^since must be an ISO 8601 time, got "yesterday"/);
  bad(() => history({ service: 'web', limit: 0 }), /^limit must be an integer ≥ 1/);
  bad(() => history({ service: 'web', limit: 2.5 }), /^limit must be an integer ≥ 1/);
  bad(() => history([]), /^params must be an object/);
  assert.deepEqual(history({ service: 'web', since: '2026-12-05T00:00:00Z', limit: 10 ** 9 }), {
    service: 'web',
    since: '2026-12-05T00:00:00Z',
    limit: CONFIG_HISTORY_MAX,
  });

  const requests = clientValidators.requests;
  bad(() => requests({ until: 'soon' }), /^until must be an ISO 8601 time, got "soon"/);
  bad(() => requests({ client: 42 }), /^client must be a string/);
  bad(() => requests({ client: '' }), /^client must not be empty/);
  bad(() => requests({ service: '' }), /^service must not be empty/);
  bad(() => requests({ since: '2026-12-05T00:00:00Z', until: '2026-12-04T00:00:00Z' }), /^until must be after since/);
  // a time without its offset would be read in the controller's zone; V8's other forms are no times
  for (const since of ['2026-12-05T00:00:00', '2026-12-05', '5', 'May 1 2026', '2026-12-05T00:00:00+0100'])
    bad(() => requests({ since }), /^since must be an ISO 8601 time, got .*with Z or an offset/);
  assert.deepEqual(requests({ since: '2026-12-05T01:00:00+01:00' }), { since: '2026-12-05T01:00:00+01:00' });
  bad(() => requests({ since: '2026-12-05T00:00:00Z', until: '2026-12-05T00:00:00Z' }), /^until must be after since/);
  bad(() => requests({ limit: -1 }), /^limit must be an integer ≥ 1/);
  bad(() => requests(null), /^params must be an object/);
  assert.deepEqual(requests({}), {});
  assert.deepEqual(requests({ client: 'UPK', service: 'web', limit: 10 ** 9, since: '2026-12-05T00:00:00Z' }), {
    client: 'UPK',
    service: 'web',
    since: '2026-12-05T00:00:00Z',
    limit: REQUESTS_MAX,
  });
});

test('status.at: a time, and at most STATUS_AT_NAMES_MAX service names, none empty', T, () => {
  const bad = (params: unknown, message: RegExp): void =>
    assert.throws(
      () => clientValidators['status.at'](params),
      (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && message.test(err.message),
    );
  const time = '2026-12-05T00:00:00Z';
  bad({}, /^time must be an ISO 8601 time/);
  bad({ time, services: ['web', ''] }, /^services\[1\] is empty: a service name must not be/);
  bad({ time, services: [''] }, /^services\[0\] is empty/);
  bad(
    { time, services: Array.from({ length: STATUS_AT_NAMES_MAX + 1 }, (_, i) => `s${i}`) },
    /^services must list at most 1000 names, got 1001/,
  );
  bad({ time, services: ['web', 7] }, /^services must be a list of non-empty strings/);
  bad({ time, services: 'web' }, /^services must be a list of non-empty strings/);
  const most = Array.from({ length: STATUS_AT_NAMES_MAX }, (_, i) => `s${i}`);
  assert.deepEqual(clientValidators['status.at']({ time, services: most }), { time, services: most });
  assert.deepEqual(clientValidators['status.at']({ time, services: [] }), { time, services: [] });
  assert.deepEqual(clientValidators['status.at']({ time, services: null }), { time });
});

test(
  'times on the wire: a date and time that exist (no February 31st, no hour 24), years 0000–9999 as written, one rule (isoInstant) for every method',
  T,
  () => {
    const bad = (run: () => unknown, message: RegExp): void =>
      assert.throws(run, (err: unknown) => err instanceof UpkError && err.code === ErrorCode.BAD_REQUEST && message.test(err.message));
    const impossible = [
      '2026-02-31T10:00:00Z', // V8's Date.parse reads it as 2026-03-03
      '2026-02-29T10:00Z',
      '1900-02-29T00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-01T00:00:00Z',
      '2026-06-31T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-01T24:00:00Z', // V8 reads it as the next midnight
      '2026-01-01T25:00Z',
      '2026-01-01T10:60Z',
      '2026-01-01T10:00:60Z',
      '2026-01-01T10:00+24:00',
      '2026-01-01T10:00-01:60',
      '2026-01-01 10:00Z', // the wire's form has its T
    ];
    for (const since of impossible) {
      bad(() => clientValidators.requests({ since }), /^since must be an ISO 8601 time, got .*that exist, with Z or an offset/);
      bad(() => clientValidators['status.at']({ time: since }), /^time must be an ISO 8601 time/);
      assert.ok(Number.isNaN(isoInstant(since)), since);
    }
    // What exists is read as Date.parse reads it (the controller's queries parse what was checked).
    for (const ok of [
      '2024-02-29T12:00:00Z',
      '2000-02-29T00:00Z',
      '0000-02-29T00:00:00Z',
      '0050-06-01T12:30:15.5+02:00',
      '9999-12-31T23:59:59.999Z',
      '2026-12-05t01:00:00.123456789z',
      '2026-12-05T01:00-00:30',
    ]) {
      assert.equal(isoInstant(ok), Date.parse(ok), ok);
      assert.deepEqual(clientValidators.requests({ since: ok }), { since: ok }, 'passed as given');
    }
    assert.equal(new Date(isoInstant('0050-06-01T12:30:15.5+02:00')).toISOString(), '0050-06-01T10:30:15.500Z');
    assert.deepEqual(isoParts('0099-12-31'), {
      ...{ year: 99, month: 12, day: 31, time: false, separator: null },
      ...{ hour: 0, minute: 0, second: 0, ms: 0, offsetMs: null },
    });
    assert.equal(isoParts('2026-11-21 02:13')?.separator, ' ');
    assert.equal(isoParts('2026-11-21T02:13-05:30')?.offsetMs, -(5 * 60 + 30) * 60_000);
    assert.equal(isoParts('2026-02-29'), null);
  },
);
