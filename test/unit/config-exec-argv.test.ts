// ExecStart as a list: each word quoted for /bin/sh, so that the program gets its arguments exactly as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { loadServiceText } from '../helpers/load-services.js';
import { NASTY } from '../helpers/nasty-args.js';
import { directCommand, directStopSignal, shellCommand, shellQuote } from '../../schema/config/scripts.js';

const T = { timeout: 10_000 };

test("shellQuote: single quotes, each quote as '\\''", T, () => {
  assert.equal(shellQuote('plain'), "'plain'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote(''), "''");
  assert.equal(shellCommand(['node', 'a b']), "'node' 'a b'");
});

test('/bin/sh runs a quoted command with every argument unchanged', T, () => {
  const script = `exec ${shellCommand([process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...NASTY])}`;
  const out = execFileSync('/bin/sh', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nowhere' },
  });
  assert.deepEqual(JSON.parse(out), NASTY);
});

const load = loadServiceText;

test('ExecStart as a list: the start script execs the quoted words; a string stays a shell line', T, (t) => {
  const r = load(
    t,
    JSON.stringify({ argv: { ExecStart: ['node', 'server.js', "it's $HOME"] }, line: { ExecStart: 'node server.js $PORT' } }),
  );
  assert.deepEqual(r.issues, []);
  const [argv, line] = r.services;
  assert.equal(argv?.execStart, "'node' 'server.js' 'it'\\''s $HOME'");
  assert.equal(argv?.startScript, "#!/bin/sh\nexec 'node' 'server.js' 'it'\\''s $HOME'\n");
  assert.equal(line?.startScript, '#!/bin/sh\nexec node server.js $PORT\n');
});

test('ExecStart as a list: the whole list passes through a StartScript of its own', T, (t) => {
  const r = load(
    t,
    JSON.stringify({
      a: {
        ExecStart: [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...NASTY],
        StartScript: 'cd / && exec %(EXEC_START)',
      },
    }),
  );
  assert.deepEqual(r.issues, []);
  const out = execFileSync('/bin/sh', ['-c', r.services[0]!.startScript], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), NASTY);
});

test('ExecStart as a list: an empty list, a word that is no string, an empty program, a NUL', T, (t) => {
  const r = load(
    t,
    '{\n"a": { "ExecStart": [] },\n"b": { "ExecStart": ["x", 5, null] },\n"c": { "ExecStart": ["", "y"] },\n"d": { "ExecStart": ["x", "a\\u0000b"] } }',
  );
  const expected =
    'expected a non-empty string (a shell command line), a list of strings (the program and its arguments) or null, got a list';
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.key, i.message]),
    [
      [2, 'a.ExecStart', expected],
      [3, 'b.ExecStart[1]', 'expected a string (a program or argument), got 5'],
      [3, 'b.ExecStart[2]', 'expected a string (a program or argument), got null'],
      [4, 'c.ExecStart[0]', 'the program (the first word) cannot be empty'],
      [5, 'd.ExecStart[1]', 'an argument cannot hold a NUL character'],
    ],
  );
  assert.deepEqual(r.services, []);
});

test(
  'directCommand: the default start script over literal words is exec’d directly, with what /bin/sh would give it; anything the shell reads is left to it',
  T,
  () => {
    const def = (exec: string): string => `#!/bin/sh\nexec ${exec}\n`;
    const direct = (exec: string): string[] | null => directCommand(def(exec), exec);
    // A list ExecStart, whatever its words hold: the same words the shell would pass.
    const list = shellCommand(['node', 'a b', "it's $HOME", '', '*']);
    assert.deepEqual(direct(list), ['node', 'a b', "it's $HOME", '', '*']);
    assert.deepEqual(direct('/usr/bin/web --port=8080 -v a,b:c@d%e+f'), ['/usr/bin/web', '--port=8080', '-v', 'a,b:c@d%e+f']);
    assert.deepEqual(direct("web  'two words'x"), ['web', 'two wordsx']);
    for (const shell of [
      'web $PORT',
      'web *.conf',
      'web > log',
      'a; b',
      'a | b',
      'web ~/x',
      'PORT=80 web',
      'web "x"',
      'web\tx',
      'web # c',
      'web \\x',
      "web 'open",
    ]) {
      assert.equal(direct(shell), null, shell);
    }
    // Another start script, or none to exec: the script runs.
    assert.equal(directCommand('#!/bin/sh\necho hi\nexec web\n', 'web'), null);
    assert.equal(directCommand(def('web'), null), null);
    assert.equal(direct("''"), null, 'an empty program name');
    for (const option of ['-- web', '-c web', "'-a' name web"])
      assert.equal(direct(option), null, `${option}: bash's exec reads an option`);
    // What the shell would give, checked against /bin/sh itself.
    for (const exec of [list, "web  'two words'x", '/usr/bin/web --port=8080 a,b:c@d%e+f']) {
      const out = execFileSync('/bin/sh', ['-c', `set -- ${exec}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
      assert.deepEqual(out.split('\0').slice(0, -1), direct(exec), exec);
    }
  },
);

test(
  'directStopSignal: the default StopScript with ExecStop kill is a SIGTERM the buddy sends itself; any other stop runs its script',
  T,
  (t) => {
    const r = load(
      t,
      JSON.stringify({
        plain: { ExecStart: 'web' },
        int: { ExecStart: 'web', ExecStop: 'kill -INT' },
        own: { ExecStart: 'web', StopScript: '#!/bin/sh\nlogger stopping\nexec kill $1\n' },
      }),
    );
    assert.deepEqual(r.issues, []);
    const [plain, int, own] = r.services;
    assert.equal(directStopSignal(plain!.stopScript, plain!.execStop), 'SIGTERM');
    assert.equal(directStopSignal(int!.stopScript, int!.execStop), null);
    assert.equal(directStopSignal(own!.stopScript, own!.execStop), null);
  },
);
