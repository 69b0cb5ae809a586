// The bearer token of upk serve's TCP listener: made 0600, refused when others may read it, compared whole.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bearerMatches, loadOrCreateToken } from '../../clients/http/token.js';

describe('the HTTP token', { timeout: 10_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'upk-token-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is made once, 0600, 43 characters of base64url, and read back the same', () => {
    const file = join(dir, 'http-token');
    const token = loadOrCreateToken(file);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'), `${token}\n`);
    assert.equal(loadOrCreateToken(file), token);
    assert.notEqual(loadOrCreateToken(join(dir, 'other')), token);
  });

  it('refuses a file others may read, a link, a directory and what is no token, naming the file', () => {
    const open = join(dir, 'open');
    writeFileSync(open, 'abcdefghijklmnopqrstuvwxyz\n');
    chmodSync(open, 0o644);
    assert.throws(
      () => loadOrCreateToken(open),
      (e: Error) => e.message.includes(open) && e.message.includes('mode 644'),
    );
    const link = join(dir, 'link');
    symlinkSync(join(dir, 'http-token'), link);
    assert.throws(
      () => loadOrCreateToken(link),
      (e: Error) => e.message.includes(link),
    );
    assert.throws(
      () => loadOrCreateToken(dir),
      (e: Error) => e.message.includes(dir),
    );
    for (const [name, text] of [
      ['empty', ''],
      ['short', 'abc'],
      ['spaces', 'abc def ghi jkl mno pqr'],
    ]) {
      const f = join(dir, name!);
      writeFileSync(f, text!, { mode: 0o600 });
      assert.throws(
        () => loadOrCreateToken(f),
        (e: Error) => e.message.includes(f) && /not a token/.test(e.message),
        name,
      );
    }
  });

  it('matches only the whole token, as a bearer token', () => {
    const t = 'S3cr3t-Token_0123456789abcdef';
    assert.equal(bearerMatches(t, `Bearer ${t}`), true);
    assert.equal(bearerMatches(t, `bearer ${t}`), true, 'the scheme is case-insensitive (RFC 6750)');
    assert.equal(bearerMatches(t, `Bearer   ${t}  `), true);
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      t,
      `Basic ${t}`,
      `Bearer ${t.slice(1)}`,
      `Bearer ${t}x`,
      `Bearer ${t} ${t}`,
      `Bearer ${t.toLowerCase()}`,
    ])
      assert.equal(bearerMatches(t, header), false, JSON.stringify(header));
  });
});
