// The buddy as one file (part of `npm run build`, after tsc): a buddy starts once per service, and
// Node's loader costs ~35 ms of CPU per start for the ~60 modules of dist/buddy/ (docs/architecture.md,
// "The buddy bundle"). What only some buddies load (the Schedule's croner) stays a chunk of its own.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/buddy-bundle`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${root}dist/buddy/main.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
