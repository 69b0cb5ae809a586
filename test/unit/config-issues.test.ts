// Tests of issue printing, edit distance and nearest-key suggestions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue } from '../../schema/config/index.js';
import { describeValue, editDistance, nearestName, sortIssues, unknownKeyMessage } from '../../schema/config/issues.js';
import { SERVICE_KEYS } from '../../schema/config/keys.js';

const T = { timeout: 10_000 };
const names = SERVICE_KEYS.map((k) => k.name);

test('formatIssue: file:line: key: message, leaving out line 0 and an empty key', T, () => {
  assert.equal(formatIssue({ file: '/a.conf', line: 3, column: 7, key: 'web.KillTimeout', message: 'm' }), '/a.conf:3: web.KillTimeout: m');
  assert.equal(formatIssue({ file: '/a.conf', line: 0, column: 0, key: '', message: 'm' }), '/a.conf: m');
  assert.equal(formatIssue({ file: '/a.conf', line: 2, column: 1, key: '', message: 'm' }), '/a.conf:2: m');
  assert.equal(formatIssue({ file: '/a.conf', line: 0, column: 0, key: 'k', message: 'm' }), '/a.conf: k: m');
});

test('formatIssue shows control characters of a key escaped, never raw', T, () => {
  const line = formatIssue({ file: '/x.conf', line: 3, column: 1, key: 'e.Environment.Y\u0000Z\u001b', message: 'bad' });
  assert.equal(line, '/x.conf:3: e.Environment.Y\\u0000Z\\u001b: bad');
});

test('editDistance is case-insensitive and counts a swap of neighbours as one edit', T, () => {
  assert.equal(editDistance('KilTimeout', 'KillTimeout'), 1);
  assert.equal(editDistance('killtimeout', 'KillTimeout'), 0);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('UUDI', 'UUID'), 1);
});

test('nearestName suggests only reasonably close names', T, () => {
  assert.equal(nearestName('KilTimeout', names), 'KillTimeout');
  assert.equal(nearestName('ExecStrat', names), 'ExecStart');
  assert.equal(nearestName('Prerequisite', names), 'Prerequisites');
  assert.equal(nearestName('envirnoment', names), 'Environment');
  assert.equal(nearestName('UUDI', names), 'UUID');
  assert.equal(nearestName('Restart', names), null);
  assert.equal(nearestName('x', names), null);
  assert.equal(nearestName('Colour', names), null);
  assert.equal(unknownKeyMessage('KilTimeout', names), 'unknown key "KilTimeout" (did you mean "KillTimeout"?)');
  assert.equal(unknownKeyMessage('Foo', names), 'unknown key "Foo"');
});

test('describeValue quotes what was found', T, () => {
  assert.equal(describeValue('ten'), '"ten"');
  assert.equal(describeValue(1.5), '1.5');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue(false), 'false');
  assert.equal(describeValue([]), 'a list');
  assert.equal(describeValue({}), 'an object');
  assert.equal(describeValue('x'.repeat(100)), `"${'x'.repeat(57)}…"`);
});

test('sortIssues: by file order, then line, then column, stable', T, () => {
  const i = (file: string, line: number, column: number, message: string) => ({ file, line, column, key: '', message });
  const sorted = sortIssues([i('b', 1, 1, '1'), i('a', 2, 1, '2'), i('a', 1, 5, '3'), i('a', 1, 5, '4'), i('z', 0, 0, '5')], ['a', 'b']);
  assert.deepEqual(
    sorted.map((x) => x.message),
    ['3', '4', '2', '1', '5'],
  );
});
