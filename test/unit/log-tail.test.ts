// The tail of an output file: read from its end, a partial first line dropped, FILE.1 before it when short.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tailLines } from '../../controller/log-tail.js';

const dir = mkdtempSync(join(tmpdir(), 'upk-tail-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T = { timeout: 5000 };

test('the last lines, with or without a final newline; none of a missing or empty file', T, () => {
  writeFileSync(join(dir, 'a'), 'one\ntwo\nthree\n');
  assert.deepEqual(tailLines(join(dir, 'a'), 2), ['two', 'three']);
  writeFileSync(join(dir, 'b'), 'one\ntwo');
  assert.deepEqual(tailLines(join(dir, 'b'), 5), ['one', 'two']);
  writeFileSync(join(dir, 'empty'), '');
  assert.deepEqual(tailLines(join(dir, 'empty'), 3), []);
  assert.deepEqual(tailLines(join(dir, 'missing'), 3), []);
});

test('a big file is read from its end only, and the piece of line where the read began is left out', T, () => {
  const lines = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
  writeFileSync(join(dir, 'big'), lines.join('\n') + '\n');
  assert.deepEqual(tailLines(join(dir, 'big'), 3), lines.slice(-3));
  const tail = tailLines(join(dir, 'big'), 1_000_000);
  assert.ok(tail.length < 40_000, 'at most the last 256 KiB');
  assert.deepEqual(tail.at(-1), lines.at(-1));
  assert.ok(lines.includes(tail[0]!), `a whole line first: ${tail[0]}`);
});

test('a file just rotated continues into FILE.1', T, () => {
  writeFileSync(join(dir, 'log.1'), 'old 1\nold 2\nold 3\n');
  writeFileSync(join(dir, 'log'), 'new 1\n');
  assert.deepEqual(tailLines(join(dir, 'log'), 3), ['old 2', 'old 3', 'new 1']);
});
