// Tests of every service key's checks: good values and what they become, bad values and the exact issue.
import { ADOPTION_FIELDS, HEALTH_FIELDS, READINESS_FIELDS, SCHEDULE_FIELDS } from '../../schema/run-dir-read.js';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadedServices, ServiceConfig } from '../../schema/config/index.js';
import { loadServicesWith } from '../../schema/config/load-services.js';
import type { Host } from '../../schema/config/accounts.js';
import { controllerConfigIn } from '../helpers/load-services.js';

const T = { timeout: 10_000 };
const ROOT_HOST: Host = { uid: 0, gid: 0, passwdFile: '/etc/passwd', groupFile: '/etc/group' };

interface Fixture {
  dir: string;
  file: string;
  home: string;
}

/** A temp folder with upkeeper.d/ and a fake HOME; `load` writes one service file and loads it. */
function fixture(t: TestContext): Fixture & { load: (text: string, defaults?: Record<string, unknown>, host?: Host) => LoadedServices } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'upkeeper.d'));
  const file = path.join(dir, 'upkeeper.d', 'svc.conf');
  const home = path.join(dir, 'home');
  const load = (text: string, defaults: Record<string, unknown> = {}, host: Host = ROOT_HOST): LoadedServices => {
    fs.writeFileSync(file, text);
    const config = controllerConfigIn(dir, defaults);
    return loadServicesWith(config, { HOME: home }, host);
  };
  return { dir, file, home, load };
}

/** A service file whose key under test is on line 4, its value at column 5 + `"Key": `. */
function serviceText(key: string, value: string): string {
  return `{\n  "web": {\n    "ExecStart": "run",\n    ${JSON.stringify(key)}: ${value}\n  }\n}\n`;
}

const FIELD: Record<string, keyof ServiceConfig> = { SetUID: 'setUid', SetGID: 'setGid', UUID: 'uuid', Type: 'serviceType' };
const field = (key: string): keyof ServiceConfig => FIELD[key] ?? ((key[0]?.toLowerCase() + key.slice(1)) as keyof ServiceConfig);

type Expect = unknown | ((f: Fixture) => unknown);
interface Case {
  key: string;
  good: [string, Expect][];
  bad: [string, string][];
}

const seconds = (range: string, nullable = false) =>
  `expected a number of seconds${range} (or a duration: "90s", "15m", "7d")${nullable ? ' or null' : ''}`;

