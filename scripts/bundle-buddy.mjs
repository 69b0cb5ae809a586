// The buddy as one file (part of `npm run build`, after tsc): a buddy starts once per service, and
// Node's loader costs ~35 ms of CPU per start for the ~60 modules of dist/buddy/ (docs/architecture.md,
// "The buddy bundle"). What only some buddies load (the Schedule's croner) stays a chunk of its own.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/buddy-bundle`;
rmSync(outdir, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: [`${root}dist/buddy/main.js`],
  outdir,
  bundle: true,
  splitting: true,
  // A chunk's name never changes: a buddy that lives on through an upgrade loads the Schedule's chunk
  // of the new build at first need (a name with a hash would be gone).
  chunkNames: '[name]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: root,
});
// Written last: the compiled files the bundle was made of, relative to it. The controller starts the
// bundle only while none of them is newer (a `tsc --watch` rewrites only what changed), and never
// a bundle without this list (one whose build did not finish).
const inputs = Object.keys(metafile.inputs)
  .filter((f) => !f.split(/[\\/]/).includes('node_modules'))
  .map((f) => relative(outdir, resolve(root, f)));
writeFileSync(`${outdir}/inputs.json`, JSON.stringify(inputs) + '\n');
