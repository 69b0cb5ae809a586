// Tests of reading the service folder: file selection and order, service ids, duplicates within and across files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ControllerConfig, formatIssue, isValidServiceId, loadServices, parseServiceId } from '../../schema/config/index.js';
import { controllerConfig } from '../helpers/load-services.js';

const T = { timeout: 10_000 };

/** A temp folder with the given files under upkeeper.d/ and a config pointing at it. */
function setup(t: TestContext, files: Record<string, string>): { config: ControllerConfig; d: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const d = path.join(dir, 'upkeeper.d');
  fs.mkdirSync(d);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    fs.writeFileSync(path.join(d, name), text);
  }
  const config: ControllerConfig = controllerConfig({ stateDir: dir, svcConfigPath: d, svcRunPath: path.join(dir, 'run') });
  return { config, d };
}

test('isValidServiceId and parseServiceId', T, () => {
  for (const id of ['web', 'Web2', 'a', '0', 'x.y@z-1_2', 'pkg::web', 'a'.repeat(64), `${'p'.repeat(64)}::${'n'.repeat(64)}`]) {
    assert.ok(isValidServiceId(id), id);
  }
  for (const id of [
    '',
    '.hidden',
    '_x',
    '-x',
    '@x',
    'a/b',
    'a:b',
    'a::',
    '::a',
    'a::b::c',
    'a b',
    'é',
    'a'.repeat(65),
    'pkg:::web',
    '..',
  ]) {
    assert.ok(!isValidServiceId(id), id);
    assert.equal(parseServiceId(id), null);
  }
  assert.deepEqual(parseServiceId('web'), { package: null, name: 'web' });
  assert.deepEqual(parseServiceId('pkg::web'), { package: 'pkg', name: 'web' });
});

test('reads *.conf files sorted by name, not recursively, skipping hidden files', T, (t) => {
  const { config, d } = setup(t, {
    'b.conf': '{ "two": { "ExecStart": "x" } }',
    'a.conf': '{ "one": { "ExecStart": "x" } }',
    'c.conf.bak': '{ "no": {} }',
    '.#a.conf': '{ "no": {} }',
    README: 'not json',
    'sub/d.conf': '{ "no": {} }',
  });
  const r = loadServices(config, {});
  assert.deepEqual(r.issues, []);
  assert.deepEqual(
    r.services.map((s) => [s.id, s.file, s.line]),
    [
      ['one', path.join(d, 'a.conf'), 1],
      ['two', path.join(d, 'b.conf'), 1],
    ],
  );
  assert.deepEqual(r.files, [path.join(d, 'a.conf'), path.join(d, 'b.conf')]);
});

test('a missing service folder means no services and no issue', T, (t) => {
  const { config } = setup(t, {});
  const r = loadServices({ ...config, svcConfigPath: path.join(config.svcConfigPath, 'nope') }, {});
  assert.deepEqual(r, { services: [], issues: [], files: [] });
});

test('a service folder that is a file is an issue', T, (t) => {
  const { config, d } = setup(t, { 'x.conf': '{}' });
  const r = loadServices({ ...config, svcConfigPath: path.join(d, 'x.conf') }, {});
  assert.deepEqual(r.issues, [{ file: path.join(d, 'x.conf'), line: 0, column: 0, key: '', message: 'SvcConfigPath is not a directory' }]);
});

test('a bad file is left out and reported; the other files still load', T, (t) => {
  const { config, d } = setup(t, {
    'a.conf': '{ "one": { "ExecStart": "x" }',
    'b.conf': '["two"]',
    'c.conf': '{ "three": { "ExecStart": "x" } }',
    'd.conf': '',
    'e.conf/keep': '',
  });
  const r = loadServices(config, {});
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['three'],
  );
  assert.deepEqual(r.issues.map(formatIssue), [
    `${d}/a.conf:1: expected "," or "}" after a value, found the end of the file`,
    `${d}/b.conf:1: expected an object of services (service id → service keys), got a list`,
    `${d}/d.conf:1: the file is empty: expected a JSON object such as {}`,
    `${d}/e.conf: cannot read the file: it is a directory, not a regular file`,
  ]);
  assert.deepEqual(
    r.files,
    ['a', 'b', 'c', 'd'].map((n) => path.join(d, `${n}.conf`)),
  );
});

