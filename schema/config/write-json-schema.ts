// Writes schema/upkeeper.schema.json and schema/service.schema.json from the key table: node dist/schema/config/write-json-schema.js [repo-root]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFiles } from './json-schema.js';

/** dist/schema/config/ → the repository root (three folders up), unless a root is given. */
const root = process.argv[2] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
for (const [name, text] of schemaFiles()) {
  const file = path.join(root, 'schema', name);
  fs.writeFileSync(file, text);
  process.stdout.write(`wrote ${file}\n`);
}
