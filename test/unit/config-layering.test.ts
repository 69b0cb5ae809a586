// Tests of layering (built-in → ServiceDefaults → service), list appending, merging by name, script substitution.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConfigIssue, ControllerConfig, LoadedServices } from '../../schema/config/index.js';
import { loadControllerConfigWith } from '../../schema/config/controller-config.js';
import { loadServicesWith } from '../../schema/config/load-services.js';
import { substitute, withShebang } from '../../schema/config/scripts.js';
import { controllerConfig } from '../helpers/load-services.js';

const T = { timeout: 10_000 };
const HOST = { uid: 0, gid: 0, passwdFile: '/etc/passwd', groupFile: '/etc/group' };

/** Write upkeeper.conf (with the given ServiceDefaults) and upkeeper.d/svc.conf, then load both. */
function load(
  t: TestContext,
  defaults: string,
  services: string,
): { config: ControllerConfig; configIssues: ConfigIssue[]; dir: string } & LoadedServices {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'upkeeper.d'));
  fs.writeFileSync(path.join(dir, 'upkeeper.conf'), `{ "ServiceDefaults": ${defaults} }`);
  fs.writeFileSync(path.join(dir, 'upkeeper.d', 'svc.conf'), services);
  const env = { HOME: path.join(dir, 'home') };
  const { config, issues } = loadControllerConfigWith({ config: path.join(dir, 'upkeeper.conf'), env }, HOST);
  assert.ok(config);
  return { config, configIssues: issues, dir, ...loadServicesWith(config, env, HOST) };
}

test('scalars: the service replaces ServiceDefaults, which replaces the built-in default', T, (t) => {
  const r = load(t, '{ "KillTimeout": 3, "MinUptime": 5, "ExecStart": "default-cmd" }', '{ "a": { "KillTimeout": 4 }, "b": {} }');
  assert.deepEqual(r.issues, []);
  const [a, b] = r.services;
  assert.deepEqual([a?.killTimeout, a?.minUptime, a?.execStart, a?.ringbufferSize], [4, 5, 'default-cmd', 256]);
  assert.deepEqual([b?.killTimeout, b?.minUptime, b?.startScript], [3, 5, '#!/bin/sh\nexec default-cmd\n']);
});

test('null replaces too: UserMaxRestarts null means the built-in 10 even under a ServiceDefaults value', T, (t) => {
  const r = load(
    t,
    '{ "UserMaxRestarts": 3, "ShortDescription": "d", "ExecStart": "x" }',
    '{ "a": { "UserMaxRestarts": null, "ShortDescription": null }, "b": {} }',
  );
  assert.deepEqual(
    r.services.map((s) => [s.userMaxRestarts, s.shortDescription]),
    [
      [10, null],
      [3, 'd'],
    ],
  );
});

test('Provides and Prerequisites append: defaults first, duplicates removed', T, (t) => {
  const provides = load(t, '{ "Provides": ["base", "log"], "ExecStart": "x" }', '{ "a": { "Provides": ["http", "base"] } }');
  assert.deepEqual(provides.services[0]?.provides, ['base', 'log', 'http']);
  // Prerequisites append the same way; here they mean no service, so each is an issue, in list order.
  const r = load(t, '{ "Prerequisites": ["net"], "ExecStart": "x" }', '{ "a": { "Prerequisites": ["db", "net"] } }');
  assert.deepEqual(
    r.issues.map((i) => i.message.split(' ')[0]),
    ['"net"', '"db"'],
  );
});

test('CustomActions merge by name: an overridden action keeps its position and takes the service spelling', T, (t) => {
  const r = load(
    t,
    '{ "CustomActions": { "rotate": "kill -USR1 $1", "status": "echo up" }, "ExecStart": "x" }',
    '{ "a": { "CustomActions": { "extra": "echo extra", "Rotate": "kill -HUP $1" } }, "b": {} }',
  );
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.services[0]?.customActions, [
    { name: 'Rotate', script: '#!/bin/sh\nkill -HUP $1' },
    { name: 'status', script: '#!/bin/sh\necho up' },
    { name: 'extra', script: '#!/bin/sh\necho extra' },
  ]);
  assert.deepEqual(
    r.services[1]?.customActions.map((a) => a.name),
    ['rotate', 'status'],
  );
});

test('CustomActions: the 32 limit counts the merged list', T, (t) => {
  const names = (prefix: string, n: number) =>
    JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'true'])));
  const r = load(t, `{ "CustomActions": ${names('d', 20)}, "ExecStart": "x" }`, `{\n"a": { "CustomActions": ${names('s', 13)} } }`);
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.key, i.message]),
    [[2, 'a.CustomActions', 'too many custom actions: 33, at most 32 (with those of ServiceDefaults)']],
  );
});

test('Environment merges by exact name; null removes an inherited variable', T, (t) => {
  const r = load(
    t,
    '{ "Environment": { "LANG": "C", "TZ": "UTC", "path": "x" }, "ExecStart": "x" }',
    '{ "a": { "Environment": { "TZ": "CET", "LANG": null, "PATH": "/bin" } } }',
  );
  assert.deepEqual(r.services[0]?.environment, { LANG: null, TZ: 'CET', path: 'x', PATH: '/bin' });
});

