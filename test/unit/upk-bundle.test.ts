// upk runs from its one-file build (dist/upk-bundle/main.cjs, npm run build) while that is fresh: a
// real `upk`, with Node's own module tracing to tell which files it loaded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UPK = fileURLToPath(new URL('../../clients/upk/main.js', import.meta.url));
const DIR = fileURLToPath(new URL('../../upk-bundle/', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The bundle's contents.json, or null when only tsc built (no bundle: upk runs the compiled modules). */
function contents(): Record<string, string[]> | null {
  try {
    return JSON.parse(readFileSync(`${DIR}contents.json`, 'utf8')) as Record<string, string[]>;
  } catch {
    return null;
  }
}

describe('the upk bundle', { timeout: 20_000 }, () => {
  it('holds the command line and libclient only: no SQLite, no blessed, no controller or buddy code', (t) => {
    const files = contents()?.['main.cjs'];
    if (!files) return t.skip('built by tsc alone');
    assert.ok(files.some((f) => f.endsWith('dist/clients/upk/cli.js')));
    for (const name of ['better-sqlite3', 'blessed', 'uuid'])
      assert.ok(!files.some((f) => f.includes(`node_modules/${name}/`)), `it holds ${name}`);
    for (const part of ['/controller/', '/buddy/']) assert.ok(!files.some((f) => f.includes(`dist${part}`)), `it holds ${part}`);
    // Every package is inside: the bundle requires only Node's built-ins.
    const text = readFileSync(`${DIR}main.cjs`, 'utf8');
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!);
    assert.ok(required.length > 0 && required.every((m) => m.startsWith('node:')), `requires only builtins: ${required.join(', ')}`);
    assert.doesNotMatch(text, /\bimport\(/, 'no dynamic import (it would compile the ES module loader)');
  });

  it('is what `upk` runs, and finds the install folder from there (its version, the controller program)', async (t) => {
    if (!contents()) return t.skip('built by tsc alone');
    const { stdout, stderr } = await run(process.execPath, [UPK, '--version'], {
      env: { PATH: process.env.PATH, NODE_DEBUG: 'module,esm' },
      timeout: 10_000,
    });
    assert.equal(stdout.trim(), VERSION);
    assert.match(stderr, /Module\._load REQUEST \S+\/dist\/upk-bundle\/main\.cjs/);
    assert.doesNotMatch(stderr, /dist\/clients\/upk\/(cli|commands\/)/, 'no compiled module of the command line is loaded');
    // The controller program is found relative to the running file: dist/upk-bundle/../controller/main.js.
    assert.match(readFileSync(`${DIR}main.cjs`, 'utf8'), /"\.\.\/controller\/main\.js"/);
  });
});
