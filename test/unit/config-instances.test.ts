// Instances: NAME@1 … NAME@N from one entry, %(INSTANCE), UPK_INSTANCE, and the rules that go with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadServiceText } from '../helpers/load-services.js';
import { providersOf } from '../../schema/config/dependencies.js';
import { buddySettings } from '../../controller/run-dir.js';

const T = { timeout: 10_000 };

const load = loadServiceText;

test('Instances 3: three services, each its own id and name, %(INSTANCE) replaced in scripts and Exec commands', T, (t) => {
  const r = load(
    t,
    JSON.stringify({
      'acme::web': {
        ExecStart: ['node', 'server.js', '--port', '808%(INSTANCE)'],
        Instances: 3,
        StopScript: 'echo stop %(INSTANCE); exec %(EXEC_STOP) $1',
      },
    }),
  );
  assert.deepEqual(r.issues, []);
  assert.deepEqual(
    r.services.map((s) => [s.id, s.name, s.package, s.instance, s.instanceOf]),
    [
      ['acme::web@1', 'web@1', 'acme', 1, 'acme::web'],
      ['acme::web@2', 'web@2', 'acme', 2, 'acme::web'],
      ['acme::web@3', 'web@3', 'acme', 3, 'acme::web'],
    ],
  );
  assert.equal(r.services[1]?.startScript, "#!/bin/sh\nexec 'node' 'server.js' '--port' '8082'\n");
  assert.equal(r.services[1]?.execStart, "'node' 'server.js' '--port' '8082'");
  assert.equal(r.services[2]?.stopScript, '#!/bin/sh\necho stop 3; exec kill $1');
});

test('without Instances: one service under its own id, no instance fields', T, (t) => {
  const r = load(t, JSON.stringify({ web: { ExecStart: 'x' } }));
  assert.deepEqual(
    r.services.map((s) => [s.id, 'instance' in s, 'instanceOf' in s]),
    [['web', false, false]],
  );
});

test('UPK_INSTANCE is in the environment of an instance, not of another service', T, (t) => {
  const r = load(t, JSON.stringify({ web: { ExecStart: 'x', Instances: 2 }, db: { ExecStart: 'x' } }));
  const env = (id: string) =>
    buddySettings(
      r.services.find((s) => s.id === id)!,
      'u',
      '/run/x',
      { PATH: '/bin' },
      null,
    ).environment;
  assert.equal(env('web@2').UPK_INSTANCE, '2');
  assert.equal(env('web@2').UPKEEPER_SERVICE, 'web@2');
  assert.equal(env('db').UPK_INSTANCE, undefined);
});

test('Instances: range, UUID, %(INSTANCE) without it, not in ServiceDefaults, names past 64 characters', T, (t) => {
  const long = 'x'.repeat(62);
  const r = load(
    t,
    `{
"a": { "ExecStart": "x", "Instances": 0 },
"b": { "ExecStart": "x", "Instances": 1001 },
"c": { "ExecStart": "x", "Instances": 1.5 },
"d": { "ExecStart": "x", "Instances": 2, "UUID": "0f8fad5b-d9cb-469f-a165-70867728950e" },
"e": { "ExecStart": "run --n %(INSTANCE)" },
"f": { "ExecStart": "x", "ReloadScript": "kill -HUP %(INSTANCE)" },
"g": { "ExecStart": "x", "StartScript": "exec %(instance)" },
"${long}": { "ExecStart": "x", "Instances": 10 }
}`,
    { Instances: 2 },
  );
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.key, i.message]),
    [
      [0, 'ServiceDefaults.Instances', 'Instances cannot be set in ServiceDefaults: it belongs to one service'],
      [2, 'a.Instances', 'expected an integer from 1 to 1000, got 0'],
      [3, 'b.Instances', 'expected an integer from 1 to 1000, got 1001'],
      [4, 'c.Instances', 'expected an integer from 1 to 1000, got 1.5'],
      [5, 'd.UUID', 'UUID cannot be set together with Instances: each instance gets a UUID of its own from the controller'],
      [6, 'e.ExecStart', '%(INSTANCE) is only for a service with Instances'],
      [7, 'f.ReloadScript', '%(INSTANCE) is only for a service with Instances'],
      [
        8,
        'g.StartScript',
        'unknown placeholder %(instance): the placeholders are %(EXEC_START), %(EXEC_STOP), %(EXEC_RELOAD), %(INSTANCE) (upper case)',
      ],
      [9, `${long}.Instances`, `the instances' names (${long}@1 … ${long}@10) would break the name rule: a name is at most 64 characters`],
    ],
  );
  assert.deepEqual(r.services, []);
});

test('an instance id written as a service of its own: both reported, neither loaded; other services load', T, (t) => {
  const r = load(t, '{\n"web": { "ExecStart": "x", "Instances": 3 },\n"web@2": { "ExecStart": "y" },\n"web@4": { "ExecStart": "z" } }');
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.key, i.message]),
    [
      [2, 'web', 'service "web@2" (an instance of "web", which has Instances 3) is defined again at line 3'],
      [3, 'web@2', 'service "web@2" is already defined at line 2 (an instance of "web", which has Instances 3)'],
    ],
  );
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['web@4'],
  );
});

test('a service with Instances provides its name and id: Prerequisites and Conflicts reach every instance', T, (t) => {
  const r = load(
    t,
    JSON.stringify({
      'acme::web': { ExecStart: 'x', Instances: 2 },
      front: { ExecStart: 'x', Prerequisites: ['web'] },
      batch: { ExecStart: 'x', Conflicts: ['acme:web'] },
    }),
  );
  assert.deepEqual(r.issues, []);
  assert.deepEqual(
    providersOf('web', r.services).map((s) => s.id),
    ['acme::web@1', 'acme::web@2'],
  );
  assert.deepEqual(
    providersOf('acme:web', r.services).map((s) => s.id),
    ['acme::web@1', 'acme::web@2'],
  );
  assert.deepEqual(
    providersOf('web@2', r.services).map((s) => s.id),
    ['acme::web@2'],
  );
});