const CASES: Case[] = [
  {
    key: 'ShortDescription',
    good: [
      ['"Web server"', 'Web server'],
      ['""', ''],
      ['null', null],
    ],
    bad: [['5', 'expected a string or null, got 5']],
  },
  { key: 'LongDescription', good: [['"Long\\ntext"', 'Long\ntext']], bad: [['true', 'expected a string or null, got true']] },
  {
    key: 'UUID',
    good: [
      ['"0F8FAD5B-D9CB-469F-A165-70867728950E"', '0f8fad5b-d9cb-469f-a165-70867728950e'],
      ['null', null],
    ],
    bad: [['"abc"', 'expected a UUID (like "0f8fad5b-d9cb-469f-a165-70867728950e") or null, got "abc"']],
  },
  {
    key: 'StartPriority',
    good: [
      ['-5', -5],
      ['3', 3],
    ],
    bad: [
      ['1.5', 'expected an integer, got 1.5'],
      ['"3"', 'expected an integer, got "3" (write numbers without quotes)'],
    ],
  },
  {
    key: 'KillTimeout',
    good: [
      ['5', 5],
      ['-3', -3],
      ['0', 0],
      ['2.5', 2.5],
      ['"15s"', 15],
      ['"1.5m"', 90],
      ['" 2h "', 7200],
    ],
    bad: [
      ['"ten"', `${seconds('')}, got "ten"`],
      ['"-5s"', `${seconds('')}, got "-5s"`],
      ['"5 sec"', `${seconds('')}, got "5 sec"`],
      ['"10"', `${seconds('')}, got "10" (write numbers without quotes)`],
      ['null', `${seconds('')}, got null`],
    ],
  },
  {
    key: 'MaxConsecutiveFailures',
    good: [
      ['-1', -1],
      ['0', 0],
      ['5', 5],
    ],
    bad: [
      ['-2', 'expected an integer ≥ -1, got -2'],
      ['1.5', 'expected an integer ≥ -1, got 1.5'],
    ],
  },
  {
    key: 'MinUptime',
    good: [
      ['0', 0],
      ['3.5', 3.5],
      ['"500ms"', 0.5],
    ],
    bad: [
      ['-0.1', `${seconds(' ≥ 0')}, got -0.1`],
      ['null', `${seconds(' ≥ 0')}, got null`],
    ],
  },
  {
    key: 'Type',
    good: [
      ['"simple"', 'simple'],
      ['"notify"', 'notify'],
      ['"Notify"', 'notify'], // (any letter case, as every word-valued key)
      ['"oneshot"', 'oneshot'],
    ],
    bad: [
      ['"oneshots"', 'expected one of "simple", "notify", "oneshot", "forking", got "oneshots"'],
      ['null', 'expected one of "simple", "notify", "oneshot", "forking", got null'],
    ],
  },
  {
    key: 'PidFile',
    good: [
      ['"web.pid"', (f: Fixture) => path.join(path.dirname(f.file), 'web.pid')],
      ['"/run/web.pid"', '/run/web.pid'],
      ['null', null],
    ],
    bad: [
      ['""', 'expected a path, got ""'],
      ['7', 'expected a path or null, got 7'],
    ],
  },
  {
    key: 'ProcessMatch',
    good: [
      ['"^/usr/bin/web --port 80"', '^/usr/bin/web --port 80'],
      ['null', null],
    ],
    bad: [
      ['"web ("', 'not a valid regular expression "web (": Invalid regular expression: /web (/: Unterminated group'],
      [
        '"(a+)+"',
        'a repeated group that itself repeats (like "(a+)+") can take exponential time on a line of output: write it without the nesting',
      ],
      ['[]', 'expected a regular expression or null, got a list'],
    ],
  },
  {
    key: 'Listen',
    good: [
      ['[]', []],
      ['"tcp:8080"', [{ address: 'tcp:8080', kind: 'tcp', host: '', port: 8080, path: '', backlog: 128, mode: 0o600, name: 'web' }]],
      [
        '["tcp:127.0.0.1:80", "tcp:[::1]:81"]',
        [
          { address: 'tcp:127.0.0.1:80', kind: 'tcp', host: '127.0.0.1', port: 80, path: '', backlog: 128, mode: 0o600, name: 'web' },
          { address: 'tcp:[::1]:81', kind: 'tcp', host: '::1', port: 81, path: '', backlog: 128, mode: 0o600, name: 'web' },
        ],
      ],
      [
        '{ "Address": "unix:web.sock", "Name": "admin", "Backlog": 16, "Mode": "0660" }',
        (f: Fixture) => [
          {
            address: `unix:${path.join(path.dirname(f.file), 'web.sock')}`,
            kind: 'unix',
            host: '',
            port: 0,
            path: path.join(path.dirname(f.file), 'web.sock'),
            backlog: 16,
            mode: 0o660,
            name: 'admin',
          },
        ],
      ],
    ],
    bad: [
      [
        '5',
        'expected a list of sockets, each "tcp:HOST:PORT", "tcp:[IPV6]:PORT", "tcp:PORT", "unix:PATH", or {Address, Name, Backlog, Mode}, got 5',
      ],
      ['"tcp:localhost:80"', '"tcp:localhost:80": the host must be an IP address (IPv4), not a name'],
      ['"tcp:70000"', '"tcp:70000": the port must be from 1 to 65535'],
      ['"udp:53"', '"udp:53": expected "tcp:HOST:PORT", "tcp:[IPV6]:PORT", "tcp:PORT" or "unix:/PATH"'],
      [
        `"unix:/${'x'.repeat(120)}"`,
        `"unix:/${'x'.repeat(120)}": /${'x'.repeat(120)} is longer than a Unix socket path may be (107 bytes)`,
      ],
    ],
  },
  {
    key: 'ReadyFd',
    good: [
      ['3', 3],
      ['255', 255],
      ['null', null],
    ],
    bad: [
      ['2', 'expected an integer from 3 to 255 or null, got 2'],
      ['3.5', 'expected an integer from 3 to 255 or null, got 3.5'],
    ],
  },
  {
    key: 'ReadyLine',
    good: [
      ['"listening on \\\\d+"', 'listening on \\d+'],
      ['null', null],
    ],
    bad: [
      ['"(unclosed"', 'not a valid regular expression "(unclosed": Invalid regular expression: /(unclosed/: Unterminated group'],
      ['""', 'expected a regular expression or null, got ""'],
      ['5', 'expected a regular expression or null, got 5'],
    ],
  },
  {
    key: 'StartTimeout',
    good: [
      ['null', null],
      ['0', 0],
      ['"2m"', 120],
    ],
    bad: [['-1', `${seconds(' ≥ 0', true)}, got -1`]],
  },
  {
    key: 'MaxRunTime',
    good: [
      ['null', null],
      ['"1h"', 3600],
    ],
    bad: [['"soon"', `${seconds(' ≥ 0', true)}, got "soon"`]],
  },
  {
    key: 'UserMaxRestarts',
    good: [
      ['-1', -1],
      ['0', 0],
      ['3', 3],
      ['null', 10],
    ],
    bad: [['-2', 'expected an integer ≥ -1 or null, got -2']],
  },
  {
    key: 'UserRestartWindow',
    good: [
      ['0.5', 0.5],
      ['null', 60],
    ],
    bad: [['0', `${seconds(' > 0', true)}, got 0`]],
  },
  {
    key: 'UserRateLimit',
    good: [
      ['0', 0],
      ['2.5', 2.5],
      ['null', 1],
    ],
    bad: [['-1', `${seconds(' ≥ 0', true)}, got -1`]],
  },
  {
    key: 'SampleInterval',
    good: [
      ['0', 0],
      ['2.5', 2.5],
      ['"1m"', 60],
      ['null', 60],
    ],
    bad: [['-1', `${seconds(' ≥ 0', true)}, got -1`]],
  },
  {
    key: 'RandomizeRateLimit',
    good: [
      ['true', true],
      ['FALSE', false],
    ],
    bad: [
      ['"true"', 'expected true or false, got "true"'],
      ['1', 'expected true or false, got 1'],
    ],
  },
  {
    key: 'RingbufferSize',
    good: [
      ['4', 4],
      ['65536', 65536],
    ],
    bad: [
      ['3', 'expected an integer from 4 to 65536, got 3'],
      ['65537', 'expected an integer from 4 to 65536, got 65537'],
      ['100.5', 'expected an integer from 4 to 65536, got 100.5'],
    ],
  },
  {
    key: 'ReconnectRetries',
    good: [
      ['-1', -1],
      ['0', 0],
    ],
    bad: [['-2', 'expected an integer ≥ -1, got -2']],
  },
  {
    key: 'ExecStop',
    good: [['"kill -TERM"', 'kill -TERM']],
    bad: [
      ['""', 'expected a non-empty string or null, got ""'],
      ['5', 'expected a non-empty string or null, got 5'],
    ],
  },
  { key: 'ExecReload', good: [['"kill -USR2"', 'kill -USR2']], bad: [['"  "', 'expected a non-empty string or null, got "  "']] },
  {
    key: 'StartScript',
    good: [
      ['"exec run"', '#!/bin/sh\nexec run'],
      ['"#!/bin/bash\\nexec run"', '#!/bin/bash\nexec run'],
    ],
    bad: [
      ['""', 'expected a script (non-empty text), got ""'],
      ['null', 'expected a script (non-empty text), got null'],
      ['"\\n "', 'expected a script (non-empty text), got "\\n "'],
      [
        '"exec %(EXEC_STRAT)"',
        'unknown placeholder %(EXEC_STRAT): the placeholders are %(EXEC_START), %(EXEC_STOP), %(EXEC_RELOAD), %(INSTANCE) (upper case)',
      ],
      [
        '"exec %(exec_start)"',
        'unknown placeholder %(exec_start): the placeholders are %(EXEC_START), %(EXEC_STOP), %(EXEC_RELOAD), %(INSTANCE) (upper case)',
      ],
    ],
  },
  { key: 'StopScript', good: [['"kill $1"', '#!/bin/sh\nkill $1']], bad: [['1', 'expected a script (non-empty text), got 1']] },
  {
    key: 'ReloadScript',
    good: [['"kill -HUP $1"', '#!/bin/sh\nkill -HUP $1']],
    bad: [['false', 'expected a script (non-empty text), got false']],
  },
  {
    key: 'PipeStdoutScript',
    good: [
      ['"exec logger -t web"', '#!/bin/sh\nexec logger -t web'],
      ['null', null],
    ],
    bad: [['""', 'expected a script (non-empty text) or null, got ""']],
  },
  {
    key: 'PipeStderrScript',
    good: [['"#!/usr/bin/env python3\\nimport sys"', '#!/usr/bin/env python3\nimport sys']],
    bad: [['[]', 'expected a script (non-empty text) or null, got a list']],
  },
  {
    key: 'RedirectStdout',
    good: [
      ['"out.log"', (f: Fixture) => path.join(path.dirname(f.file), 'out.log')],
      ['"~/x/../y"', (f: Fixture) => path.join(f.home, 'y')],
      ['"/var/log/w"', '/var/log/w'],
      ['null', null],
    ],
    bad: [
      ['""', 'expected a path, got ""'],
      ['5', 'expected a path or null, got 5'],
    ],
  },
  {
    key: 'RedirectStderr',
    good: [['"../err"', (f: Fixture) => path.join(f.dir, 'err')]],
    bad: [['"~root/x"', '"~root/x": "~user" is not supported; write the full path or "~/…" for your own home']],
  },
  {
    key: 'WorkingDirectory',
    good: [
      ['"."', (f: Fixture) => path.dirname(f.file)],
      ['"~"', (f: Fixture) => f.home],
      ['null', null],
    ],
    bad: [['{}', 'expected a path or null, got an object']],
  },
  {
    key: 'InitialState',
    good: [
      ['"Up"', 'running'],
      ['"RUN"', 'running'],
      ['"start"', 'running'],
      ['"running"', 'running'],
      ['"stopped"', 'stopped'],
      ['"DOWN"', 'stopped'],
      ['"stop"', 'stopped'],
    ],
    bad: [
      ['"go"', 'expected one of running, up, start, run, stopped, down, stop, got "go"'],
      ['null', 'expected one of running, up, start, run, stopped, down, stop, got null'],
    ],
  },
  { key: 'UnconfigureOnFileRemoval', good: [['true', true]], bad: [['"yes"', 'expected true or false, got "yes"']] },
  { key: 'PreferBuddyStateForStopped', good: [['true', true]], bad: [['null', 'expected true or false, got null']] },
  { key: 'PreferBuddyStateForRunning', good: [['false', false]], bad: [['0', 'expected true or false, got 0']] },
];

