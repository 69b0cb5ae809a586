// Tests of OnEvent in the controller config: what a hook means once checked, its defaults, and a clear
// error (file, line, key, value, what was expected) for each way of writing one wrong.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatIssue } from '../../schema/config/index.js';
import { loadControllerConfigWith } from '../../schema/config/controller-config.js';
import { HOOK_FIELDS } from '../../schema/config/on-event.js';
import { EVENT_TYPE_NAMES } from '../../schema/records.js';
import { HOOK_VARIABLES } from '../../controller/event-hooks.js';

const T = { timeout: 10_000 };
const HOST = { uid: 0, gid: 0, passwdFile: '/etc/passwd', groupFile: '/etc/group' };

function load(t: TestContext, onEvent: unknown) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-hooks-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'upkeeper.conf');
  fs.writeFileSync(file, JSON.stringify({ OnEvent: onEvent }, null, 2));
  const { config, issues } = loadControllerConfigWith({ config: file, env: { HOME: path.join(dir, 'home') } }, HOST);
  return { dir, file, config, messages: issues.map(formatIssue) };
}

test('a hook with every field, and one with the defaults', T, (t) => {
  const { dir, config, messages } = load(t, [
    {
      Name: 'pager',
      Events: ['failed', 'runaway', 'failed'],
      Services: ['web', 'acme::worker'],
      Command: ['./hooks/page', '--urgent', 'a b; $(rm -rf /)'],
      MinInterval: '5m',
      Timeout: 10,
    },
    { events: ['exited'], command: ['notify-send', 'x'] },
  ]);
  assert.deepEqual(messages, []);
  assert.deepEqual(config?.onEvent, [
    {
      name: 'pager',
      events: ['failed', 'runaway'],
      services: ['web', 'acme::worker'],
      // A program with a "/" is relative to the file's folder; every argument is kept exactly as written.
      command: [path.join(dir, 'hooks/page'), '--urgent', 'a b; $(rm -rf /)'],
      minInterval: 300,
      timeout: 10,
      // Where Command is written (upk check-config names that line for a program that cannot run).
      commandAt: { line: 14, column: 18 },
    },
    {
      name: 'notify-send',
      events: ['exited'],
      services: null,
      command: ['notify-send', 'x'],
      minInterval: 60,
      timeout: 30,
      commandAt: { line: 26, column: 18 },
    },
  ]);
});

test('no OnEvent: no hooks', T, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-hooks-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'upkeeper.conf'), '{}');
  const { config } = loadControllerConfigWith({ config: path.join(dir, 'upkeeper.conf'), env: { HOME: dir } }, HOST);
  assert.deepEqual(config?.onEvent, []);
});

test('every event type of EVENT_TYPE_NAMES is accepted, and only those', T, (t) => {
  const { config, messages } = load(t, [{ Events: EVENT_TYPE_NAMES, Command: ['true'] }]);
  assert.deepEqual(messages, []);
  assert.deepEqual(config?.onEvent[0]?.events, EVENT_TYPE_NAMES);
});

test('bad values: each named by file, line and key, with the value and what was expected', T, (t) => {
  const cases: [unknown, RegExp][] = [
    ['notify', /:2: OnEvent: expected a list of hooks, got "notify"$/],
    [['x'], /OnEvent\[0\]: expected a hook: an object with Events and Command, got "x"$/],
    [
      [{ Events: ['faild'], Command: ['x'] }],
      /OnEvent\[0\]\.Events\[0\]: unknown event type "faild" \(did you mean "failed"\?\); the event types are buddy_started, /,
    ],
    [[{ Events: [], Command: ['x'] }], /OnEvent\[0\]\.Events: expected a non-empty list of event types, got a list$/],
    [[{ Command: ['x'] }], /OnEvent\[0\]\.Events: Events is required$/],
    [[{ Events: ['failed'] }], /OnEvent\[0\]\.Command: Command is required$/],
    [
      [{ Events: ['failed'], Command: 'curl -d @- $URL' }],
      /OnEvent\[0\]\.Command: expected a list of strings: the program and its arguments \(a hook never runs a shell line\), got "curl -d @- \$URL"$/,
    ],
    [[{ Events: ['failed'], Command: ['', 'x'] }], /OnEvent\[0\]\.Command\[0\]: the program \(the first word\) cannot be empty$/],
    [[{ Events: ['failed'], Command: ['x', 3] }], /OnEvent\[0\]\.Command\[1\]: expected a string \(a program or argument\), got 3$/],
    [
      [{ Events: ['failed'], Command: ['x'], MinInterval: '-1s' }],
      /OnEvent\[0\]\.MinInterval: expected a number of seconds ≥ 0 \(or a duration/,
    ],
    [
      [{ Events: ['failed'], Command: ['x'], Timeout: 0 }],
      /OnEvent\[0\]\.Timeout: expected a number of seconds > 0 \(or a duration: "90s", "15m", "7d"\), got 0$/,
    ],
    [[{ Events: ['failed'], Command: ['x'], Services: ['a b'] }], /OnEvent\[0\]\.Services\[0\]: invalid service id "a b"/],
    [
      [{ Events: ['failed'], Command: ['x'], Services: [] }],
      /OnEvent\[0\]\.Services: expected a non-empty list of service ids, or null for every service, got a list$/,
    ],
    [[{ Events: ['failed'], Command: ['x'], Name: 'a/b' }], /OnEvent\[0\]\.Name: expected a name \(1 to 64 letters/],
    [
      [{ Events: ['failed'], Command: ['x'], Timout: 3 }],
      /OnEvent\[0\]\.Timout: unknown key "Timout" \(did you mean "Timeout"\?\): a hook has Name, Events/,
    ],
    [
      [
        { Events: ['failed'], Command: ['/usr/bin/notify'] },
        { Events: ['exited'], Command: ['/opt/notify'] },
      ],
      /OnEvent\[1\]\.Name: OnEvent\[0\] is named "notify" too: give each hook its own Name$/,
    ],
  ];
  for (const [value, expected] of cases) {
    const { config, messages, file } = load(t, value);
    assert.equal(config, null, JSON.stringify(value));
    assert.ok(
      messages.some((m) => m.startsWith(file) && expected.test(m)),
      `${JSON.stringify(value)}: ${messages.join(' | ')}`,
    );
  }
});

test('docs/configuration.md describes every field of a hook, and every variable a run gets', T, () => {
  const docs = fs.readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  const section = /^### `OnEvent`\n([\s\S]*?)^### /m.exec(docs)?.[1] ?? '';
  for (const field of HOOK_FIELDS) assert.match(section, new RegExp(`^\\| \`${field.name}\` \\|`, 'm'), `no row for ${field.name}`);
  for (const name of HOOK_VARIABLES) assert.match(section, new RegExp(`^\\| \`${name}\` \\|`, 'm'), `no row for ${name}`);
});
