// The buddy as one file (part of `npm run build`, after tsc): a buddy starts once per service, and
// Node's loader costs ~35 ms of CPU per start for the ~60 modules of dist/buddy/ (docs/architecture.md,
// "The buddy bundle"). CommonJS, not ES modules: Node 20 compiles its ES module loader at every start
// of an ES module (~15 ms of CPU and 0.2 MB of heap), while the CommonJS loader is in its snapshot.
// Without comments and spaces, and in ASCII only, V8 keeps the source (for lazy compiling) in one byte
// a character. What only some buddies load (the Schedule's croner) is a file of its own.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/buddy-bundle`;
rmSync(outdir, { recursive: true, force: true });

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  charset: 'ascii',
  // import() becomes require(): a dynamic import would compile Node's ES module loader at first use.
  supported: { 'dynamic-import': false },
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: root,
  // import.meta.url (where the install folder is) of the file that runs.
  banner: { js: '"use strict";const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__bundleUrl' },
};
/** The Schedule's module stays out of main.cjs: loaded at first need, from the same build's schedule.cjs. */
const scheduleApart = {
  name: 'schedule-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/schedule\.js$/ }, () => ({ path: './schedule.cjs', external: true }));
  },
};
const files = { 'main.cjs': { entry: 'main.js', plugins: [scheduleApart] }, 'schedule.cjs': { entry: 'schedule.js' } };
const results = await Promise.all(
  Object.entries(files).map(([out, { entry, plugins }]) =>
    build({ ...common, entryPoints: [`${root}dist/buddy/${entry}`], outfile: `${outdir}/${out}`, plugins }),
  ),
);
// A buddy started by a build before the bundle was CommonJS loads `./schedule.js` at first need.
writeFileSync(`${outdir}/schedule.js`, "export { Schedule } from './schedule.cjs';\n");
// What each file holds (packages included), for the test that keeps the buddy lean.
const contents = Object.fromEntries(Object.keys(files).map((out, i) => [out, Object.keys(results[i].metafile.inputs)]));
writeFileSync(`${outdir}/contents.json`, JSON.stringify(contents, null, 1) + '\n');
// Written last: the compiled files the bundle was made of, relative to it. The controller starts the
// bundle only while none of them is newer (a `tsc --watch` rewrites only what changed), and never
// a bundle without this list (one whose build did not finish).
const inputs = [...new Set(results.flatMap((r) => Object.keys(r.metafile.inputs)))]
  .filter((f) => !f.split(/[\\/]/).includes('node_modules'))
  .map((f) => relative(outdir, resolve(root, f)));
writeFileSync(`${outdir}/inputs.json`, JSON.stringify(inputs) + '\n');
