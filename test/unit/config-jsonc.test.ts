// Tests of the JSON-with-comments parser: syntax, literals, positions, every syntax error, duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonc, parseTree } from '../../schema/config/jsonc.js';
import type { JsonNode } from '../../schema/config/json-node.js';

const T = { timeout: 10_000 };

/** The single issue of a text that must not parse: [line, column, message]. */
function error(text: string): [number, number, string] {
  const { value, issues } = parseJsonc(text, 'f.conf');
  assert.equal(value, undefined);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  const [issue] = issues;
  assert.ok(issue);
  assert.equal(issue.file, 'f.conf');
  assert.equal(issue.key, '');
  return [issue.line, issue.column, issue.message];
}

test('plain JSON parses to the same value as JSON.parse', T, () => {
  const text = '{"a": [1, -2.5, 3e2, "x\\n\\u00e9\\"\\\\\\/"], "b": {"c": null, "d": true, "e": false}, "f": ""}';
  const { value, issues } = parseJsonc(text, 'f');
  assert.deepEqual(issues, []);
  assert.deepEqual(value, JSON.parse(text));
});

test('line and block comments, anywhere whitespace may go', T, () => {
  const text = `// leading
{ /* before key */ "a" /* after key */ : /* before value */ 1 // after value
  , "b": [ /* empty */ ], /* multi
  line */ "c": "// not a comment /* nor this */"
}
// trailing`;
  const { value, issues } = parseJsonc(text, 'f');
  assert.deepEqual(issues, []);
  assert.deepEqual(value, { a: 1, b: [], c: '// not a comment /* nor this */' });
});

test('trailing commas in objects and arrays', T, () => {
  assert.deepEqual(parseJsonc('{"a": [1, 2,], "b": {"c": 1,},}', 'f').value, { a: [1, 2], b: { c: 1 } });
});

test('null, true and false in any letter case', T, () => {
  const { value, issues } = parseJsonc('[Null, NULL, null, True, TRUE, False, fAlSe]', 'f');
  assert.deepEqual(issues, []);
  assert.deepEqual(value, [null, null, null, true, true, false, false]);
});

test('a byte order mark and CRLF line ends are accepted', T, () => {
  const { value, node } = parseJsonc('\ufeff{\r\n"a":\r\n 1\r\n}\r\n', 'f');
  assert.deepEqual(value, { a: 1 });
  assert.ok(node?.kind === 'object');
  assert.deepEqual(node.entries[0]?.keyPos, { line: 2, column: 1 });
  assert.deepEqual(node.entries[0]?.value.pos, { line: 3, column: 2 });
});

test('every key and value keeps its 1-based line and column', T, () => {
  const text = '{\n  "a": 1,\n  /* x */ "b": [true,\n    "s"]\n}';
  const { node } = parseTree(text, 'f');
  assert.ok(node?.kind === 'object');
  assert.deepEqual(node.pos, { line: 1, column: 1 });
  const [a, b] = node.entries;
  assert.deepEqual(a?.keyPos, { line: 2, column: 3 });
  assert.deepEqual(a?.value.pos, { line: 2, column: 8 });
  assert.deepEqual(b?.keyPos, { line: 3, column: 11 });
  const list = b?.value as Extract<JsonNode, { kind: 'array' }>;
  assert.deepEqual(list.pos, { line: 3, column: 16 });
  assert.deepEqual(list.items[1]?.pos, { line: 4, column: 5 });
});

