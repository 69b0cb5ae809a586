// Tests of the controller config: which file, XDG defaults, missing files, path resolution, every controller key.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadControllerConfig, resolveConfigFile } from '../../schema/config/index.js';
import { loadControllerConfigWith } from '../../schema/config/controller-config.js';

const T = { timeout: 10_000 };
const ROOT_HOST = { uid: 0, gid: 0, passwdFile: '/etc/passwd', groupFile: '/etc/group' };

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write upkeeper.conf in a temp folder and load it with HOME set to that folder. */
function load(t: TestContext, text: string) {
  const dir = tempDir(t);
  const file = path.join(dir, 'upkeeper.conf');
  fs.writeFileSync(file, text);
  return { dir, file, ...loadControllerConfigWith({ config: file, env: { HOME: path.join(dir, 'home') } }, ROOT_HOST) };
}

test('resolveConfigFile: --config, then UPKEEPER_CONFIG, then the XDG default', T, () => {
  assert.deepEqual(resolveConfigFile({ config: '/a/b.conf', env: { UPKEEPER_CONFIG: '/c.conf' } }), { file: '/a/b.conf', explicit: true });
  assert.deepEqual(resolveConfigFile({ env: { UPKEEPER_CONFIG: '/c.conf', HOME: '/h' } }), { file: '/c.conf', explicit: true });
  assert.deepEqual(resolveConfigFile({ env: { HOME: '/h' } }), { file: '/h/.config/upkeeper/upkeeper.conf', explicit: false });
  assert.deepEqual(resolveConfigFile({ env: { HOME: '/h', XDG_CONFIG_HOME: '/x/cfg/' } }), {
    file: '/x/cfg/upkeeper/upkeeper.conf',
    explicit: false,
  });
  // Empty values count as unset; a relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
  assert.deepEqual(resolveConfigFile({ config: '', env: { UPKEEPER_CONFIG: '', HOME: '/h', XDG_CONFIG_HOME: 'rel' } }), {
    file: '/h/.config/upkeeper/upkeeper.conf',
    explicit: false,
  });
});

test('resolveConfigFile: relative paths resolve against the current directory, ~/ against HOME', T, () => {
  assert.deepEqual(resolveConfigFile({ config: 'x/../u.conf', env: {} }), { file: path.join(process.cwd(), 'u.conf'), explicit: true });
  assert.deepEqual(resolveConfigFile({ env: { UPKEEPER_CONFIG: '~/u.conf', HOME: '/h' } }), { file: '/h/u.conf', explicit: true });
});

test('resolveConfigFile: without HOME in env, the OS home directory is used', T, () => {
  assert.equal(resolveConfigFile({ env: {} }).file, path.join(os.homedir(), '.config', 'upkeeper', 'upkeeper.conf'));
});

test('a missing default file is not an error: every default applies', T, (t) => {
  const home = tempDir(t);
  const { config, issues } = loadControllerConfig({ env: { HOME: home } });
  assert.deepEqual(issues, []);
  assert.deepEqual(config, {
    file: null,
    stateDir: path.join(home, '.local/state/upkeeper'),
    svcConfigPath: path.join(home, '.config/upkeeper/upkeeper.d'),
    svcRunPath: path.join(home, '.local/state/upkeeper/run'),
    buddyPollingInterval: 0.5,
    upkBuddyPath: null,
    auditMaxAge: 90 * 86400,
    auditMaxRecords: 1_000_000,
    serviceDefaults: {},
    onEvent: [],
    fleetDatabase: null,
    fleetHost: null,
  });
});

test('XDG_STATE_HOME and XDG_CONFIG_HOME move the defaults', T, (t) => {
  const dir = tempDir(t);
  const env = { HOME: '/nowhere', XDG_STATE_HOME: path.join(dir, 'st'), XDG_CONFIG_HOME: path.join(dir, 'cf') };
  const { config } = loadControllerConfig({ env });
  assert.equal(config?.stateDir, path.join(dir, 'st/upkeeper'));
  assert.equal(config?.svcRunPath, path.join(dir, 'st/upkeeper/run'));
  assert.equal(config?.svcConfigPath, path.join(dir, 'cf/upkeeper/upkeeper.d'));
});

