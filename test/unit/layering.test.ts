// The layering docs/architecture.md states ("What may import what"), checked on every source file:
// each part imports only the parts it may (type-only imports included), and Node's built-ins and the
// packages named here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PARTS = ['schema', 'system', 'buddy', 'controller', 'libclient', 'clients'] as const;
type Part = (typeof PARTS)[number];

/** The parts each part may import (itself always), and the packages. */
const MAY: Record<Part, { parts: Part[]; packages: string[] }> = {
  schema: { parts: [], packages: ['msgpackr', 'croner'] },
  system: { parts: [], packages: [] },
  buddy: { parts: ['schema', 'system'], packages: ['croner'] },
  controller: { parts: ['schema', 'system'], packages: ['better-sqlite3', 'uuid', 'commander', 'pg', 'pg-connection-string'] },
  libclient: { parts: ['schema'], packages: ['pg', 'pg-connection-string'] },
  clients: { parts: ['libclient'], packages: ['commander', 'blessed'] },
};

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module specifier a file names: static imports and exports (type-only too), and dynamic imports. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(
    /^\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm,
  )) {
    found.push((m[1] ?? m[2] ?? m[3])!);
  }
  return found;
}

/** The modules a file imports (relative imports, type-only too), as paths from the root. */
function imported(file: string): string[] {
  return specifiers(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

/** The import cycles among `files` (each a strongly connected set of two or more modules, by Tarjan). */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, imported(f)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = stack.splice(stack.indexOf(v));
    if (component.length > 1) found.push(component.sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
}

describe('layering', { timeout: 10_000 }, () => {
  it('no module imports another that imports it back, even by types alone (each part has a direction)', () => {
    assert.deepEqual(cycles(PARTS.flatMap(sources)), []);
  });

  it('no part of the controller takes the Controller: only controller/main.ts imports controller.ts', () => {
    const users = sources('controller').filter((f) => imported(f).includes('controller/controller.ts'));
    assert.deepEqual(users, ['controller/main.ts']);
  });

  for (const part of PARTS) {
    it(`${part}/ imports only ${[part, ...MAY[part].parts].join(', ')}${MAY[part].packages.length ? ` and ${MAY[part].packages.join(', ')}` : ''}`, () => {
      const wrong: string[] = [];
      const files = sources(part);
      assert.ok(files.length > 0);
      for (const file of files) {
        for (const spec of specifiers(file)) {
          if (spec.startsWith('node:')) continue;
          if (spec.startsWith('.')) {
            const target = relative(ROOT, resolve(ROOT, dirname(file), spec)).split('/')[0] as Part;
            if (target !== part && !MAY[part].parts.includes(target)) wrong.push(`${file} imports ${spec}`);
          } else {
            const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!MAY[part].packages.includes(pkg)) wrong.push(`${file} imports the package ${spec}`);
          }
        }
      }
      assert.deepEqual(wrong, []);
    });
  }
});