for (const c of CASES) {
  test(`${c.key}: good values`, T, (t) => {
    const f = fixture(t);
    for (const [written, expected] of c.good) {
      const { services, issues } = f.load(serviceText(c.key, written));
      assert.deepEqual(issues, [], `${c.key}: ${written}`);
      const want = typeof expected === 'function' ? (expected as (f: Fixture) => unknown)(f) : expected;
      assert.deepEqual(services[0]?.[field(c.key)], want, `${c.key}: ${written}`);
    }
  });
  test(`${c.key}: bad values`, T, (t) => {
    const f = fixture(t);
    for (const [written, message] of c.bad) {
      const { services, issues } = f.load(serviceText(c.key, written));
      assert.deepEqual(services, []);
      const column = 5 + JSON.stringify(c.key).length + 2;
      assert.deepEqual(issues, [{ file: f.file, line: 4, column, key: `web.${c.key}`, message }], `${c.key}: ${written}`);
    }
  });
}

test('keys are matched in any letter case and reported under their canonical name', T, (t) => {
  const f = fixture(t);
  let r = f.load(serviceText('killTIMEOUT', '7'));
  assert.equal(r.services[0]?.killTimeout, 7);
  r = f.load(serviceText('killtimeout', '"x"'));
  assert.equal(r.issues[0]?.key, 'web.KillTimeout');
});

