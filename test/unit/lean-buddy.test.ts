// The buddy runs once per service: it must load only what it needs (no SQLite, msgpackr, commander, blessed).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { shippedBuddy } from '../../controller/buddy-launcher.js';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BUDDY_MAIN = fileURLToPath(new URL('../../buddy/main.js', import.meta.url));
const FORBIDDEN = ['better-sqlite3', 'msgpackr', 'commander', 'blessed', 'uuid', 'pg', 'pg-connection-string'];

/**
 * Every module the compiled buddy imports, transitively: local files and bare package names. With
 * `dynamic` false only static imports are followed (what every buddy loads at its start).
 */
function importGraph(entry: string, dynamic = true): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
      if (m[1] === undefined && !dynamic) continue;
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      // A package by its name: msgpackr/pack is msgpackr, @scope/name/x is @scope/name.
      else if (!spec.startsWith('node:'))
        packages.add(
          spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  };
  visit(entry);
  return { files, packages };
}

describe('lean buddy', { timeout: 5000 }, () => {
  it('loads no package at its start, only node: built-ins and its own modules', () => {
    const { packages } = importGraph(BUDDY_MAIN, false);
    assert.deepEqual([...packages], [], `the buddy imports ${[...packages].join(', ')}`);
  });

  it('loads croner only through a dynamic import, for a service with a Schedule or CronRestart, and no other package', () => {
    const { packages, files } = importGraph(BUDDY_MAIN);
    assert.deepEqual([...packages], ['croner'], `the buddy imports ${[...packages].join(', ')}`);
    for (const f of files) {
      for (const name of FORBIDDEN) assert.ok(!f.includes(`node_modules/${name}`), f);
      assert.ok(!f.includes('/controller/') && !f.includes('/libclient/') && !f.includes('/clients/'), `${f} is not buddy code`);
    }
  });

  it('the bundle the controller starts (npm run build) holds no forbidden package, croner only in a file of its own, and only ASCII', () => {
    const dir = fileURLToPath(new URL('../../buddy-bundle/', import.meta.url));
    let contents: Record<string, string[]>;
    try {
      contents = JSON.parse(readFileSync(`${dir}contents.json`, 'utf8')) as Record<string, string[]>;
    } catch {
      return; // (built by tsc alone: the controller starts dist/buddy/main.js, checked above)
    }
    const main = contents['main.cjs']!;
    for (const name of [...FORBIDDEN, 'croner'])
      assert.ok(!main.some((f) => f.includes(`node_modules/${name}/`)), `the bundle holds ${name}`);
    assert.ok(
      contents['schedule.cjs']!.some((f) => f.includes('node_modules/croner/')),
      'croner is in schedule.cjs',
    );
    const text = readFileSync(`${dir}main.cjs`, 'utf8');
    // Loading node:crypto costs a buddy ~11 ms of CPU at every start (system/random-uuid.ts).
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => m !== './schedule.cjs');
    assert.ok(required.length > 0 && required.every((m) => m!.startsWith('node:')), `requires only builtins: ${required.join(', ')}`);
    assert.ok(!required.includes('node:crypto'), 'node:crypto is not loaded');
    // Its name is the same in every build: a buddy started before an upgrade loads the new one at first need.
    assert.match(text, /require\("\.\/schedule\.cjs"\)/, 'loaded at first need, by a name without a hash');
    // A dynamic import() would compile Node's ES module loader in the buddy (~15 ms of CPU).
    assert.doesNotMatch(text, /\bimport\(/, 'no dynamic import');
    // A buddy of an earlier build (an ES module bundle) imports ./schedule.js.
    assert.match(readFileSync(`${dir}schedule.js`, 'utf8'), /from '\.\/schedule\.cjs'/);
    // One character outside ASCII and V8 keeps the whole source (~150 kB, for lazy compiling) in two bytes a character.
    for (const f of ['main.cjs', 'schedule.cjs'])
      assert.doesNotMatch(readFileSync(`${dir}${f}`, 'latin1'), /[^\x00-\x7f]/, `${f} is ASCII only`);
  });

  it('the controller starts the bundle only while none of its inputs is newer (a tsc alone, or tsc --watch, leaves an older one)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'upk-bundle-'));
    try {
      mkdirSync(join(dir, 'bundle'));
      mkdirSync(join(dir, 'buddy'));
      const bundle = join(dir, 'bundle', 'main.js');
      const compiled = join(dir, 'buddy', 'main.js');
      const input = join(dir, 'buddy', 'supervisor.js');
      assert.equal(shippedBuddy(bundle, compiled), compiled, 'no bundle, no compiled buddy either');
      for (const f of [compiled, input, bundle]) writeFileSync(f, '');
      utimesSync(compiled, 1000, 1000);
      utimesSync(input, 1000, 1000);
      utimesSync(bundle, 2000, 2000);
      assert.equal(shippedBuddy(bundle, compiled), compiled, 'no inputs.json: a bundle whose build did not finish');
      writeFileSync(join(dir, 'bundle', 'inputs.json'), JSON.stringify(['../buddy/main.js', '../buddy/supervisor.js']));
      assert.equal(shippedBuddy(bundle, compiled), bundle);
      utimesSync(input, 3000, 3000);
      assert.equal(shippedBuddy(bundle, compiled), compiled, 'one input recompiled since (tsc --watch): the bundle is stale');
      utimesSync(input, 1000, 1000);
      utimesSync(compiled, 3000, 3000);
      assert.equal(shippedBuddy(bundle, compiled), compiled, 'recompiled since: the bundle is stale');
      utimesSync(compiled, 2000, 2000);
      utimesSync(input, 2000, 2000);
      assert.equal(shippedBuddy(bundle, compiled), bundle, 'the same time, as npm gives every file of a package');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the graph walker sees packages (it can fail)', () => {
    const client = fileURLToPath(new URL('../../libclient/index.js', import.meta.url));
    assert.ok(importGraph(client).packages.has('msgpackr'));
  });
});

describe('upk reaches the controller only through libclient', { timeout: 5000 }, () => {
  it('no file of clients/ imports anything of the project but clients/ and libclient/', () => {
    const dir = fileURLToPath(new URL('../../clients/', import.meta.url));
    const files = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.js'));
    assert.ok(files.length > 5);
    for (const f of files) {
      const file = resolve(dir, f);
      for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
        const target = resolve(dirname(file), m[1]!);
        assert.ok(target.includes('/dist/clients/') || target.includes('/dist/libclient/'), `${f} imports ${m[1]}`);
      }
    }
  });
});
