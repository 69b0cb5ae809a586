#!/usr/bin/env node
// upk's entry: runs the command line (cli.ts) from its one-file build, dist/upk-bundle/main.cjs, while
// that build is fresh (`npm run build` makes it), else from the compiled modules: Node's loader reading
// the ~100 modules of the command line cost each `upk` ~100 ms more (docs/architecture.md, the
// programs of the package).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freshBundle } from '../../libclient/fresh-bundle.js';
import type * as Cli from './cli.js';

const compiled = fileURLToPath(new URL('./cli.js', import.meta.url));
const chosen = freshBundle(fileURLToPath(new URL('../../upk-bundle/main.cjs', import.meta.url)), compiled);
const cli = (chosen === compiled ? await import('./cli.js') : createRequire(import.meta.url)(chosen)) as typeof Cli;
await cli.main();
