// Rotation by size at line boundaries, on real files.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RotatingLog } from '../../buddy/rotating-log.js';

const dir = mkdtempSync(join(tmpdir(), 'upk-rot-'));
const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');

describe('rotating log', { timeout: 5000 }, () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates at the last line that fits, keeps LogKeep files, loses and splits nothing', () => {
    const f = join(dir, 'a');
    const log = new RotatingLog(f, 20, 2);
    const lines = Array.from({ length: 12 }, (_, i) => `line ${String(i).padStart(2, '0')}\n`); // 8 bytes each
    log.write(Buffer.from(lines.slice(0, 5).join('')));
    for (const l of lines.slice(5)) log.write(Buffer.from(l));
    log.close();
    for (const file of [f, `${f}.1`, `${f}.2`]) {
      const text = read(file);
      assert.ok(text.length <= 20, `${file} is ${text.length} bytes`);
      assert.ok(text === '' || text.endsWith('\n'), `${file} ends with a whole line`);
    }
    assert.ok(!existsSync(`${f}.3`), 'no more than LogKeep rotated files');
    const kept = read(`${f}.2`) + read(`${f}.1`) + read(f);
    assert.ok(lines.join('').endsWith(kept), 'the newest output, in order');
    assert.equal(kept.split('\n').length - 1, 6, '2 lines per file, 3 files');
  });

  it('a line longer than the limit is never split; a line begun is finished in its file', () => {
    const f = join(dir, 'b');
    const log = new RotatingLog(f, 10, 3);
    log.write(Buffer.from('abc'));
    log.write(Buffer.from('defghijklmnop\nqr\n'));
    log.write(Buffer.from('0123456789012345'));
    log.write(Buffer.from('6789\nend\n'));
    log.close();
    assert.equal(read(`${f}.3`), 'abcdefghijklmnop\n', 'a line begun in a file ends there, however long');
    assert.equal(read(`${f}.2`), 'qr\n', 'the next line did not fit beside it');
    assert.equal(read(`${f}.1`), '01234567890123456789\n', 'a line longer than the limit, whole');
    assert.equal(read(f), 'end\n');
  });

  it('LogMaxSize 0 never rotates; LogKeep 0 keeps only the current file', () => {
    const f = join(dir, 'c');
    const never = new RotatingLog(f, 0, 5);
    never.write(Buffer.from('x'.repeat(1000) + '\n'));
    never.close();
    assert.equal(read(f).length, 1001);
    const g = join(dir, 'd');
    const none = new RotatingLog(g, 4, 0);
    none.write(Buffer.from('aaa\nbbb\n'));
    none.close();
    assert.equal(read(g), 'bbb\n');
    assert.ok(!existsSync(`${g}.1`));
  });
});
