// The one-file builds (part of `npm run build`, after tsc), for the programs whose start is paid often:
// - the buddy, dist/buddy-bundle/: one starts per service, and Node's loader costs ~35 ms of CPU per
//   start for the ~60 modules of dist/buddy/ (docs/architecture.md, the programs of the package; docs/buddy.md). What
//   only some buddies load (the Schedule's croner) is a file of its own.
// - the upk command line, dist/upk-bundle/: every `upk` loaded ~100 modules (~100 ms of its start).
// And the dashboard's page for the browser (clients/http/dashboard: app.ts, type-checked by `tsc -p
// clients/http/dashboard`), into dist/clients/http/dashboard/ beside its HTML and CSS.
// CommonJS, not ES modules: Node 20 compiles its ES module loader at every start of an ES module (~15
// ms of CPU and 0.2 MB of heap), while the CommonJS loader is in its snapshot. Without comments and
// spaces, and in ASCII only, V8 keeps the source (for lazy compiling) in one byte a character.
// Each folder also holds contents.json (what each file holds, packages included: the tests that keep
// the buddy lean read it) and inputs.json (the compiled files it was made of: schema/fresh-bundle.ts).
import { build } from 'esbuild';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

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
  // The URL of the file that runs; each module's own import.meta.url is made from it (ownUrl).
  banner: { js: '"use strict";const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__bundleUrl' },
};
/**
 * Each module of the project keeps its own import.meta.url, the URL of its compiled file, made from
 * the bundle's: what it finds relative to itself (package.json, the controller program, dist/) is
 * found as without the bundle, at whatever depth under dist/ it lies.
 */
function ownUrl(outdir) {
  return {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        if (args.path.split(sep).includes('node_modules')) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const own = relative(outdir, args.path).split(sep).join('/');
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, __bundleUrl).href`), loader: 'js' };
      });
    },
  };
}
/** The Schedule's module stays out of the buddy's main.cjs: loaded at first need, from the same build's schedule.cjs. */
const scheduleApart = {
  name: 'schedule-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/schedule\.js$/ }, () => ({ path: './schedule.cjs', external: true }));
  },
};

/** Bundles each entry (a file of dist/) of one folder into it, with its contents.json and inputs.json. */
async function bundleFolder(folder, files) {
  const outdir = `${root}dist/${folder}`;
  rmSync(outdir, { recursive: true, force: true });
  const results = await Promise.all(
    Object.entries(files).map(([out, { entry, plugins = [] }]) =>
      build({ ...common, entryPoints: [`${root}dist/${entry}`], outfile: `${outdir}/${out}`, plugins: [...plugins, ownUrl(outdir)] }),
    ),
  );
  const contents = Object.fromEntries(Object.keys(files).map((out, i) => [out, Object.keys(results[i].metafile.inputs)]));
  writeFileSync(`${outdir}/contents.json`, JSON.stringify(contents, null, 1) + '\n');
  return { outdir, results };
}

/**
 * Written last in each folder: the compiled files the bundle was made of, relative to it. A program
 * runs its bundle only while none of them is newer (a `tsc --watch` rewrites only what changed), and
 * never a bundle without this list (one whose build did not finish). Packages are not listed: npm
 * gives every file it installs the same old time, so a changed package would not show (after an `npm
 * update`, run `npm run build`).
 */
function writeInputs({ outdir, results }) {
  const inputs = [...new Set(results.flatMap((r) => Object.keys(r.metafile.inputs)))]
    .filter((f) => !f.split(/[\\/]/).includes('node_modules'))
    .map((f) => relative(outdir, resolve(root, f)));
  writeFileSync(`${outdir}/inputs.json`, JSON.stringify(inputs) + '\n');
}

const buddy = await bundleFolder('buddy-bundle', {
  'main.cjs': { entry: 'buddy/main.js', plugins: [scheduleApart] },
  'schedule.cjs': { entry: 'buddy/schedule.js' },
});
// A buddy started by a build before the bundle was CommonJS loads `./schedule.js` at first need.
writeFileSync(`${buddy.outdir}/schedule.js`, "export { Schedule } from './schedule.cjs';\n");
writeInputs(buddy);
/**
 * The PostgreSQL driver stays out of upk's bundle: only `--fleet` loads it (libclient/fleet-database.ts
 * imports it at first use), from node_modules, so that every other upk starts without parsing it.
 */
const fleetDriverApart = {
  name: 'fleet-driver-apart',
  setup(b) {
    b.onResolve({ filter: /^(pg|pg-connection-string)$/ }, (args) => ({ path: args.path, external: true }));
  },
};
writeInputs(await bundleFolder('upk-bundle', { 'main.cjs': { entry: 'clients/upk/cli.js', plugins: [fleetDriverApart] } }));

const dashboard = `${root}dist/clients/http/dashboard`;
rmSync(dashboard, { recursive: true, force: true });
await build({
  entryPoints: [`${root}clients/http/dashboard/app.ts`],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  logLevel: 'warning',
  outfile: `${dashboard}/app.js`,
});
for (const file of ['index.html', 'style.css']) copyFileSync(`${root}clients/http/dashboard/${file}`, `${dashboard}/${file}`);
