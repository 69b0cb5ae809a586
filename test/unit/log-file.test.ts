// Following one output file by path (libclient's LogFile): history, new lines, rotations (one or several
// between two looks), truncation, a file that appears later, lines not yet ended.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LogFile } from '../../libclient/log-file.js';

const T = { timeout: 5000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const root = mkdtempSync(join(tmpdir(), 'upk-logfile-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(mkdtempSync(join(root, `${n++}-`)), 'stdout');

/** What the buddy does at a rotation with LogKeep `keep`: FILE.k → FILE.k+1 …, FILE → FILE.1, a new FILE. */
function rotate(file: string, keep: number): void {
  rmSync(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      /* not there yet */
    }
  }
  renameSync(file, `${file}.1`);
  writeFileSync(file, '');
}

test('history: the last whole lines, then FILE.1 when FILE has fewer; a line not yet ended comes when it ends', T, () => {
  const file = fresh();
  writeFileSync(`${file}.1`, 'old 1\nold 2\nold 3\n');
  writeFileSync(file, 'new 1\nnew 2\nhalf');
  const f = new LogFile(file);
  assert.deepEqual(f.start(4), ['old 2', 'old 3', 'new 1', 'new 2']);
  assert.deepEqual(f.check(), []);
  appendFileSync(file, ' done\nnext');
  assert.deepEqual(f.check(), ['half done']);
  appendFileSync(file, '\n');
  assert.deepEqual(f.check(), ['next']);
  f.close();
  const g = new LogFile(file);
  assert.deepEqual(g.start(0), []);
  appendFileSync(file, 'later\n');
  assert.deepEqual(g.check(), ['later']);
  g.close();
});

test('a rotation: the rest of the old file, then the new one; two rotations between two looks lose nothing', T, async () => {
  const file = fresh();
  writeFileSync(file, '');
  const f = new LogFile(file);
  assert.deepEqual(f.start(10), []);
  appendFileSync(file, '1\n2\n');
  assert.deepEqual(f.check(), ['1', '2']);
  appendFileSync(file, '3\n');
  rotate(file, 5);
  appendFileSync(file, '4\n');
  assert.deepEqual(f.check(), ['3', '4']);
  appendFileSync(file, '5\n');
  rotate(file, 5);
  appendFileSync(file, '6\n');
  rotate(file, 5);
  appendFileSync(file, '7\n');
  rotate(file, 5);
  appendFileSync(file, '8\n');
  assert.deepEqual(f.check(), ['5', '6', '7', '8']);
  // Rotated out of LogKeep altogether (now 2: FILE.3 … FILE.5 are left from before, older than ours).
  await sleep(20);
  appendFileSync(file, '9\n');
  rotate(file, 2);
  appendFileSync(file, '10\n');
  rotate(file, 2);
  appendFileSync(file, '11\n');
  rotate(file, 2);
  appendFileSync(file, '12\n');
  assert.deepEqual(f.check(), ['9', '10', '11', '12']);
  f.close();
});

test('a file that shrank is read again from its start; one that does not exist yet is followed once it does', T, () => {
  const file = fresh();
  writeFileSync(file, 'a\nb\n');
  const f = new LogFile(file);
  assert.deepEqual(f.start(1), ['b']);
  truncateSync(file, 0);
  appendFileSync(file, 'c\n');
  assert.deepEqual(f.check(), ['c']);
  f.close();
  const later = fresh();
  const g = new LogFile(later);
  assert.deepEqual(g.start(5), []);
  assert.deepEqual(g.check(), []);
  writeFileSync(later, 'first\n');
  assert.deepEqual(g.check(), ['first']);
  g.close();
});

test('a big backlog comes in parts of at most 4 MiB (`more`), whole and in order', T, () => {
  const file = fresh();
  writeFileSync(file, '');
  const f = new LogFile(file);
  f.start(0);
  const lines = Array.from({ length: 200_000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`);
  appendFileSync(file, lines.join('\n') + '\n');
  const got: string[] = [];
  let parts = 0;
  do {
    got.push(...f.check());
    parts++;
  } while (f.more);
  assert.ok(parts >= 3, `${parts} parts`);
  assert.equal(got.length, lines.length);
  assert.deepEqual(got.slice(-2), lines.slice(-2));
  assert.ok(got.every((l, i) => l === lines[i]));
  f.close();
});
