// TailBuffer: the last bytes of a stream, whatever the sizes of the chunks it comes in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TailBuffer } from '../../buddy/tail-buffer.js';

test('keeps exactly the last bytes of a stream, for chunks smaller and larger than it', { timeout: 5000 }, () => {
  for (const max of [1, 7, 64]) {
    const tail = new TailBuffer(max);
    let all = Buffer.alloc(0);
    for (const size of [0, 1, 3, 10, 64, 200, 2, 5, 63, 65, 1]) {
      const chunk = Buffer.from(Array.from({ length: size }, (_, i) => 97 + ((all.length + i) % 26)));
      tail.add(chunk);
      all = Buffer.concat([all, chunk]);
      assert.deepEqual(tail.bytes, all.subarray(-max), `max ${max}, after ${all.length} bytes`);
    }
  }
  assert.equal(new TailBuffer(4).text(), '');
});

test('holds a copy, never the chunk it was given', { timeout: 5000 }, () => {
  const tail = new TailBuffer(4);
  const chunk = Buffer.from('abcdef');
  tail.add(chunk);
  chunk.fill(0);
  assert.equal(tail.text(), 'cdef');
});
