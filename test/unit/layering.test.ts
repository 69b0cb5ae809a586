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
  schema: { parts: [], packages: ['msgpackr'] },
  system: { parts: [], packages: [] },
  buddy: { parts: ['schema', 'system'], packages: [] },
  controller: { parts: ['schema', 'system'], packages: ['better-sqlite3', 'uuid', 'commander'] },
  libclient: { parts: ['schema'], packages: [] },
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

describe('layering', { timeout: 10_000 }, () => {
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