test('built-in defaults of a service that sets only ExecStart', T, (t) => {
  const f = fixture(t);
  const { services, issues } = f.load('{ "web": { "ExecStart": "/usr/bin/web --port 80" } }');
  assert.deepEqual(issues, []);
  assert.deepEqual(services, [
    {
      id: 'web',
      name: 'web',
      package: null,
      file: f.file,
      line: 1,
      uuid: null,
      provides: [],
      shortDescription: null,
      longDescription: null,
      prerequisites: [],
      startPriority: 0,
      killTimeout: 10,
      maxConsecutiveFailures: -1,
      userMaxRestarts: 10,
      userRestartWindow: 60,
      userRateLimit: 1,
      randomizeRateLimit: false,
      minUptime: 1,
      ...READINESS_FIELDS,
      ...SCHEDULE_FIELDS,
      ...ADOPTION_FIELDS,
      setUid: null,
      setGid: null,
      ringbufferSize: 256,
      reconnectRetries: 10,
      conflicts: [],
      journalMaxEvents: 100000,
      logMaxSize: 10485760,
      logKeep: 5,
      logTimestamps: false,
      sampleInterval: 60,
      ...HEALTH_FIELDS,
      execStart: '/usr/bin/web --port 80',
      execStop: 'kill',
      execReload: 'kill -HUP',
      startScript: '#!/bin/sh\nexec /usr/bin/web --port 80\n',
      stopScript: '#!/bin/sh\nexec kill $1\n',
      reloadScript: '#!/bin/sh\nexec kill -HUP $1\n',
      customActions: [],
      pipeStdoutScript: null,
      pipeStderrScript: null,
      redirectStdout: null,
      redirectStderr: null,
      initialState: 'stopped',
      unconfigureOnFileRemoval: false,
      preferBuddyStateForStopped: false,
      preferBuddyStateForRunning: true,
      environment: {},
      environmentFiles: [],
      workingDirectory: null,
    },
  ]);
});

test('Provides and Prerequisites: entry syntax, each bad entry named by index', T, (t) => {
  const f = fixture(t);
  const good = f.load(
    '{ "web": { "ExecStart": "x", "Provides": ["http", "a.b@c-d_1", "http"],\n' +
      ' "Prerequisites": ["db", "pkg:db", "uuid#0F8FAD5B-D9CB-469F-A165-70867728950E"] },\n' +
      ' "db": { "ExecStart": "x" }, "pkg::db": { "ExecStart": "x" }, "x": { "ExecStart": "x", "UUID": "0f8fad5b-d9cb-469f-a165-70867728950e" } }',
  );
  assert.deepEqual(good.issues, []);
  assert.deepEqual(good.services[0]?.provides, ['http', 'a.b@c-d_1']);
  assert.deepEqual(good.services[0]?.prerequisites, ['db', 'pkg:db', 'uuid#0F8FAD5B-D9CB-469F-A165-70867728950E']);

  const bad = f.load(
    '{ "web": { "ExecStart": "x",\n "Provides": ["ok", "a b", 5, "pkg:x"],\n "Prerequisites": ["pkg::db", "uuid#nope", ".hidden", "a:b:c", ""],\n "Provides": [] } }',
  );
  const want = (column: number, key: string, message: string, line = 2) => ({ file: f.file, line, column, key, message });
  const name = 'a name (1 to 64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit)';
  const prereq = 'a prerequisite: a name, package:name or uuid#<uuid>';
  assert.deepEqual(bad.issues, [
    want(21, 'web.Provides[1]', `expected ${name}, got "a b"`),
    want(28, 'web.Provides[2]', `expected ${name}, got 5`),
    want(31, 'web.Provides[3]', `expected ${name}, got "pkg:x"`),
    want(20, 'web.Prerequisites[0]', `expected ${prereq}, got "pkg::db"`, 3),
    want(31, 'web.Prerequisites[1]', `expected ${prereq}, got "uuid#nope"`, 3),
    want(44, 'web.Prerequisites[2]', `expected ${prereq}, got ".hidden"`, 3),
    want(55, 'web.Prerequisites[3]', `expected ${prereq}, got "a:b:c"`, 3),
    want(64, 'web.Prerequisites[4]', `expected ${prereq}, got ""`, 3),
    want(2, 'web.Provides', 'duplicate key "Provides" (already set at line 2)', 4),
  ]);
  assert.deepEqual(f.load('{"web": {"ExecStart": "x", "Provides": "http"}}').issues[0]?.message, 'expected a list of names, got "http"');
});