test('the default file is read when it exists', T, (t) => {
  const home = tempDir(t);
  fs.mkdirSync(path.join(home, '.config/upkeeper'), { recursive: true });
  const file = path.join(home, '.config/upkeeper/upkeeper.conf');
  fs.writeFileSync(file, '{ "BuddyPollingInterval": 2 }');
  const { config, issues } = loadControllerConfig({ env: { HOME: home } });
  assert.deepEqual(issues, []);
  assert.equal(config?.file, file);
  assert.equal(config?.buddyPollingInterval, 2);
  assert.equal(config?.svcConfigPath, path.join(home, '.config/upkeeper/upkeeper.d'));
});

test('a missing explicit file is an issue and no config', T, (t) => {
  const file = path.join(tempDir(t), 'nope.conf');
  for (const opts of [{ config: file, env: {} }, { env: { UPKEEPER_CONFIG: file } }]) {
    const { config, issues } = loadControllerConfig(opts);
    assert.equal(config, null);
    assert.deepEqual(issues, [{ file, line: 0, column: 0, key: '', message: 'cannot read the file: the file does not exist' }]);
  }
});

test('a directory given as the config file is an issue', T, (t) => {
  const dir = tempDir(t);
  const { config, issues } = loadControllerConfig({ config: dir, env: {} });
  assert.equal(config, null);
  assert.equal(issues[0]?.message, 'cannot read the file: it is a directory, not a regular file');
});

test('a syntax error or a top level that is not an object gives no config', T, (t) => {
  let r = load(t, '{ "StateDir": "/s" ');
  assert.equal(r.config, null);
  assert.equal(r.issues[0]?.message, 'expected "," or "}" after a value, found the end of the file');
  r = load(t, '[1]');
  assert.equal(r.config, null);
  assert.deepEqual(r.issues, [{ file: r.file, line: 1, column: 1, key: '', message: 'expected an object of controller keys, got a list' }]);
});

test('every controller key, with paths resolved against the file folder and ~ expanded', T, (t) => {
  const { config, issues, dir } = load(
    t,
    `{
      "$schema": "../schema/upkeeper.schema.json",
      "statedir": "state/../st",   // any letter case
      "SvcConfigPath": "~/services",
      "SvcRunPath": "/abs/run/",
      "BuddyPollingInterval": 60,
      "UpkBuddyPath": "~",
      "AuditMaxAge": "30d",
      "AuditMaxRecords": null,
      "ServiceDefaults": { "KillTimeout": 3, "RedirectStdout": "logs/out" },
    }`,
  );
  assert.deepEqual(issues, []);
  assert.deepEqual(config, {
    file: path.join(dir, 'upkeeper.conf'),
    stateDir: path.join(dir, 'st'),
    svcConfigPath: path.join(dir, 'home/services'),
    svcRunPath: '/abs/run',
    buddyPollingInterval: 60,
    upkBuddyPath: path.join(dir, 'home'),
    auditMaxAge: 30 * 86400,
    auditMaxRecords: null,
    serviceDefaults: { KillTimeout: 3, RedirectStdout: path.join(dir, 'logs/out') },
    onEvent: [],
    fleetDatabase: null,
    fleetHost: null,
  });
});

test('SvcRunPath defaults under a configured StateDir; null means the default', T, (t) => {
  const { config, issues, dir } = load(t, '{ "StateDir": "/s", "SvcConfigPath": null, "UpkBuddyPath": null }');
  assert.deepEqual(issues, []);
  assert.equal(config?.svcRunPath, '/s/run');
  assert.equal(config?.svcConfigPath, path.join(dir, 'upkeeper.d'));
  assert.equal(config?.upkBuddyPath, null);
});

