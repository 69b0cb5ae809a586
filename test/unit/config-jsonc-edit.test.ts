// The in-place edit of a service file (upk scale): one number replaced or one key inserted, nothing else touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { offsetOf, setServiceNumber } from '../../schema/config/jsonc-edit.js';
import { parseJsonc } from '../../schema/config/jsonc.js';
import { addedFileText, isAddedFile } from '../../schema/config/added-file.js';

const T = { timeout: 10_000 };

function edit(text: string, id: string, value: number): string {
  const r = setServiceNumber(text, id, 'Instances', value);
  assert.ok('text' in r, 'message' in r ? r.message : '');
  return r.text;
}

test('offsetOf agrees with the parser positions', T, () => {
  const text = '\uFEFF{ "a": {\r\n  /* x\n y */ "b": 12 } }';
  const { node } = parseJsonc(text, 'f');
  const b = node?.kind === 'object' && node.entries[0]!.value.kind === 'object' ? node.entries[0]!.value.entries[0]! : undefined;
  assert.ok(b);
  assert.equal(text.slice(offsetOf(text, b.keyPos), offsetOf(text, b.keyPos) + 3), '"b"');
  assert.equal(text.slice(offsetOf(text, b.value.pos), offsetOf(text, b.value.pos) + 2), '12');
});

test('an existing number: only its text changes, comments and layout stay', T, () => {
  const text = `// my services
{
  // the web servers
  "web": {
    "ExecStart": "node server.js", // the app
    "instances": 3e0, /* case does not matter */
    "KillTimeout": 3,
  },
  "db": { "Instances": 3 },
}
`;
  const out = edit(text, 'web', 5);
  assert.equal(out, text.replace('"instances": 3e0,', '"instances": 5,'));
  assert.equal(edit(out, 'web', 12), text.replace('"instances": 3e0,', '"instances": 12,'));
});

test('a missing key: inserted first, on a line of its own, indented like the first key', T, () => {
  const text = `{
  "web": { // the web servers
      // how it runs
      "ExecStart": "node server.js",
  },
}
`;
  assert.equal(
    edit(text, 'web', 2),
    `{
  "web": { // the web servers
      "Instances": 2,
      // how it runs
      "ExecStart": "node server.js",
  },
}
`,
  );
});

test('a missing key in an object on one line, in an empty object, with CRLF line ends', T, () => {
  assert.equal(edit('{ "web": { "ExecStart": "x" } }', 'web', 4), '{ "web": { "Instances": 4, "ExecStart": "x" } }');
  assert.equal(edit('{"web": {}}', 'web', 1), '{"web": { "Instances": 1,}}');
  assert.equal(
    edit('{\r\n  "web": {\r\n    "ExecStart": "x"\r\n  }\r\n}\r\n', 'web', 3),
    '{\r\n  "web": {\r\n    "Instances": 3,\r\n    "ExecStart": "x"\r\n  }\r\n}\r\n',
  );
  assert.equal(edit('{\n"web": {\n"ExecStart": "x" } }', 'web', 3), '{\n"web": {\n"Instances": 3,\n"ExecStart": "x" } }');
  // A block comment that goes on after the brace: the key goes right after the brace.
  assert.equal(
    edit('{ "web": { /* a\n b */ "ExecStart": "x" } }', 'web', 3),
    '{ "web": { "Instances": 3, /* a\n b */ "ExecStart": "x" } }',
  );
});

test('refused: a file that does not parse, no such service, not an object, a key twice, a value that is no number', T, () => {
  const message = (text: string, id = 'web') => {
    const r = setServiceNumber(text, id, 'Instances', 2);
    return 'message' in r ? r.message : r.text;
  };
  assert.match(message('{ "web": '), /^the file does not parse \(line 1: /);
  assert.equal(message('{ "db": {} }'), 'it defines no service "web"');
  assert.equal(message('{ "Web": {} }'), 'it defines no service "web"');
  assert.equal(message('{ "web": 5 }'), '"web" is not an object of service keys (line 1)');
  assert.equal(message('{ "web": { "Instances": 1, "INSTANCES": 2 } }'), 'Instances is written 2 times in "web"');
  assert.equal(message('{ "web": {\n "Instances": "3" } }'), 'Instances at line 2 is not a number');
});

test('the file upk add writes: its marker, its keys, and it loads', T, () => {
  const text = addedFileText(
    'web',
    { ExecStart: ['node', 'a b', 'l1\nl2'], Environment: { A: '1' }, InitialState: 'running' },
    new Date('2026-01-02T03:04:05Z'),
  );
  assert.ok(isAddedFile(text));
  assert.ok(!isAddedFile(`{\n${text}`));
  assert.match(text, /^\/\/ Written by upk add on 2026-01-02T03:04:05.000Z;/);
  const { value, issues } = parseJsonc(text, 'f');
  assert.deepEqual(issues, []);
  assert.deepEqual(value, { web: { ExecStart: ['node', 'a b', 'l1\nl2'], Environment: { A: '1' }, InitialState: 'running' } });
  assert.deepEqual(parseJsonc(edit(text, 'web', 3), 'f').value, {
    web: { Instances: 3, ExecStart: ['node', 'a b', 'l1\nl2'], Environment: { A: '1' }, InitialState: 'running' },
  });
});