test('CustomActions: config order, #! added, every name rule', T, (t) => {
  const f = fixture(t);
  const good = f.load(
    '{ "web": { "ExecStart": "x", "CustomActions": { "rotate": "kill -USR1 $1", "status-1.x_y": "#!/bin/bash\\necho ok" } } }',
  );
  assert.deepEqual(good.issues, []);
  assert.deepEqual(good.services[0]?.customActions, [
    { name: 'rotate', script: '#!/bin/sh\nkill -USR1 $1' },
    { name: 'status-1.x_y', script: '#!/bin/bash\necho ok' },
  ]);
  const bad = f.load(`{ "web": { "ExecStart": "x", "CustomActions": {
  "Start": "a",
  "pipe-stdout": "a",
  "12": "a",
  "-x": "a",
  "a/b": "a",
  "empty": "",
  "num": 5,
  "ROTATE": "a",
  "rotate": "b"
} } }`);
  const at = (line: number, column: number, key: string, message: string) => ({ file: f.file, line, column, key, message });
  assert.deepEqual(bad.issues, [
    at(2, 3, 'web.CustomActions.Start', 'invalid action name "Start": reserved for the built-in start action'),
    at(3, 3, 'web.CustomActions.pipe-stdout', 'invalid action name "pipe-stdout": reserved for the built-in pipe-stdout script'),
    at(4, 3, 'web.CustomActions.12', 'invalid action name "12": a name cannot be all digits (numbers address actions by position)'),
    at(
      5,
      3,
      'web.CustomActions.-x',
      'invalid action name "-x": expected 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit',
    ),
    at(
      6,
      3,
      'web.CustomActions.a/b',
      'invalid action name "a/b": expected 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit',
    ),
    at(7, 12, 'web.CustomActions.empty', 'expected a script (non-empty text), got ""'),
    at(8, 10, 'web.CustomActions.num', 'expected a script (non-empty text), got 5'),
    at(10, 3, 'web.CustomActions.rotate', 'duplicate key "rotate" (already set as "ROTATE" at line 9)'),
  ]);
});

test('CustomActions: at most 32', T, (t) => {
  const f = fixture(t);
  const actions = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, 'true']));
  const ok = f.load(JSON.stringify({ web: { ExecStart: 'x', CustomActions: actions(32) } }));
  assert.equal(ok.services[0]?.customActions.length, 32);
  assert.equal(ok.services[0]?.customActions[31]?.name, 'a31');
  const tooMany = f.load(JSON.stringify({ web: { ExecStart: 'x', CustomActions: actions(33) } }));
  assert.deepEqual(
    tooMany.issues.map((i) => [i.key, i.message]),
    [['web.CustomActions', 'too many custom actions: 33, at most 32']],
  );
});

test('Environment: names, string or null values, case-sensitive names', T, (t) => {
  const f = fixture(t);
  const good = f.load('{ "web": { "ExecStart": "x", "Environment": { "http_proxy": "p", "HTTP_PROXY": "P", "_X1": "", "GONE": null } } }');
  assert.deepEqual(good.issues, []);
  assert.deepEqual(good.services[0]?.environment, { http_proxy: 'p', HTTP_PROXY: 'P', _X1: '', GONE: null });
  const bad = f.load(
    '{ "web": { "ExecStart": "x", "Environment": {\n "1A": "x",\n "A-B": "x",\n "N": 5,\n "Z": "\\u0000",\n "N": "again"\n} } }',
  );
  assert.deepEqual(
    bad.issues.map((i) => [i.line, i.key, i.message]),
    [
      [2, 'web.Environment.1A', 'invalid variable name "1A": expected letters, digits and "_", not starting with a digit'],
      [3, 'web.Environment.A-B', 'invalid variable name "A-B": expected letters, digits and "_", not starting with a digit'],
      [4, 'web.Environment.N', 'expected a string or null, got 5'],
      [5, 'web.Environment.Z', 'a variable value cannot contain a NUL character'],
      [6, 'web.Environment.N', 'duplicate key "N" (already set at line 4)'],
    ],
  );
});

test('Name and Package are accepted when they agree with the id', T, (t) => {
  const f = fixture(t);
  const good = f.load(
    '{ "web": { "ExecStart": "x", "Name": "web", "Package": null }, "pkg::api": { "ExecStart": "x", "name": "api", "package": "pkg" } }',
  );
  assert.deepEqual(good.issues, []);
  assert.deepEqual(
    good.services.map((s) => [s.id, s.package, s.name]),
    [
      ['web', null, 'web'],
      ['pkg::api', 'pkg', 'api'],
    ],
  );
  const bad = f.load(
    '{ "web": { "ExecStart": "x", "Name": "www", "Package": "pkg" },\n "p::api": { "ExecStart": "x", "Package": "q", "Name": "a/b" } }',
  );
  assert.deepEqual(
    bad.issues.map((i) => [i.line, i.key, i.message]),
    [
      [1, 'web.Name', 'Name "www" does not match the service id "web" (name "web")'],
      [1, 'web.Package', 'Package "pkg" does not match the service id "web", which has no package (write the id as package::name)'],
      [2, 'p::api.Package', 'Package "q" does not match the service id "p::api", which has package "p" (write the id as package::name)'],
      [2, 'p::api.Name', 'expected a name (1 to 64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit), got "a/b"'],
    ],
  );
});

