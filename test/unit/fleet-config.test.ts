// FleetDatabase is a postgresql:// URL without a password; the password comes as libpq finds it.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeFleetDatabase, fleetDatabaseProblem, fleetHostProblem } from '../../schema/config/fleet-database.js';
import { fleetPassword, passwordFor } from '../../schema/fleet-password.js';

describe('FleetDatabase', { timeout: 5000 }, () => {
  it('takes a postgresql:// URL, and refuses a password in it, another scheme, or no URL', () => {
    assert.equal(fleetDatabaseProblem('postgresql://upk@db.example.org:5432/fleet?sslmode=verify-full'), null);
    assert.equal(fleetDatabaseProblem('postgres://upk@localhost/fleet?host=/run/postgresql'), null);
    assert.match(fleetDatabaseProblem('postgresql://upk:secret@db/fleet') ?? '', /holds a password/);
    assert.match(fleetDatabaseProblem('postgresql://upk@db/fleet?password=secret') ?? '', /holds a password/);
    assert.match(fleetDatabaseProblem('mysql://upk@db/fleet') ?? '', /scheme must be postgresql/);
    assert.match(fleetDatabaseProblem('db.example.org') ?? '', /not a URL/);
    assert.equal(describeFleetDatabase('postgresql://upk@db/fleet?sslkey=/k'), 'postgresql://upk@db/fleet');
  });

  it('FleetHost: a non-empty string of at most 255 characters, no control character or lone surrogate', () => {
    for (const ok of ['web-07', 'Web 07.example.org', 'hôte-é', '😀', 'a'.repeat(255), '😀'.repeat(255)])
      assert.equal(fleetHostProblem(ok), null, ok);
    for (const [bad, what] of [
      ['web\u0000x', /got "web\\u0000x", which holds a control character \(U\+0000 at index 3\)/],
      ['a\tb', /\\t.*U\+0009/],
      ['a\u007fb', /"a\\u007fb".*U\+007F/],
      ['a\u0085b', /"a\\u0085b".*U\+0085/],
      ['a\ud800b', /"a\\ud800b".*a lone surrogate \(U\+D800/],
      ['a\udc00', /a lone surrogate \(U\+DC00/],
      ['', /empty/],
      ['a'.repeat(256), /got 256 characters/],
    ] as const) {
      const problem = fleetHostProblem(bad) ?? '';
      assert.match(problem, /expected a host name for the fleet: a non-empty string of at most 255 characters/, bad);
      assert.match(problem, what, problem);
    }
  });

  it('finds the password in PGPASSWORD, else in the password file, which others may not read', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'upk-pgpass-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'pgpass');
    writeFileSync(file, '# comment\nother:5432:*:*:no\n*:5432:fleet:upk:pa\\:ss:word\n');
    chmodSync(file, 0o600);
    const to = { host: 'db', port: '5432', database: 'fleet', user: 'upk' };
    assert.equal(fleetPassword(to, { PGPASSWORD: 'env' }), 'env');
    assert.equal(fleetPassword(to, { PGPASSFILE: file }), 'pa:ss:word');
    assert.equal(fleetPassword({ ...to, user: 'else' }, { PGPASSFILE: file }), null);
    assert.equal(
      fleetPassword({ ...to, host: '/run/postgresql' }, { PGPASSFILE: file }),
      'pa:ss:word',
      'a socket is localhost, and * matches it',
    );
    chmodSync(file, 0o644);
    assert.equal(fleetPassword(to, { PGPASSFILE: file }), null, 'a file others may read is ignored');
  });

  it('looks the password up for what libpq connects to: the URL, else PGHOST, PGPORT, PGUSER, PGDATABASE, else the defaults', () => {
    assert.deepEqual(passwordFor({ host: 'db', database: 'fleet' }, { PGUSER: 'alice' }), {
      host: 'db',
      port: '5432',
      database: 'fleet',
      user: 'alice',
    });
    assert.deepEqual(passwordFor({}, { PGHOST: 'h', PGPORT: '6000', PGUSER: 'bob' }), {
      host: 'h',
      port: '6000',
      database: 'bob',
      user: 'bob',
    });
    assert.deepEqual(passwordFor({ host: 'db', port: 5433, user: 'u', database: 'd' }, { PGUSER: 'x', PGDATABASE: 'y' }), {
      host: 'db',
      port: '5433',
      database: 'd',
      user: 'u',
    });
  });
});
