// The buddy's instance ids (system/random-uuid.ts): version 4 UUIDs, each one new.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUuid } from '../../system/random-uuid.js';

test('a version 4 UUID of the RFC 4122 variant, never the same twice', { timeout: 5000 }, () => {
  const ids = Array.from({ length: 1000 }, () => randomUuid());
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
});