test('unknown service keys suggest the nearest key, or point controller keys to upkeeper.conf', T, (t) => {
  const f = fixture(t);
  const { issues } = f.load(
    '{ "web": { "ExecStart": "x",\n "KilTimeout": 5,\n "ringbuffersise": 5,\n "Restart": "always",\n "SvcRunPath": "/x" } }',
  );
  assert.deepEqual(
    issues.map((i) => [i.line, i.column, i.key, i.message]),
    [
      [2, 2, 'web.KilTimeout', 'unknown key "KilTimeout" (did you mean "KillTimeout"?)'],
      [3, 2, 'web.ringbuffersise', 'unknown key "ringbuffersise" (did you mean "RingbufferSize"?)'],
      [4, 2, 'web.Restart', 'unknown key "Restart"'],
      [5, 2, 'web.SvcRunPath', 'SvcRunPath is a controller key, not a service key: set it at the top level of upkeeper.conf'],
    ],
  );
});

test('a service that is not an object is an issue', T, (t) => {
  const f = fixture(t);
  const { issues } = f.load('{ "web": "run" }');
  assert.deepEqual(issues, [{ file: f.file, line: 1, column: 10, key: 'web', message: 'expected an object of service keys, got "run"' }]);
});

test('all issues are collected, in file order, and only the bad service is left out', T, (t) => {
  const f = fixture(t);
  const { services, issues } = f.load(
    '{\n"a": { "ExecStart": "x", "KillTimeout": "1", "MinUptime": -1 },\n"b": { "ExecStart": "x" },\n"c": { "RingbufferSize": 1 }\n}',
  );
  assert.deepEqual(
    services.map((s) => s.id),
    ['b'],
  );
  assert.deepEqual(
    issues.map((i) => `${i.line}:${i.column} ${i.key}`),
    ['2:41 a.KillTimeout', '2:59 a.MinUptime', '4:1 c.ExecStart', '4:26 c.RingbufferSize'],
  );
});

test('EnvironmentFile: a path or a list, "-" for optional, resolved like any path; LogTimestamps a boolean', T, (t) => {
  const f = fixture(t);
  const one = f.load('{ "web": { "ExecStart": "x", "EnvironmentFile": "web.env", "LogTimestamps": true } }');
  assert.deepEqual(one.issues, []);
  assert.deepEqual(one.services[0]?.environmentFiles, [{ path: path.join(f.dir, 'upkeeper.d', 'web.env'), optional: false }]);
  assert.equal(one.services[0]?.logTimestamps, true);
  const list = f.load('{ "web": { "ExecStart": "x", "EnvironmentFile": ["/etc/a.env", "-~/b.env", "-/c.env"] } }');
  assert.deepEqual(list.issues, []);
  assert.deepEqual(list.services[0]?.environmentFiles, [
    { path: '/etc/a.env', optional: false },
    { path: path.join(f.home, 'b.env'), optional: true },
    { path: '/c.env', optional: true },
  ]);
  // A service's own list replaces that of ServiceDefaults; [] drops it.
  const defaults = { EnvironmentFile: '-/etc/all.env' };
  assert.deepEqual(f.load('{ "web": { "ExecStart": "x" } }', defaults).services[0]?.environmentFiles, [
    { path: '/etc/all.env', optional: true },
  ]);
  assert.deepEqual(f.load('{ "web": { "ExecStart": "x", "EnvironmentFile": [] } }', defaults).services[0]?.environmentFiles, []);
  const bad = f.load('{ "web": { "ExecStart": "x",\n "EnvironmentFile": ["/a", 3, "", "-"],\n "LogTimestamps": "yes" } }');
  assert.deepEqual(
    bad.issues.map((i) => [i.line, i.key, i.message]),
    [
      [2, 'web.EnvironmentFile[1]', 'expected a path, got 3'],
      [2, 'web.EnvironmentFile[2]', 'expected a path, got ""'],
      [2, 'web.EnvironmentFile[3]', 'expected a path, got ""'],
      [3, 'web.LogTimestamps', 'expected true or false, got "yes"'],
    ],
  );
  assert.equal(
    f.load('{ "web": { "ExecStart": "x", "EnvironmentFile": {} } }').issues[0]?.message,
    'expected a path or a list of paths (a leading "-" makes a file optional), got an object',
  );
});

test('Type "notify" with SetUID is an error: the service could not reach NOTIFY_SOCKET', T, (t) => {
  const f = fixture(t);
  const { services, issues } = f.load('{\n  "web": {\n    "ExecStart": "run",\n    "Type": "notify",\n    "SetUID": 1\n  }\n}\n');
  assert.deepEqual(services, []);
  assert.equal(issues.length, 1);
  assert.deepEqual([issues[0]?.key, issues[0]?.line], ['web.Type', 4]);
  assert.match(issues[0]!.message, /cannot be used with SetUID/);
});

