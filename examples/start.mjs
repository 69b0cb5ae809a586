#!/usr/bin/env node
// npm start: says what to type next, then runs the controller in the foreground, in this same process,
// so Ctrl-C (SIGINT) reaches it as it would `upk-controller`: it stops alone, the services run on.
//   node examples/start.mjs [CONFIG]   (default: examples/upkeeper.conf)
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const config = resolve(process.argv[2] ?? join(here, 'upkeeper.conf'));
const controller = join(here, '..', 'dist', 'controller', 'main.js');
if (!existsSync(controller)) {
  console.error(`npm start: ${controller} is missing: build first (npm run build; npm ci builds too)`);
  process.exit(1);
}
/** A word as a shell reads it back unchanged. */
const word = (w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

process.stdout.write(
  [
    `upkeeper: a controller in the foreground for ${config}`,
    'Ctrl-C stops it alone: the services run on. From another terminal:',
    '',
    `  export UPKEEPER_CONFIG=${word(config)}`,
    '  npx upk list        # every service: its state, CPU and memory (upk, once installed: see README.md)',
    '  npx upk shutdown    # stops every service, buddy and this controller',
    '',
    '',
  ].join('\n'),
);
process.argv = [process.argv[0], controller, '--config', config];
await import(pathToFileURL(controller).href);