test('an empty object is a file with no services', T, (t) => {
  const { config } = setup(t, { 'a.conf': '{ /* nothing yet */ }' });
  assert.deepEqual(loadServices(config, {}).issues, []);
});

test('invalid service ids are issues at the id', T, (t) => {
  const { config, d } = setup(t, { 'a.conf': '{\n  "a/b": {},\n  "x:y": {},\n  ".dot": {},\n  "ok::fine": { "ExecStart": "x" }\n}' });
  const r = loadServices(config, {});
  const rule = 'expected name or package::name, each 1 to 64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit';
  assert.deepEqual(r.issues, [
    { file: path.join(d, 'a.conf'), line: 2, column: 3, key: 'a/b', message: `invalid service id "a/b": ${rule}` },
    { file: path.join(d, 'a.conf'), line: 3, column: 3, key: 'x:y', message: `invalid service id "x:y": ${rule}` },
    { file: path.join(d, 'a.conf'), line: 4, column: 3, key: '.dot', message: `invalid service id ".dot": ${rule}` },
  ]);
  assert.deepEqual(
    r.services.map((s) => [s.id, s.package, s.name]),
    [['ok::fine', 'ok', 'fine']],
  );
});

test('$schema is allowed and ignored; ServiceDefaults in a service file is an issue', T, (t) => {
  const { config, d } = setup(t, {
    'a.conf': '{ "$schema": "../schema/service.schema.json", "web": { "ExecStart": "x" } }',
    'b.conf': '{ "$schema": 1,\n"ServiceDefaults": {} }',
  });
  const r = loadServices(config, {});
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['web'],
  );
  assert.deepEqual(r.issues.map(formatIssue), [
    `${d}/b.conf:1: $schema: expected the URL or path of a JSON Schema, got 1`,
    `${d}/b.conf:2: ServiceDefaults: ServiceDefaults belongs in upkeeper.conf; a service file holds only services`,
  ]);
});

test('the same id twice in one file: an issue at both places, neither kept', T, (t) => {
  const { config, d } = setup(t, {
    'a.conf': '{\n"web": { "ExecStart": "x" },\n"db": { "ExecStart": "x" },\n"web": { "ExecStart": "y" }\n}',
  });
  const r = loadServices(config, {});
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['db'],
  );
  assert.deepEqual(r.issues.map(formatIssue), [
    `${d}/a.conf:2: web: service "web" is defined again at line 4`,
    `${d}/a.conf:4: web: service "web" is already defined at line 2`,
  ]);
});

test('the same id across files (ids compared case-insensitively): both reported, neither kept', T, (t) => {
  const { config, d } = setup(t, {
    'a.conf': '{\n"web": { "ExecStart": "x" },\n"pkg::api": { "ExecStart": "x" }\n}',
    'b.conf': '{ "Web": { "ExecStart": "x", "KillTimeout": "bad" } }',
    'c.conf': '{\n\n"pkg::api": { "ExecStart": "x" }, "ok": { "ExecStart": "x" } }',
  });
  const r = loadServices(config, {});
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['ok'],
  );
  assert.deepEqual(r.issues.map(formatIssue), [
    `${d}/a.conf:2: web: service "web" is defined again in b.conf at line 1`,
    `${d}/a.conf:3: pkg::api: service "pkg::api" is defined again in c.conf at line 3`,
    `${d}/b.conf:1: Web: service "Web" is already defined in a.conf at line 2 (as "web"; ids differing only in letter case collide)`,
    `${d}/b.conf:1: Web.KillTimeout: expected a number of seconds (or a duration: "90s", "15m", "7d"), got "bad"`,
    `${d}/c.conf:3: pkg::api: service "pkg::api" is already defined in a.conf at line 3`,
  ]);
});

