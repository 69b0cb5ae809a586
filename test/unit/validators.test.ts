// The validators of wire messages refuse a missing required integer (BAD_REQUEST naming it), never take it as 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buddyValidators, controllerBuddyValidators } from '../../schema/buddy-protocol.js';
import { clientValidators } from '../../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../../schema/errors.js';

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
