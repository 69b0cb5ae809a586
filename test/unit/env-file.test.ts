// Environment files (EnvironmentFile): systemd's KEY=VALUE format, problems named by line, values never in messages.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseEnvFile, readEnvFiles, splitOptional } from '../../schema/env-file.js';

const T = { timeout: 5000 };
const dir = mkdtempSync(join(tmpdir(), 'upk-envfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const vars = (text: string): Record<string, string> => {
  const parsed = parseEnvFile(text);
  assert.deepEqual(parsed.problems, []);
  return Object.fromEntries(parsed.vars);
};

test('KEY=VALUE lines, comments, blank lines, blanks around = and export', T, () => {
  assert.deepEqual(vars('# a comment\n\n; another\n  A=1\nB = two words  \nexport C=3\n\t# indented comment\nD=\nE=a#b ; c\n'), {
    A: '1',
    B: 'two words',
    C: '3',
    D: '',
    E: 'a#b ; c',
  });
});

test('single quotes keep everything; double quotes know \\" \\\\ \\$ \\` and a backslash-newline, keep any other backslash', T, () => {
  assert.deepEqual(vars(`S='a "b" \\n $x'\n`), { S: 'a "b" \\n $x' });
  assert.deepEqual(vars('D="say \\"hi\\" \\\\ \\$HOME \\` \\n"\n'), { D: 'say "hi" \\ $HOME ` \\n' });
  assert.deepEqual(vars('M="line one\nline two"\nN=after\n'), { M: 'line one\nline two', N: 'after' });
  assert.deepEqual(vars('J="joined \\\nhere"\n'), { J: 'joined here' });
  assert.deepEqual(vars(`P="a"'b'c\nQ=  "x"  \n`), { P: 'abc', Q: 'x' });
  assert.deepEqual(vars('R="a#b"\n'), { R: 'a#b' });
});

test('unquoted values: a backslash keeps the next character, one at the end of a line continues; quotes inside stay', T, () => {
  assert.deepEqual(vars('A=one\\ two\\\\three\nB=first \\\nsecond\nC=it\'s "fine"\n'), {
    A: 'one two\\three',
    B: 'first second',
    C: `it's "fine"`,
  });
});

test('CRLF lines, a last line without a newline, a name set twice keeps the last value', T, () => {
  assert.deepEqual(vars('A=1\r\nB="2"\r\nA=3'), { B: '2', A: '3' });
});

test(
  'problems: a line without =, a bad name, text after a closing quote, a quote never closed; each with its line, no value quoted',
  T,
  () => {
    const parsed = parseEnvFile(
      'OK=1\nnot an assignment secret\n1BAD=x\nexport 1X=y\nQ="a" b-secret\nGOOD=2\nU=\'never closed secret\nmore\n',
    );
    assert.deepEqual(parsed.problems, [
      { line: 2, message: 'expected KEY=VALUE (or a # comment)' },
      { line: 3, message: 'invalid variable name: expected letters, digits and "_", not starting with a digit' },
      { line: 4, message: 'invalid variable name: expected letters, digits and "_", not starting with a digit' },
      { line: 5, message: 'text after the closing quote and a blank: quote the whole value' },
      { line: 7, message: 'the single quote opened on this line is never closed' },
    ]);
    assert.deepEqual(Object.fromEntries(parsed.vars), { OK: '1', GOOD: '2' });
    for (const p of parsed.problems) assert.ok(!p.message.includes('secret'), p.message);
  },
);

test('a line number counts the lines of a quoted value before it', T, () => {
  assert.deepEqual(parseEnvFile('A="1\n2\n3"\nbad\n').problems, [{ line: 4, message: 'expected KEY=VALUE (or a # comment)' }]);
});

test('readEnvFiles: in order, later files win; "-" files may be missing; errors name file and line', T, () => {
  const one = join(dir, 'one.env');
  const two = join(dir, 'two.env');
  const bad = join(dir, 'bad.env');
  writeFileSync(one, 'A=1\nB=1\n');
  writeFileSync(two, 'B=2\nC=2\n');
  writeFileSync(bad, 'A=1\n\nPASSWORD hunter2\n');
  assert.deepEqual(
    readEnvFiles([
      { path: one, optional: false },
      { path: two, optional: false },
    ]),
    { vars: { A: '1', B: '2', C: '2' } },
  );
  assert.deepEqual(
    readEnvFiles([
      { path: join(dir, 'missing.env'), optional: true },
      { path: one, optional: false },
    ]),
    { vars: { A: '1', B: '1' } },
  );
  assert.deepEqual(readEnvFiles([{ path: join(dir, 'missing.env'), optional: false }]), {
    error: `environment file ${join(dir, 'missing.env')}: cannot read the file: the file does not exist`,
  });
  const r = readEnvFiles([{ path: bad, optional: true }]);
  assert.deepEqual(r, { error: `environment file ${bad}:3: expected KEY=VALUE (or a # comment)` });
  assert.ok(!JSON.stringify(r).includes('hunter2'));
  // A directory is no file, optional or not.
  assert.match((readEnvFiles([{ path: dir, optional: true }]) as { error: string }).error, /it is a directory/);
});

test('splitOptional', T, () => {
  assert.deepEqual(splitOptional('-/etc/a.env'), { path: '/etc/a.env', optional: true });
  assert.deepEqual(splitOptional('/etc/a.env'), { path: '/etc/a.env', optional: false });
});

test('a NUL byte in a value (plain or quoted) is a problem on its line, never quoted; the other lines are kept', T, () => {
  const parsed = parseEnvFile('A=1\nS=s3cr3t\u0000x\nQ="q\u0000"\nB=2\n');
  assert.deepEqual(
    parsed.problems.map((p) => p.line),
    [2, 3],
  );
  assert.match(parsed.problems[0]!.message, /NUL byte/);
  assert.doesNotMatch(JSON.stringify(parsed.problems), /s3cr3t/);
  assert.deepEqual(Object.fromEntries(parsed.vars), { A: '1', B: '2' });
});

test('a value that is not valid UTF-8 is a problem on its line (read as UTF-8, it would reach the service changed)', T, () => {
  const raw = Buffer.from('A=1\nPW=S3KRIT\xff\xfe\n', 'latin1');
  const file = join(dir, 'bad-utf8.env');
  writeFileSync(file, raw);
  assert.match(JSON.stringify(readEnvFiles([{ path: file, optional: false }])), /bad-utf8\.env:2: the value is not valid UTF-8/);
  // A real U+FFFD in valid UTF-8 is a character like any other.
  assert.deepEqual(parseEnvFile('R=\ufffd\n').problems, []);
  const parsed = parseEnvFile(raw.toString('utf8'), false);
  assert.deepEqual(
    parsed.problems.map((p) => p.line),
    [2],
  );
  assert.match(parsed.problems[0]!.message, /not valid UTF-8/);
  assert.doesNotMatch(JSON.stringify(parsed.problems), /S3KRIT/);
});
