// LogTimestamps: every line stamped exactly once, when its first byte arrives, whatever the chunks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineStamper } from '../../buddy/line-stamper.js';

const T = { timeout: 5000 };

/** A clock that gives 00:00:01, 00:00:02, … at each call. */
function clock(): () => Date {
  let s = 0;
  return () => new Date(Date.UTC(2026, 0, 1, 0, 0, ++s));
}
const at = (s: number): string => `2026-01-01T00:00:0${s}.000Z `;

test('each line of a chunk gets the chunk time; a chunk ending mid-line stamps its continuation never', T, () => {
  const st = new LineStamper(true, clock());
  assert.equal(st.stamp(Buffer.from('a\nb\n')).toString(), `${at(1)}a\n${at(1)}b\n`);
  assert.equal(st.stamp(Buffer.from('par')).toString(), `${at(2)}par`);
  assert.equal(st.stamp(Buffer.from('tial\nnext')).toString(), `tial\n${at(3)}next`);
  assert.equal(st.stamp(Buffer.from('\n')).toString(), '\n');
  assert.equal(st.stamp(Buffer.from('\n\n')).toString(), `${at(4)}\n${at(4)}\n`);
  assert.equal(st.stamp(Buffer.alloc(0)).length, 0);
});

test('a stream that continues a line already begun (the file ends mid-line) is not stamped until the next line', T, () => {
  const st = new LineStamper(false, clock());
  assert.equal(st.stamp(Buffer.from('rest\nnew\n')).toString(), `rest\n${at(1)}new\n`);
});

test('whatever the chunk boundaries, every line has exactly one stamp', T, () => {
  const text = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`).join('\n') + '\n';
  const bytes = Buffer.from(text);
  for (const size of [1, 2, 7, 64, 1000, bytes.length]) {
    const st = new LineStamper();
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(st.stamp(bytes.subarray(i, i + size)));
    const lines = Buffer.concat(out).toString().split('\n').slice(0, -1);
    assert.equal(lines.length, 500, `chunks of ${size}`);
    lines.forEach((l, i) => {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/.exec(l);
      assert.ok(m, `chunks of ${size}: line ${i} unstamped: ${l}`);
      assert.equal(m[2], `line ${i} ${'x'.repeat(i % 37)}`);
    });
  }
});
