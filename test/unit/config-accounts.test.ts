// Tests of SetUID / SetGID: numbers, names from /etc/passwd and /etc/group, unknown names, the root check.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ControllerConfig, LoadedServices } from '../../schema/config/index.js';
import { loadServices } from '../../schema/config/index.js';
import { loadServicesWith } from '../../schema/config/load-services.js';
import { type Host, parseAccountFile } from '../../schema/config/accounts.js';
import { controllerConfig } from '../helpers/load-services.js';

const T = { timeout: 10_000 };

function setup(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'd'));
  const passwdFile = path.join(dir, 'passwd');
  const groupFile = path.join(dir, 'group');
  fs.writeFileSync(
    passwdFile,
    '# comment\nroot:x:0:0:root:/root:/bin/sh\nwww:x:33:34::/var/www:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\nbroken line\n',
  );
  fs.writeFileSync(groupFile, 'root:x:0:\nweb:x:34:bob\nbob:x:1000:\nstaff:x:50:\n');
  const config: ControllerConfig = controllerConfig({
    stateDir: dir,
    svcConfigPath: path.join(dir, 'd'),
    svcRunPath: dir,
    buddyPollingInterval: 1,
  });
  const file = path.join(dir, 'd', 's.conf');
  const load = (keys: string, host: Partial<Host> = {}): LoadedServices => {
    fs.writeFileSync(file, `{ "s": { "ExecStart": "x", ${keys} } }`);
    return loadServicesWith(config, {}, { uid: 0, gid: 0, passwdFile, groupFile, ...host });
  };
  return { load, file, config, passwdFile, groupFile };
}

test('parseAccountFile reads name:x:id lines', T, () => {
  assert.deepEqual(
    [...parseAccountFile('a:x:1:2\n#c:x:3\nb:x:4:\nbad\nc:x:y:\n')],
    [
      ['a', 1],
      ['b', 4],
    ],
  );
});

test('as root: numbers and names resolve; 0 and null mean "as upkeeper"', T, (t) => {
  const { load } = setup(t);
  const cases: [string, number | null, number | null][] = [
    ['"SetUID": 33, "SetGID": 34', 33, 34],
    ['"SetUID": "www", "SetGID": "web"', 33, 34],
    ['"SetUID": "bob", "SetGID": "staff"', 1000, 50],
    ['"SetUID": 0, "SetGID": 0', null, null],
    ['"SetUID": null, "SetGID": null', null, null],
    ['"SetUID": "root", "SetGID": "root"', null, null],
  ];
  for (const [keys, uid, gid] of cases) {
    const r = load(keys);
    assert.deepEqual(r.issues, [], keys);
    assert.deepEqual([r.services[0]?.setUid, r.services[0]?.setGid], [uid, gid], keys);
  }
});

test('SetGID names are group names, not user names', T, (t) => {
  const { load, groupFile } = setup(t);
  const r = load('"SetGID": "www"');
  assert.deepEqual(
    r.issues.map((i) => [i.key, i.message]),
    [['s.SetGID', `unknown group "www" (not in ${groupFile})`]],
  );
});

test('unknown names, quoted numbers and bad values are issues', T, (t) => {
  const { load, passwdFile, file } = setup(t);
  const r = load('"SetUID": "nosuch", "SetGID": "34"');
  assert.deepEqual(r.issues, [
    { file, line: 1, column: 38, key: 's.SetUID', message: `unknown user "nosuch" (not in ${passwdFile})` },
    {
      file,
      line: 1,
      column: 58,
      key: 's.SetGID',
      message: 'expected a gid (an integer ≥ 0), a group name or null, got "34" (write numbers without quotes)',
    },
  ]);
  assert.deepEqual(load('"SetUID": -1').issues[0]?.message, 'expected a uid (an integer ≥ 0), a user name or null, got -1');
  assert.deepEqual(load('"SetUID": 1.5').issues[0]?.message, 'expected a uid (an integer ≥ 0), a user name or null, got 1.5');
  assert.deepEqual(load('"SetUID": ""').issues[0]?.message, 'expected a uid (an integer ≥ 0), a user name or null, got ""');
});

test('not root: another uid or gid needs root; your own is fine (and means null)', T, (t) => {
  const { load } = setup(t);
  const bob = { uid: 1000, gid: 1000 };
  assert.deepEqual(
    load('"SetUID": "www", "SetGID": 34', bob).issues.map((i) => [i.key, i.message]),
    [
      ['s.SetUID', 'uid 33 needs root; upkeeper runs as uid 1000'],
      ['s.SetGID', 'gid 34 needs root; upkeeper runs as uid 1000, gid 1000'],
    ],
  );
  assert.deepEqual(
    load('"SetUID": "root"', bob).issues.map((i) => i.message),
    ['uid 0 needs root; upkeeper runs as uid 1000'],
  );
  const own = load('"SetUID": "bob", "SetGID": 1000', bob);
  assert.deepEqual(own.issues, []);
  assert.deepEqual([own.services[0]?.setUid, own.services[0]?.setGid], [null, null]);
  const zero = load('"SetUID": 0, "SetGID": 0', bob);
  assert.deepEqual([zero.issues, zero.services[0]?.setUid], [[], null]);
});

test('an unreadable account file is an issue', T, (t) => {
  const { load } = setup(t);
  assert.deepEqual(
    load('"SetUID": "bob"', { passwdFile: '/nonexistent/passwd' }).issues.map((i) => i.message),
    ['cannot read /nonexistent/passwd to look up user names: ENOENT'],
  );
});

test('the real /etc/passwd and /etc/group know root', T, (t) => {
  const { config, file } = setup(t);
  fs.writeFileSync(file, '{ "s": { "ExecStart": "x", "SetUID": "root", "SetGID": "root" } }');
  const r = loadServices(config, {});
  if (process.getuid?.() === 0) {
    assert.deepEqual(r.issues, []);
    assert.deepEqual([r.services[0]?.setUid, r.services[0]?.setGid], [null, null]);
  } else {
    assert.deepEqual(r.issues.map((i) => i.message)[0], `uid 0 needs root; upkeeper runs as uid ${process.getuid?.()}`);
  }
  fs.writeFileSync(file, '{ "s": { "ExecStart": "x", "SetUID": "no-such-user-upk" } }');
  assert.deepEqual(
    loadServices(config, {}).issues.map((i) => i.message),
    ['unknown user "no-such-user-upk" (not in /etc/passwd)'],
  );
});

test("SetUID without SetGID runs in the user's primary group; a uid without a passwd entry needs SetGID", T, (t) => {
  const { load, passwdFile } = setup(t);
  const www = load('"SetUID": "www"');
  assert.deepEqual(www.issues, []);
  assert.deepEqual([www.services[0]?.setUid, www.services[0]?.setGid], [33, 34]);
  const unknown = load('"SetUID": 4242');
  assert.deepEqual(
    unknown.issues.map((i) => [i.key, i.message]),
    [['s.SetUID', `uid 4242 has no entry in ${passwdFile}, so its group is unknown: set SetGID as well`]],
  );
  const withGid = load('"SetUID": 4242, "SetGID": 50');
  assert.deepEqual([withGid.issues, withGid.services[0]?.setGid], [[], 50]);
});
