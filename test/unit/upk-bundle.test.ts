// upk runs from its one-file build (dist/upk-bundle/main.cjs, npm run build) while that is fresh: a
// real `upk`, with Node's own module tracing to tell which files it loaded, and the same answers from
// the compiled modules (what runs after a `tsc` alone).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freshBundle } from '../../schema/fresh-bundle.js';

const run = promisify(execFile);
const UPK = fileURLToPath(new URL('../../clients/upk/main.js', import.meta.url));
const CLI = fileURLToPath(new URL('../../clients/upk/cli.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../upk-bundle/main.cjs', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('the upk bundle', { timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'upk-bundle-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'upkeeper.conf');
  writeFileSync(conf, JSON.stringify({ StateDir: join(dir, 'state'), SvcConfigPath: join(dir, 'services'), SvcRunPath: join(dir, 'run') }));
  // The compiled command line, run as the entry runs it when the bundle is stale.
  const compiledEntry = join(dir, 'compiled.mjs');
  writeFileSync(compiledEntry, `await (await import(${JSON.stringify(CLI)})).main();\n`);
  const env = { PATH: process.env.PATH, UPKEEPER_CONFIG: conf };
  const upk = (entry: string, args: string[], extra: Record<string, string> = {}) =>
    run(process.execPath, [entry, ...args], { env: { ...env, ...extra }, timeout: 10_000 });

  it('is built by npm run build, and holds the command line and libclient only: no SQLite, no blessed, no PostgreSQL driver, no controller or buddy code', () => {
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: npm run build makes it`);
    const files = (JSON.parse(readFileSync(join(BUNDLE, '../contents.json'), 'utf8')) as Record<string, string[]>)['main.cjs']!;
    assert.ok(files.some((f) => f.endsWith('dist/clients/upk/cli.js')));
    for (const name of ['better-sqlite3', 'blessed', 'uuid'])
      assert.ok(!files.some((f) => f.includes(`node_modules/${name}/`)), `it holds ${name}`);
    for (const part of ['/controller/', '/buddy/']) assert.ok(!files.some((f) => f.includes(`dist${part}`)), `it holds ${part}`);
    // Every package is inside: the bundle requires only Node's built-ins, and the PostgreSQL driver,
    // which only --fleet loads (at first use), from node_modules.
    const text = readFileSync(BUNDLE, 'utf8');
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!);
    const apart = ['pg', 'pg-connection-string'];
    assert.ok(
      required.length > 0 && required.every((m) => m.startsWith('node:') || apart.includes(m)),
      `requires only builtins and the fleet's driver: ${required.join(', ')}`,
    );
    assert.ok(!files.some((f) => f.includes('node_modules/pg')), 'the PostgreSQL driver is not inside');
    assert.doesNotMatch(text, /\bimport\(/, 'no dynamic import (it would compile the ES module loader)');
  });

  it('is what `upk` runs, and answers as the compiled modules do (the version, the paths of the install folder, usage errors)', async (t) => {
    if (freshBundle(BUNDLE, CLI) !== BUNDLE)
      return t.skip('the bundle is older than the compiled modules (a tsc since the build): upk runs those');
    const traced = await upk(UPK, ['--version'], { NODE_DEBUG: 'module,esm' });
    assert.equal(traced.stdout.trim(), VERSION);
    assert.match(traced.stderr, /dist\/upk-bundle\/main\.cjs/);
    assert.doesNotMatch(traced.stderr, /dist\/clients\/upk\/(cli|commands\/)/, 'no compiled module of the command line is loaded');
    // The unit names the controller program, found relative to libclient's module, and it exists.
    const unit = await upk(UPK, ['startup', '--print']);
    const program = /^ExecStart=\S+ (\S+) /m.exec(unit.stdout)?.[1];
    assert.ok(program && existsSync(program) && program.endsWith('/dist/controller/main.js'), unit.stdout);
    for (const args of [['--version'], ['--help'], ['startup', '--print'], ['completion', 'bash']]) {
      const [bundled, compiled] = await Promise.all([upk(UPK, args), upk(compiledEntry, args)]);
      assert.equal(bundled.stdout, compiled.stdout, `upk ${args.join(' ')}`);
    }
    // A usage error: the same message and exit code (2) from both.
    const failed = async (entry: string) =>
      upk(entry, ['no-such-command']).then(
        () => assert.fail('it succeeded'),
        (err: { code: number; stderr: string }) => err,
      );
    const [bundled, compiled] = await Promise.all([failed(UPK), failed(compiledEntry)]);
    assert.equal(bundled.code, 2);
    assert.deepEqual([bundled.code, bundled.stderr], [compiled.code, compiled.stderr]);
  });
});
