// FleetDatabase is a postgresql:// URL without a password; the password comes as libpq finds it.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeFleetDatabase, fleetDatabaseProblem } from '../../schema/config/fleet-database.js';
import { fleetPassword } from '../../schema/fleet-password.js';

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
});