test('the same UUID in two services: both reported and left out', T, (t) => {
  const { config, d } = setup(t, {
    'a.conf': '{ "a": { "ExecStart": "x", "UUID": "0f8fad5b-d9cb-469f-a165-70867728950e" } }',
    'b.conf': '{ "b": { "ExecStart": "x",\n "uuid": "0F8FAD5B-D9CB-469F-A165-70867728950E" }, "c": { "ExecStart": "x" } }',
  });
  const r = loadServices(config, {});
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['c'],
  );
  assert.deepEqual(r.issues.map(formatIssue), [
    `${d}/a.conf:1: a.UUID: UUID 0f8fad5b-d9cb-469f-a165-70867728950e is also the UUID of service "b" (b.conf, line 2): each service needs a UUID of its own`,
    `${d}/b.conf:2: b.UUID: UUID 0f8fad5b-d9cb-469f-a165-70867728950e is also the UUID of service "a" (a.conf, line 1): each service needs a UUID of its own`,
  ]);
});

test('a file that cannot be read is an issue', T, (t) => {
  if (process.getuid?.() === 0) {
    t.skip('root reads every file');
    return;
  }
  const { config, d } = setup(t, { 'a.conf': '{}' });
  fs.chmodSync(path.join(d, 'a.conf'), 0o000);
  assert.deepEqual(loadServices(config, {}).issues.map(formatIssue), [`${d}/a.conf: cannot read the file: permission denied`]);
});

test('dependencies: unknown references, services left out for their own errors, cycles', { timeout: 10_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-deps-'));
  try {
    fs.mkdirSync(path.join(dir, 'd'));
    const file = path.join(dir, 'd', 'a.conf');
    fs.writeFileSync(
      file,
      [
        '{',
        '  "web": { "ExecStart": "x", "Prerequisites": ["db", "nowhere"] },',
        '  "db": { "ExecStart": 5 },',
        '  "one": { "ExecStart": "x", "Prerequisites": ["two"] },',
        '  "two": { "ExecStart": "x", "Prerequisites": ["one"] },',
        '  "calm": { "ExecStart": "x", "Conflicts": ["db"] },',
        '  "solo": { "ExecStart": "x", "Conflicts": ["ghost"] },',
        '}',
      ].join('\n'),
    );
    const config = controllerConfig({ stateDir: dir, svcConfigPath: path.join(dir, 'd'), svcRunPath: dir, buddyPollingInterval: 1 });
    const r = loadServices(config, {});
    const messages = r.issues.map((i) => `${i.line} ${i.key}: ${i.message}`);
    assert.ok(
      messages.some((m) => m.startsWith('2 web.Prerequisites: "db" means only services left out for their own errors')),
      messages.join('\n'),
    );
    assert.ok(messages.some((m) => m.startsWith('2 web.Prerequisites: "nowhere" is no service')));
    assert.ok(messages.some((m) => m === '4 one.Prerequisites: dependency cycle: one → two → one'));
    assert.ok(messages.some((m) => m.startsWith('7 solo.Conflicts: "ghost" is no service')));
    assert.deepEqual(
      r.services.map((s) => s.id),
      ['calm'],
      'a conflict with a service left out is no problem',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('half of a surrogate pair in any string (a value, a key, an item) is refused, naming the key and where', T, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-svc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(
    path.join(dir, 'odd.conf'),
    '{"odd": {"ExecStart": ["sleep", "1\\udc00"], "ShortDescription": "half \\ud800 a pair", "Environment": {"A": "x\\ud801"}},' +
      ' "fine": {"ExecStart": "sleep 1", "ShortDescription": "whole \\ud83d\\ude00 and 😀"}}',
  );
  const { services, issues } = loadServices(controllerConfig({ stateDir: dir, svcConfigPath: dir, svcRunPath: dir }), {});
  assert.deepEqual(
    issues.map((i) => [i.key, i.message.replace(/ holds .*/, '')]),
    [
      ['odd.ExecStart[1]', '"1\\udc00"'],
      ['odd.ShortDescription', '"half \\ud800 a pair"'],
      ['odd.Environment.A', '"x\\ud801"'],
    ],
  );
  assert.match(formatIssue(issues[1]!), /holds half of a surrogate pair \(U\+D800 at index 5\): write the character whole/);
  assert.equal(services.find((s) => s.id === 'fine')?.shortDescription, 'whole 😀 and 😀', 'a pair, escaped or not, is text');
});