test('BuddyPollingInterval must be > 0 and ≤ 60 seconds', T, (t) => {
  for (const bad of ['0', '-1', '60.5', '"0.5"', 'true', 'null']) {
    const { config, issues, file } = load(t, `{\n  "BuddyPollingInterval": ${bad}\n}`);
    const got = bad === '"0.5"' ? '"0.5" (write numbers without quotes)' : bad;
    assert.deepEqual(issues, [
      {
        file,
        line: 2,
        column: 27,
        key: 'BuddyPollingInterval',
        message: `expected a number of seconds > 0 and ≤ 60 (or a duration: "90s", "15m", "7d"), got ${got}`,
      },
    ]);
    assert.equal(config, null);
  }
});

test('bad path values are issues, and any issue means no config', T, (t) => {
  for (const [text, message] of [
    ['{"StateDir": 5}', 'expected a path or null, got 5'],
    ['{"SvcConfigPath": ""}', 'expected a path, got ""'],
    ['{"SvcRunPath": "~bob/run"}', '"~bob/run": "~user" is not supported; write the full path or "~/…" for your own home'],
    ['{"UpkBuddyPath": ["x"]}', 'expected a path or null, got a list'],
  ] as const) {
    const { config, issues } = load(t, text);
    assert.equal(config, null, text);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.message, message);
  }
});

test('unknown keys: nearest-key suggestion, service keys pointed to ServiceDefaults', T, (t) => {
  const { config, issues, file } = load(t, '{\n "StateDri": "/s",\n "KillTimeout": 5,\n "Colour": 1\n}');
  assert.equal(config, null);
  assert.deepEqual(issues, [
    { file, line: 2, column: 2, key: 'StateDri', message: 'unknown key "StateDri" (did you mean "StateDir"?)' },
    {
      file,
      line: 3,
      column: 2,
      key: 'KillTimeout',
      message: 'KillTimeout is a service key, not a controller key: put it inside ServiceDefaults',
    },
    { file, line: 4, column: 2, key: 'Colour', message: 'unknown key "Colour"' },
  ]);
});

test('duplicate controller keys are issues', T, (t) => {
  const { config, issues, file } = load(t, '{\n "StateDir": "/a",\n "STATEDIR": "/b"\n}');
  assert.equal(config, null);
  assert.deepEqual(issues, [
    { file, line: 3, column: 2, key: 'StateDir', message: 'duplicate key "STATEDIR" (already set as "StateDir" at line 2)' },
  ]);
});

test('ServiceDefaults: checked like a service; UUID, Name and Package are refused', T, (t) => {
  const { config, issues, file } = load(
    t,
    `{
  "ServiceDefaults": {
    "UUID": null,
    "Name": "x",
    "KilTimeout": 5,
    "UserRateLimit": "1",
    "StateDir": "/x",
    "MinUptime": 2,
  },
}`,
  );
  assert.deepEqual(issues, [
    { file, line: 3, column: 5, key: 'ServiceDefaults.UUID', message: 'UUID cannot be set in ServiceDefaults: it belongs to one service' },
    { file, line: 4, column: 5, key: 'ServiceDefaults.Name', message: 'Name cannot be set in ServiceDefaults: it belongs to one service' },
    { file, line: 5, column: 5, key: 'ServiceDefaults.KilTimeout', message: 'unknown key "KilTimeout" (did you mean "KillTimeout"?)' },
    {
      file,
      line: 6,
      column: 22,
      key: 'ServiceDefaults.UserRateLimit',
      message: 'expected a number of seconds ≥ 0 (or a duration: "90s", "15m", "7d") or null, got "1" (write numbers without quotes)',
    },
    {
      file,
      line: 7,
      column: 5,
      key: 'ServiceDefaults.StateDir',
      message: 'StateDir is a controller key, not a service key: set it at the top level of upkeeper.conf',
    },
  ]);
  assert.equal(config, null);
});

test('ServiceDefaults must be an object; $schema must be a string', T, (t) => {
  const { issues } = load(t, '{"$schema": 1, "ServiceDefaults": []}');
  assert.deepEqual(
    issues.map((i) => [i.key, i.message]),
    [
      ['$schema', 'expected the URL or path of a JSON Schema, got 1'],
      ['ServiceDefaults', 'expected an object of service keys, got a list'],
    ],
  );
});