test('Type "forking" needs PidFile; PidFile and ProcessMatch are not for Instances', T, (t) => {
  const f = fixture(t);
  const issuesOf = (text: string): [string, number, string][] => f.load(text).issues.map((i) => [i.key, i.line, i.message]);
  assert.deepEqual(issuesOf('{\n  "web": {\n    "ExecStart": "run",\n    "Type": "forking"\n  }\n}\n'), [
    ['web.Type', 4, '"forking" needs PidFile: the file in which the service writes the pid of the process it leaves running'],
  ]);
  const { services, issues } = f.load('{ "web": { "ExecStart": "run", "Type": "forking", "PidFile": "/run/web.pid" } }');
  assert.deepEqual(issues, []);
  assert.deepEqual([services[0]?.serviceType, services[0]?.pidFile], ['forking', '/run/web.pid']);
  assert.deepEqual(issuesOf('{ "web": { "ExecStart": "run", "Instances": 2, "PidFile": "/run/web.pid", "ProcessMatch": "web" } }'), [
    ['web.PidFile', 1, 'cannot be used with Instances: every instance would take over the same process'],
    ['web.ProcessMatch', 1, 'cannot be used with Instances: every instance would take over the same process'],
  ]);
});

test('Listen: each socket is checked by its index; ReadyFd comes after the sockets; not with Instances', T, (t) => {
  const f = fixture(t);
  const issuesOf = (text: string): [string, string][] => f.load(text).issues.map((i) => [i.key, i.message]);
  assert.deepEqual(
    issuesOf('{ "web": { "ExecStart": "run", "Listen": ["tcp:80", "tcp:80", { "Address": "tcp:81", "Mode": "0600", "Port": 1 }, {}] } }'),
    [
      ['web.Listen[1]', 'tcp:80 is already web.Listen[0]'],
      ['web.Listen[2].Mode', 'Mode is for a Unix socket only'],
      ['web.Listen[2].Port', 'unknown key "Port": a socket has Address, Name, Backlog, Mode'],
      ['web.Listen[3].Address', 'Address is required'],
    ],
  );
  assert.deepEqual(issuesOf('{ "web": { "ExecStart": "run", "Listen": ["tcp:80", "tcp:81"], "ReadyFd": 4 } }'), [
    ['web.ReadyFd', "ReadyFd 4 is taken: Listen's sockets are descriptors 3 to 4; use 5 or more"],
  ]);
  assert.deepEqual(issuesOf('{ "web": { "ExecStart": "run", "Listen": "tcp:80", "Instances": 2 } }'), [
    ['web.Listen', 'Listen cannot be used with Instances: each instance would open the same addresses'],
  ]);
  assert.deepEqual(issuesOf('{ "web": { "ExecStart": "run", "Listen": ["tcp:80"], "ReadyFd": 4 } }'), []);
});

