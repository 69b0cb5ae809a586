// Tests that the committed JSON Schema files equal the generator's output, and that the docs cover every key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFiles, serviceSchema, controllerSchema } from '../../schema/config/json-schema.js';
import { CONTROLLER_KEYS, SERVICE_KEYS } from '../../schema/config/index.js';

const T = { timeout: 10_000 };
/** dist/test/unit/ → the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('schema/*.schema.json are exactly what write-json-schema writes (run it after changing keys.ts)', T, () => {
  for (const [name, text] of schemaFiles()) {
    const committed = fs.readFileSync(path.join(ROOT, 'schema', name), 'utf8');
    assert.ok(committed === text, `schema/${name} is out of date: run node dist/schema/config/write-json-schema.js`);
  }
});

test('the schemas list every key with its description, and $schema is allowed', T, () => {
  const controller = controllerSchema() as {
    properties: Record<string, { description?: string }>;
    definitions: { serviceDefaults: { properties: Record<string, unknown> } };
  };
  assert.deepEqual(Object.keys(controller.properties), ['$schema', ...CONTROLLER_KEYS.map((k) => k.name)]);
  for (const spec of CONTROLLER_KEYS) {
    if (spec.name !== 'ServiceDefaults') assert.equal(controller.properties[spec.name]?.description, spec.description);
  }
  const defaultsKeys = Object.keys(controller.definitions.serviceDefaults.properties);
  assert.ok(
    !defaultsKeys.includes('UUID') &&
      !defaultsKeys.includes('Name') &&
      !defaultsKeys.includes('Package') &&
      !defaultsKeys.includes('Instances') &&
      !defaultsKeys.includes('Listen'),
  );
  assert.equal(defaultsKeys.length, SERVICE_KEYS.filter((k) => k.serviceOnly !== true).length);
  const service = serviceSchema() as {
    properties: Record<string, unknown>;
    definitions: { service: { properties: Record<string, unknown> } };
  };
  assert.deepEqual(Object.keys(service.properties), ['$schema']);
  assert.deepEqual(
    Object.keys(service.definitions.service.properties),
    SERVICE_KEYS.map((k) => k.name),
  );
});

test('the action-name pattern of the schema agrees with the loader', T, () => {
  const service = serviceSchema() as {
    definitions: { service: { properties: { CustomActions: { propertyNames: { pattern: string } } } } };
  };
  const re = new RegExp(service.definitions.service.properties.CustomActions.propertyNames.pattern);
  for (const name of ['rotate', 'a.b-c_d', 'x1', '1x']) assert.ok(re.test(name), name);
  for (const name of ['start', 'STOP', 'Reload', 'pipe-stdout', 'Pipe-Stderr', '12', '-x', 'a/b', '']) assert.ok(!re.test(name), name);
});

test('every pattern compiles as a unicode regular expression (as editors compile them)', T, () => {
  const patterns: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'pattern' && typeof x === 'string') patterns.push(x);
        else if (k === 'patternProperties') Object.keys(x as object).forEach((p) => patterns.push(p));
        walk(x);
      }
    }
  };
  walk([controllerSchema(), serviceSchema()]);
  assert.ok(patterns.length > 10);
  for (const p of patterns) assert.doesNotThrow(() => new RegExp(p, 'u'), p);
});

test('docs/configuration.md has a section for every key', T, () => {
  const docs = fs.readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
  for (const spec of [...CONTROLLER_KEYS, ...SERVICE_KEYS]) {
    assert.match(docs, new RegExp(`^#{3,4} \`${spec.name}\`$`, 'm'), `docs/configuration.md lacks a section for ${spec.name}`);
  }
});
