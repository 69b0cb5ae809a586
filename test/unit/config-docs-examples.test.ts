// Tests that the example files in docs/configuration.md load without a single issue and mean what the text says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssue, loadControllerConfig, loadServices, type LoadedServices } from '../../schema/config/index.js';

const T = { timeout: 10_000 };
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const HEADER = /^\/\/ ~\/\.config\/upkeeper\/(\S+)\n/;

/** Per `## ` section: the jsonc blocks that start with `// ~/.config/upkeeper/<file>`. */
function exampleSections(): Map<string, [string, string][]> {
  const docs = fs.readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const sections = new Map<string, [string, string][]>();
  for (const section of docs.split(/^## /m)) {
    const title = section.split('\n', 1)[0] ?? '';
    for (const match of section.matchAll(/```jsonc\n([\s\S]*?)```/g)) {
      const header = HEADER.exec(match[1] ?? '');
      if (header) sections.set(title, [...(sections.get(title) ?? []), [header[1] as string, match[1] as string]]);
    }
  }
  return sections;
}

/** Write the files under a fresh HOME and load them as upk would. */
function loadExample(files: [string, string][]): LoadedServices {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-cfg-'));
  try {
    for (const [name, text] of files) {
      const file = path.join(home, '.config', 'upkeeper', name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
    const env = { HOME: home };
    const { config, issues } = loadControllerConfig({ env });
    assert.deepEqual(issues.map(formatIssue), []);
    assert.ok(config);
    const loaded = loadServices(config, env);
    assert.deepEqual(loaded.issues.map(formatIssue), []);
    return loaded;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

test('every example section loads without issues', T, () => {
  const sections = exampleSections();
  assert.ok(sections.size >= 2);
  for (const [title, files] of sections) assert.ok(loadExample(files).services.length > 0, title);
});

test('the complete example means what the docs say', T, () => {
  const files = exampleSections().get('Complete example');
  assert.ok(files);
  const [web, worker] = loadExample(files).services;
  assert.equal(web?.killTimeout, 15);
  assert.deepEqual(web?.environment, { LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1' });
  assert.deepEqual(
    web?.customActions.map((a) => a.name),
    ['status'],
  );
  assert.match(web?.customActions[0]?.script ?? '', /curl/);
  assert.equal(web?.initialState, 'running');
  assert.deepEqual(
    worker?.customActions.map((a) => a.script),
    ['#!/bin/sh\nps -o pid,etime,args -p "$1"'],
  );
  assert.equal(worker?.stopScript, '#!/bin/sh\nkill -TERM $1\nsleep 1\nkill -TERM $1 2>/dev/null || true\n');
  assert.deepEqual([worker?.package, worker?.name, worker?.prerequisites], ['acme', 'worker', ['http']]);
});