test(
  'Schedule: a cron expression or "@every DURATION", on a oneshot job; a bad one names the key, the value and what was expected',
  T,
  (t) => {
    const f = fixture(t);
    const job = (schedule: string, more = ''): string =>
      `{\n  "backup": {\n    "ExecStart": "run",\n    "Schedule": ${schedule},\n    "Type": "oneshot"${more}\n  }\n}\n`;
    for (const [written, want] of [
      ['"0 3 * * *"', '0 3 * * *'],
      ['" */15 * * * * "', '*/15 * * * *'],
      ['"*/2 * * * * *"', '*/2 * * * * *'],
      ['"@daily"', '@daily'],
      ['"@every 30s"', '@every 30s'],
      ['"@every 1s"', '@every 1s'],
      ['null', null],
    ] as const) {
      const { services, issues } = f.load(job(written));
      assert.deepEqual(issues, [], written);
      assert.equal(services[0]?.schedule, want, written);
    }
    for (const [written, message] of [
      [
        '"61 * * * *"',
        /^expected a cron expression \("MIN HOUR DAY MONTH WEEKDAY".*or "@every DURATION" \("@every 30s"\); got "61 \* \* \* \*": Invalid value for minute: 61$/,
      ],
      ['"every day"', /got "every day": invalid configuration format/],
      ['"@every"', /^"@every" needs a duration like 500ms, 90s/],
      ['"@every 10"', /^"@every" needs a duration/],
      ['"@every 500ms"', /^"@every" runs at most once a second/],
      ['"@reboot"', /got "@reboot"/],
      ['"2030-01-01T00:00:00"', /got "2030-01-01T00:00:00", a single time$/],
      ['""', /^expected a cron expression .* or null, got ""$/],
      ['5', /^expected a cron expression .* or null, got 5$/],
    ] as const) {
      const { services, issues } = f.load(job(written));
      assert.deepEqual(services, [], written);
      assert.deepEqual(
        issues.map((i) => [i.file, i.line, i.key]),
        [[f.file, 4, 'backup.Schedule']],
        written,
      );
      assert.match(issues[0]!.message, message, written);
    }
    const overlap = f.load(job('"@every 1m"', ',\n    "ScheduleOverlap": "Queue"'));
    assert.deepEqual(overlap.issues, []);
    assert.equal(overlap.services[0]?.scheduleOverlap, 'queue');
    assert.equal(
      f.load(job('"@every 1m"', ',\n    "ScheduleOverlap": "run"')).issues[0]?.message,
      'expected one of "skip", "queue", got "run"',
    );
  },
);

test('Schedule needs Type oneshot, CronRestart refuses it, and a job has no readiness: each error says why', T, (t) => {
  const f = fixture(t);
  const only = (text: string) => {
    const { services, issues } = f.load(text);
    assert.deepEqual(services, []);
    return issues.map((i) => [i.line, i.key, i.message]);
  };
  assert.deepEqual(only('{ "web": {\n "ExecStart": "run",\n "Schedule": "@hourly" } }'), [
    [
      3,
      'web.Schedule',
      'Schedule runs a job, which needs Type oneshot (Type is "simple"): a long-running service is restarted at times with CronRestart',
    ],
  ]);
  assert.deepEqual(only('{ "job": {\n "ExecStart": "run",\n "Type": "oneshot",\n "CronRestart": "0 4 * * *" } }'), [
    [4, 'job.CronRestart', 'CronRestart restarts a long-running service: a Type oneshot job runs at times with Schedule'],
  ]);
  assert.deepEqual(only('{ "job": {\n "ExecStart": "run",\n "Type": "oneshot",\n "ReadyLine": "up" } }'), [
    [4, 'job.ReadyLine', 'ReadyLine cannot be used with Type oneshot: a job is not "ready", it runs to its end'],
  ]);
  const web = f.load('{ "web": { "ExecStart": "run", "CronRestart": "@every 2h" } }');
  assert.deepEqual(web.issues, []);
  assert.equal(web.services[0]?.cronRestart, '@every 2h');
  assert.match(f.load('{ "web": { "ExecStart": "run", "CronRestart": "* * *" } }').issues[0]?.message ?? '', /^expected a cron expression/);
});

test(
  'RestartMode: stop-start by default, overlap where runs can overlap; a job, forking, PidFile or ProcessMatch refuse it, saying why',
  T,
  (t) => {
    const f = fixture(t);
    const plain = f.load('{ "web": { "ExecStart": "run" } }');
    assert.equal(plain.services[0]?.restartMode, 'stop-start');
    const web = f.load('{ "web": { "ExecStart": "run", "Listen": "tcp:8080", "RestartMode": "Overlap" } }');
    assert.deepEqual(web.issues, []);
    assert.equal(web.services[0]?.restartMode, 'overlap');
    assert.equal(
      f.load('{ "web": { "ExecStart": "run", "RestartMode": "rolling" } }').issues[0]?.message,
      'expected one of "stop-start", "overlap", got "rolling"',
    );
    const refused = (extra: string): [number, string, string][] =>
      f.load(`{ "web": {\n "ExecStart": "run",\n "RestartMode": "overlap",\n ${extra} } }`).issues.map((i) => [i.line, i.key, i.message]);
    assert.deepEqual(refused('"Type": "oneshot"'), [
      [
        3,
        'web.RestartMode',
        'RestartMode overlap: a oneshot job does not overlap its runs (ScheduleOverlap says what a run due meanwhile does)',
      ],
    ]);
    for (const extra of ['"PidFile": "/tmp/web.pid"', '"ProcessMatch": "web"', '"Type": "forking", "PidFile": "/tmp/web.pid"']) {
      assert.deepEqual(
        refused(extra),
        [
          [
            3,
            'web.RestartMode',
            'RestartMode overlap: a service found by PidFile or ProcessMatch (or Type forking) cannot overlap its runs: the new start would find the running one',
          ],
        ],
        extra,
      );
    }
  },
);

test('Listen: two services on one address are an error, unless they are alternatives (Conflicts)', T, (t) => {
  const f = fixture(t);
  const issuesOf = (text: string): [string, string][] => f.load(text).issues.map((i) => [i.key, i.message]);
  const clash = (b: string, address: string, a: string): [string, string] => [
    `${b}.Listen`,
    `${address} is also where ${a} (${f.file}) listens: both cannot run; give one another address, or make them alternatives with Conflicts`,
  ];
  assert.deepEqual(
    issuesOf('{ "a": { "ExecStart": "x", "Listen": "tcp:8080" }, "b": { "ExecStart": "x", "Listen": "tcp:127.0.0.1:8080" } }'),
    [clash('b', 'tcp:127.0.0.1:8080', 'a')],
  );
  assert.deepEqual(
    issuesOf('{ "a": { "ExecStart": "x", "Listen": "tcp:0.0.0.0:80" }, "b": { "ExecStart": "x", "Listen": "tcp:[::1]:80" } }'),
    [],
  );
  assert.deepEqual(
    issuesOf('{ "a": { "ExecStart": "x", "Listen": "unix:/tmp/s" }, "b": { "ExecStart": "x", "Listen": ["tcp:81", "unix:/tmp/s"] } }'),
    [clash('b', 'unix:/tmp/s', 'a')],
  );
  assert.deepEqual(
    issuesOf(
      '{ "blue": { "ExecStart": "x", "Listen": "tcp:80" }, "green": { "ExecStart": "x", "Listen": "tcp:80", "Conflicts": ["blue"] } }',
    ),
    [],
    'alternatives may share it',
  );
});