test('syntax errors: exact line, column and message', T, () => {
  assert.deepEqual(error('{\n  "a": "abc\n}'), [2, 8, 'unterminated string (a string cannot span lines; write \\n)']);
  assert.deepEqual(error('{"a": "abc'), [1, 7, 'unterminated string']);
  assert.deepEqual(error('{"a": 1 "b": 2}'), [1, 9, 'expected "," or "}" after a value, got the string "b"']);
  assert.deepEqual(error('{"a": 1'), [1, 8, 'expected "," or "}" after a value, found the end of the file']);
  assert.deepEqual(error('[1 2]'), [1, 4, 'expected "," or "]" after a value, got the number 2']);
  assert.deepEqual(error('{"a" 1}'), [1, 6, 'expected ":" after the key "a", got the number 1']);
  assert.deepEqual(error('{a: 1}'), [1, 2, 'expected a key in double quotes, got a']);
  assert.deepEqual(error('{"a": 1,, }'), [1, 9, 'expected a key in double quotes or "}" after ",", got ","']);
  assert.deepEqual(error('{"a": }'), [1, 7, 'expected a value, got "}"']);
  assert.deepEqual(error('{"a": [1,,2]}'), [1, 10, 'expected a value, got ","']);
  assert.deepEqual(error("{'a': 1}"), [1, 2, 'strings must be in double quotes, not single quotes']);
  assert.deepEqual(error('{"a": yes}'), [1, 7, 'unexpected word yes: strings must be in double quotes']);
  assert.deepEqual(error('{"a": 01}'), [1, 7, 'invalid number "01"']);
  assert.deepEqual(error('{"a": 10s}'), [1, 7, 'invalid number "10s"']);
  assert.deepEqual(error('{"a": 1.}'), [1, 7, 'invalid number "1."']);
  assert.deepEqual(error('{"a": -}'), [1, 7, 'invalid number "-"']);
  assert.deepEqual(error('{"a": 1e999}'), [1, 7, 'number 1e999 is too large']);
  assert.deepEqual(error('{"a": "x\\q"}'), [1, 9, 'invalid escape "\\q" in string']);
  assert.deepEqual(error('{"a": "\\u12"}'), [1, 8, 'invalid escape "\\u": expected 4 hex digits']);
  assert.deepEqual(error('{"a": "x\u0001"}'), [1, 9, 'control character U+0001 in string']);
  assert.deepEqual(error('{"a": 1} /* never\n closed'), [1, 10, 'unterminated comment (missing "*/")']);
  assert.deepEqual(error('{"a": 1} x'), [1, 10, 'expected the end of the file after the top-level value, got the word x']);
  assert.deepEqual(error('{"a": 1} {}'), [1, 10, 'expected the end of the file after the top-level value, got "{"']);
  assert.deepEqual(error('{"a": #}'), [1, 7, 'unexpected character "#"']);
  assert.deepEqual(error('  // nothing\n  '), [2, 3, 'the file is empty: expected a JSON object such as {}']);
  assert.deepEqual(error(''), [1, 1, 'the file is empty: expected a JSON object such as {}']);
});

test('a tab inside a string is accepted as written', T, () => {
  assert.deepEqual(parseJsonc('["a\tb"]', 'f').value, ['a\tb']);
});

test('deep nesting is an issue, not a crash', T, () => {
  const [line, , message] = error('['.repeat(5000));
  assert.equal(line, 1);
  assert.match(message, /nested more than 100 levels deep/);
});

test('duplicate keys, compared case-insensitively, are issues at the later key; the first is kept', T, () => {
  const text = '{\n "KillTimeout": 1,\n "x": {"a": 1, "A": 2},\n "killtimeout": 3\n}';
  const { value, issues } = parseJsonc(text, 'f.conf');
  assert.deepEqual(value, { KillTimeout: 1, x: { a: 1 } });
  assert.deepEqual(issues, [
    { file: 'f.conf', line: 3, column: 16, key: 'x.A', message: 'duplicate key "A" (already set as "a" at line 3)' },
    {
      file: 'f.conf',
      line: 4,
      column: 2,
      key: 'killtimeout',
      message: 'duplicate key "killtimeout" (already set as "KillTimeout" at line 2)',
    },
  ]);
});

test('__proto__ is an ordinary key', T, () => {
  const { value } = parseJsonc('{"__proto__": {"x": 1}}', 'f');
  assert.deepEqual(Object.keys(value as object), ['__proto__']);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
});

test('never throws, whatever the input', T, () => {
  const samples = ['{', '}', '[', ']', '"', '\\', '{"a":{"b":[', '/*', '/', '-', 'nul', '\u0000', '{"a":1,}x'];
  for (const text of samples) assert.doesNotThrow(() => parseJsonc(text, 'f'));
  let seed = 7;
  const alphabet = '{}[]:,"\\/ *\n-0123456789.eEtruefalsn#\'';
  for (let n = 0; n < 2000; n++) {
    let text = '';
    for (let i = 0; i < 30; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      text += alphabet[seed % alphabet.length];
    }
    const result = parseJsonc(text, 'f');
    assert.ok(result.issues.length > 0 || result.value !== undefined);
  }
});