test('paths in ServiceDefaults resolve against upkeeper.conf, paths in a service against its file', T, (t) => {
  const r = load(t, '{ "RedirectStdout": "logs/out", "ExecStart": "x" }', '{ "a": {}, "b": { "RedirectStdout": "logs/out" } }');
  assert.deepEqual(
    r.services.map((s) => s.redirectStdout),
    [path.join(r.dir, 'logs/out'), path.join(r.dir, 'upkeeper.d/logs/out')],
  );
});

test('every placeholder occurrence is substituted in all three scripts', T, (t) => {
  const r = load(
    t,
    '{}',
    `{ "a": {
      "ExecStart": "/bin/web -p 80", "ExecStop": "/bin/webctl stop", "ExecReload": "/bin/webctl reload",
      "StartScript": "exec %(EXEC_START) # %(EXEC_START) %(EXEC_STOP) %(EXEC_RELOAD)",
      "StopScript": "%(EXEC_STOP) $1; %(EXEC_STOP) $1 || %(EXEC_START)\\n",
      "ReloadScript": "#!/bin/bash\\n%(EXEC_RELOAD) $1 %(EXEC_RELOAD)"
    } }`,
  );
  assert.deepEqual(r.issues, []);
  const [a] = r.services;
  assert.equal(a?.startScript, '#!/bin/sh\nexec /bin/web -p 80 # /bin/web -p 80 /bin/webctl stop /bin/webctl reload');
  assert.equal(a?.stopScript, '#!/bin/sh\n/bin/webctl stop $1; /bin/webctl stop $1 || /bin/web -p 80\n');
  assert.equal(a?.reloadScript, '#!/bin/bash\n/bin/webctl reload $1 /bin/webctl reload');
});

test('substitution is one pass: a command containing a placeholder is not expanded again', T, () => {
  assert.equal(
    substitute('%(EXEC_START)|%(EXEC_STOP)', { ExecStart: 'a %(EXEC_STOP)', ExecStop: 'b', ExecReload: null }),
    'a %(EXEC_STOP)|b',
  );
  assert.equal(withShebang('echo'), '#!/bin/sh\necho');
  assert.equal(withShebang('#!/bin/zsh\necho'), '#!/bin/zsh\necho');
});

test('a script using the placeholder of a null Exec key is an issue at that Exec key', T, (t) => {
  const r = load(
    t,
    '{}',
    '{\n"a": {},\n"b": { "ExecStart": "x",\n  "ExecStop": null },\n"c": { "ExecStart": "x", "ExecReload": null, "ReloadScript": "kill -HUP $1" } }',
  );
  const file = path.join(r.dir, 'upkeeper.d/svc.conf');
  assert.deepEqual(r.issues, [
    { file, line: 2, column: 1, key: 'a.ExecStart', message: 'required: StartScript runs %(EXEC_START)' },
    { file, line: 4, column: 15, key: 'b.ExecStop', message: 'required: StopScript runs %(EXEC_STOP)' },
  ]);
  assert.deepEqual(
    r.services.map((s) => [s.id, s.execReload, s.reloadScript]),
    [['c', null, '#!/bin/sh\nkill -HUP $1']],
  );
});

test('an ExecStart with a bad value is reported once, not again as missing', T, (t) => {
  const r = load(t, '{}', '{ "a": { "ExecStart": 5 } }');
  assert.deepEqual(
    r.issues.map((i) => i.message),
    ['expected a non-empty string (a shell command line), a list of strings (the program and its arguments) or null, got 5'],
  );
});

test('pipe scripts and custom actions are used as written (no substitution), with #! added', T, (t) => {
  const r = load(
    t,
    '{ "PipeStderrScript": "exec logger %(EXEC_START)" }',
    '{ "a": { "ExecStart": "x", "CustomActions": { "go": "%(EXEC_START)" } } }',
  );
  assert.equal(r.services[0]?.pipeStderrScript, '#!/bin/sh\nexec logger %(EXEC_START)');
  assert.equal(r.services[0]?.customActions[0]?.script, '#!/bin/sh\n%(EXEC_START)');
});

test('serviceDefaults in a hand-made ControllerConfig are checked again', T, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'd'));
  fs.writeFileSync(path.join(dir, 'd', 'x.conf'), '{ "a": {} }');
  const config: ControllerConfig = controllerConfig({
    stateDir: dir,
    svcConfigPath: path.join(dir, 'd'),
    svcRunPath: dir,
    buddyPollingInterval: 1,
    serviceDefaults: { execstart: 'run', KillTimeout: 'soon', UUID: null },
  });
  const r = loadServicesWith(config, {}, HOST);
  assert.deepEqual(
    r.issues.map((i) => [i.file, i.key, i.message]),
    [
      [
        '(ServiceDefaults given in code)',
        'ServiceDefaults.KillTimeout',
        'expected a number of seconds (or a duration: "90s", "15m", "7d"), got "soon"',
      ],
      ['(ServiceDefaults given in code)', 'ServiceDefaults.UUID', 'UUID cannot be set in ServiceDefaults: it belongs to one service'],
    ],
  );
  assert.equal(r.services[0]?.execStart, 'run');
});
