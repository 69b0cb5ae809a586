// Drift guard: the documents in docs/ name everything the code defines (event types, states, exit
// codes, commands, run-directory files, record fields, protocol methods, error codes, source files,
// libclient's methods and exports, database tables, views and their columns, migrations, benchmarks).
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { migrate } from '../../controller/migrations.js';
import { BUDDY_PROTOCOL, buddyValidators, controllerBuddyValidators } from '../../schema/buddy-protocol.js';
import { clientValidators } from '../../schema/client-protocol.js';
import { ErrorCode } from '../../schema/errors.js';
import { ExitCode, exitCodeFor } from '../../schema/exit-codes.js';
import { DETAIL_FIELDS } from '../../schema/event-details.js';
import { EVENT_TYPE_NAMES, EVENT_TYPES, SERVICE_STATES } from '../../schema/records.js';
import { LOG, RUN_DIR, SCRIPT, actionPipe } from '../../schema/run-dir.js';
import { STATE_DIR } from '../../schema/state-dir.js';

const T = { timeout: 5000 };
/** The repository root: this file is dist/test/unit/docs.test.js. */
const ROOT = new URL('../../../', import.meta.url);

const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');
const doc = (name: string): string => read(`docs/${name}`);

/** Fails with `message` alone when `re` does not match `text` (assert.match would print the whole document). */
function assertMatches(text: string, re: RegExp, message: string): void {
  assert.ok(re.test(text), message);
}

/** Every `inline code` span and every line of a fenced block. */
function codeTexts(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/```[^\n]*\n([\s\S]*?)```/g)) out.push(...(m[1] ?? '').split('\n'));
  const prose = markdown.replace(/```[^\n]*\n[\s\S]*?```/g, '');
  for (const m of prose.matchAll(/`([^`\n]+)`/g)) out.push(m[1] ?? '');
  return out;
}

/** True when `name` appears as code: a whole `span`, or a path segment or word inside code. */
function mentionsAsCode(markdown: string, name: string): boolean {
  return codeTexts(markdown).some((text) => text === name || text.split(/[\s/│├└─(),:;=<>…*]+/).includes(name));
}

/** Field names of an exported interface, from the TypeScript source. */
function interfaceFields(source: string, name: string): string[] {
  const body = new RegExp(`export interface ${name}(?: extends [^{]+)? \\{\\n([\\s\\S]*?)\\n\\}`).exec(source)?.[1];
  assert.ok(body, `interface ${name} not found`);
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1] as string);
}

/** Every `upk` command, from the .command('…') calls of clients/upk/commands/*.ts (and the VERBS loop). */
function upkCommands(): string[] {
  const dir = new URL('clients/upk/commands/', ROOT);
  const commands: string[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    const source = readFileSync(new URL(file, dir), 'utf8');
    // `const controller = program.command('controller')`: a command with subcommands.
    const parents = new Map<string, string>();
    for (const m of source.matchAll(/const (\w+) = program\s*\.command\('([^']+)'\)/g)) parents.set(m[1]!, m[2]!);
    for (const m of source.matchAll(/(\w+)\s*\.command\('([^']+)'\)/g)) {
      const parent = parents.get(m[1]!);
      commands.push(parent === undefined ? m[2]! : `${parent} ${m[2]!}`);
    }
    for (const m of source.matchAll(/\.alias\('([^']+)'\)/g)) commands.push(m[1]!);
    // `for (const [verb] of Object.entries(VERBS)) program.command(verb)`: the keys of VERBS.
    if (/\.command\(\s*[a-z]\w*\s*\)/.test(source)) {
      const table = /Object\.entries\((\w+)\)/.exec(source)?.[1];
      assert.ok(table, `${file}: .command(variable) without an Object.entries(TABLE) to read the names from`);
      const body = new RegExp(`const ${table} = \\{([\\s\\S]*?)\\}`).exec(source)?.[1] ?? '';
      const keys = [...body.matchAll(/^\s*'?([\w-]+)'?\s*:/gm)].map((k) => k[1]!);
      assert.ok(keys.length > 0, `${file}: no keys in ${table}`);
      commands.push(...keys);
    }
  }
  return [...new Set(commands)];
}

/** Every SQL migration, relative to the repository root. */
function migrationFiles(): string[] {
  return readdirSync(new URL('schema/migrations/', ROOT))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => `schema/migrations/${f}`);
}

/** Every .ts file under the given folders, relative to the repository root. */
function sourceFiles(folders: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(new URL(rel, ROOT)).sort()) {
      const path = `${rel}${name}`;
      if (statSync(new URL(path, ROOT)).isDirectory()) walk(`${path}/`);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  for (const f of folders) walk(`${f}/`);
  return out;
}

test('events.md: every event type and every state', T, () => {
  const events = doc('events.md');
  assert.ok(EVENT_TYPE_NAMES.length >= 16);
  for (const type of EVENT_TYPE_NAMES) {
    assertMatches(events, new RegExp(`^\\| \`${type}\` \\|`, 'm'), `docs/events.md has no table row for event type ${type}`);
  }
  for (const state of SERVICE_STATES) {
    assertMatches(events, new RegExp(`^\\| \`${state}\` \\|`, 'm'), `docs/events.md has no table row for state ${state}`);
  }
});

test("events.md: each event type's detail fields, as EventDetails defines them", T, () => {
  const events = doc('events.md');
  const section = /^## Event types\n([\s\S]*?)^## /m.exec(events)?.[1] ?? '';
  for (const type of EVENT_TYPE_NAMES) {
    const row = new RegExp(`^\\| \`${type}\` \\|.*$`, 'm').exec(section)?.[0] ?? '';
    const documented = [...new Set([...row.matchAll(/`detail\.(\w+)`/g)].map((m) => m[1]!))].sort();
    const defined = Object.keys(DETAIL_FIELDS[type]).sort();
    assert.deepEqual(documented, defined, `docs/events.md: the detail fields of ${type} are not those of EventDetails`);
  }
  for (const type of EVENT_TYPE_NAMES) {
    for (const m of EVENT_TYPES[type].matchAll(/detail\.(\w+)/g)) {
      assert.ok(m[1]! in DETAIL_FIELDS[type], `EVENT_TYPES.${type} names detail.${m[1]!}, which EventDetails does not define`);
    }
  }
});

test('cli.md: every exit code (number, name, the error codes that lead to it) and every upk command', T, () => {
  const cli = doc('cli.md');
  for (const [name, number] of Object.entries(ExitCode)) {
    const row = new RegExp(`^\\| ${number} \\| \`${name}\` \\|.*$`, 'm').exec(cli)?.[0];
    assert.ok(row, `docs/cli.md: no exit-code row "| ${number} | \`${name}\` |"`);
    for (const code of Object.values(ErrorCode).filter((c) => exitCodeFor(c) === number)) {
      assert.ok(row.includes(`\`${code}\``), `docs/cli.md: the row of exit ${number} does not name ${code}`);
    }
  }
  const commands = upkCommands();
  for (const expected of [
    'controller start',
    'controller stop',
    'controller status',
    'list',
    'ls',
    'status',
    'start',
    'stop',
    'restart',
    'reload',
    'shutdown',
    'action',
    'signal',
    'events',
    'check-config',
  ]) {
    assert.ok(commands.includes(expected), `the command scan missed ${expected} (found ${commands.join(', ')})`);
  }
  for (const command of commands) {
    assert.ok(cli.includes(`upk ${command}`), `docs/cli.md does not mention "upk ${command}"`);
  }
  assert.ok(cli.includes('upk-controller'), 'docs/cli.md does not describe upk-controller');
});

test('run-directory.md: every run-directory and StateDir file and every field of BuddySettings and BuddyStatus', T, () => {
  const runDir = doc('run-directory.md');
  assert.ok(Object.values(STATE_DIR).includes('upkeeper.db'), `STATE_DIR: ${Object.values(STATE_DIR).join(', ')}`);
  for (const [table, names] of Object.entries({ RUN_DIR, LOG, SCRIPT, STATE_DIR })) {
    for (const name of Object.values(names)) {
      assert.ok(mentionsAsCode(runDir, name), `docs/run-directory.md does not name ${table} file ${name}`);
    }
  }
  for (const slot of [0, 1]) assert.ok(mentionsAsCode(runDir, actionPipe(slot)), `docs/run-directory.md does not name ${actionPipe(slot)}`);
  const settings = interfaceFields(read('schema/buddy-protocol.ts'), 'BuddySettings');
  const status = interfaceFields(read('schema/records.ts'), 'BuddyStatus');
  assert.ok(settings.length >= 20 && settings.includes('killTimeout'), `BuddySettings fields: ${settings.join(', ')}`);
  assert.ok(status.length >= 15 && status.includes('pidStartTime'), `BuddyStatus fields: ${status.join(', ')}`);
  for (const field of [...settings, ...status]) {
    assert.ok(runDir.includes(`\`${field}\``), `docs/run-directory.md does not describe the field ${field}`);
  }
});

test('protocol.md: every client and buddy method, every method of the endpoint for buddies, and every error code', T, () => {
  const protocol = doc('protocol.md');
  const methods = [...Object.keys(clientValidators), ...Object.keys(buddyValidators), ...Object.keys(controllerBuddyValidators)];
  assert.ok(methods.includes('controller.status') && methods.includes('poll') && methods.includes('deliver'));
  for (const method of methods) {
    assertMatches(
      protocol,
      new RegExp(`^\\| \`${method.replace('.', '\\.')}\` \\|`, 'm'),
      `docs/protocol.md has no table row for method ${method}`,
    );
  }
  assert.ok(protocol.includes(`BUDDY_PROTOCOL\` = ${BUDDY_PROTOCOL}`), 'docs/protocol.md states another buddy protocol version');
  for (const code of Object.values(ErrorCode)) {
    assertMatches(protocol, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `docs/protocol.md has no table row for error code ${code}`);
  }
});

test('architecture.md: every source file of schema, system, buddy, controller, libclient and clients', T, () => {
  const architecture = doc('architecture.md');
  const files = sourceFiles(['schema', 'system', 'buddy', 'controller', 'libclient', 'clients']);
  assert.ok(files.includes('buddy/machine.ts') && files.length > 50, `found ${files.length} files`);
  for (const file of files) assert.ok(architecture.includes(`\`${file}\``), `docs/architecture.md does not describe ${file}`);
  const migrations = migrationFiles();
  assert.ok(migrations.length >= 2, `migrations: ${migrations.join(', ')}`);
  for (const file of migrations) assert.ok(architecture.includes(`\`${file}\``), `docs/architecture.md does not describe ${file}`);
});

test('architecture.md: every benchmark, in the table and in the --only list', T, () => {
  const architecture = doc('architecture.md');
  const names = readdirSync(new URL('bench/', ROOT))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...read(`bench/${f}`).matchAll(/: Benchmark = \{\s*name: '([^']+)'/g)].map((m) => m[1]!));
  assert.ok(names.includes('respawn') && names.length >= 7, `benchmarks: ${names.join(', ')}`);
  const only = /--only \w+ +# one of: (.+)$/m.exec(architecture)?.[1]?.split(/,\s*/) ?? [];
  for (const name of names) {
    assertMatches(architecture, new RegExp(`^\\| \`${name}\` \\|`, 'm'), `docs/architecture.md has no benchmark row for ${name}`);
    assert.ok(only.includes(name), `docs/architecture.md: the --only list lacks ${name}`);
  }
});

test('library.md: every public method of Client and every export of libclient', T, () => {
  const library = doc('library.md');
  const source = read('libclient/client.ts');
  const body = /export class Client \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
  const methods: string[] = [];
  const lines = body.split('\n');
  lines.forEach((line, i) => {
    const m = /^ {2}(?:async )?(\w+)\(/.exec(line);
    const internal = /@internal/.test(lines[i - 1] ?? '');
    if (m && m[1] !== 'constructor' && !internal) methods.push(m[1]!);
  });
  assert.ok(methods.includes('subscribe') && methods.includes('close') && !methods.includes('call'), `methods: ${methods.join(', ')}`);
  for (const method of methods) {
    assertMatches(library, new RegExp(`^\\| \`${method}\\(`, 'm'), `docs/library.md has no table row for Client.${method}()`);
  }
  const index = read('libclient/index.ts');
  const exported = [
    ...[...index.matchAll(/^export (?:type )?\{([^}]+)\}/gm)].flatMap((m) => m[1]!.split(',').map((n) => n.trim().replace(/^type /, ''))),
    ...[...index.matchAll(/^export function (\w+)/gm)].map((m) => m[1]!),
  ].filter(Boolean);
  assert.ok(exported.includes('connect') && exported.includes('ReloadResult'), `exports: ${exported.join(', ')}`);
  for (const name of exported) assert.ok(mentionsAsCode(library, name), `docs/library.md does not name the export ${name}`);
});

test('controller.md: every table and view the migrations leave, with every column', T, () => {
  const controller = doc('controller.md');
  // The schema as the migrations leave it, so that a table or column a later migration renamed is
  // asked for under its new name only.
  const db = new Database(':memory:');
  try {
    migrate(db);
    const named = (type: string): string[] =>
      (
        db
          .prepare(`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'`)
          .all(type) as { name: string }[]
      ).map((r) => r.name);
    const columns = (name: string): string[] => (db.pragma(`table_info(${name})`) as { name: string }[]).map((c) => c.name);
    const tables = named('table');
    assert.ok(tables.length >= 5 && tables.includes('client_requests'), `tables: ${tables.join(', ')}`);
    for (const table of tables) {
      const section = new RegExp(`^### \`${table}\`[^\\n]*\\n([\\s\\S]*?)(?=^#)`, 'm').exec(controller)?.[1];
      assert.ok(section, `docs/controller.md has no section "### \`${table}\`"`);
      for (const c of columns(table)) {
        assert.ok(section.includes(`\`${c}\``), `docs/controller.md: the section of ${table} does not describe its column ${c}`);
      }
    }
    const views = named('view');
    assert.ok(views.includes('request_log'), `views: ${views.join(', ')}`);
    for (const view of views) {
      const row = new RegExp(`^\\| \`${view}\` \\|.*$`, 'm').exec(controller)?.[0];
      assert.ok(row, `docs/controller.md has no row for the view ${view}`);
      for (const c of columns(view))
        assert.ok(row.includes(`\`${c}\``), `docs/controller.md: the row of ${view} does not name its column ${c}`);
    }
  } finally {
    db.close();
  }
});

test('README.md links every document, and every relative link between documents resolves', T, () => {
  const docs = readdirSync(new URL('docs/', ROOT)).filter((f) => f.endsWith('.md'));
  const index = doc('README.md');
  for (const name of docs.filter((d) => d !== 'README.md')) assert.ok(index.includes(`](${name})`), `docs/README.md does not link ${name}`);
  for (const name of docs) {
    for (const m of doc(name).matchAll(/\]\(([a-z-]+\.md)(?:#([^)]+))?\)/g)) {
      const target = m[1]!;
      assert.ok(docs.includes(target), `docs/${name} links to a missing ${target}`);
      if (m[2] === undefined) continue;
      const anchors = [...doc(target).matchAll(/^#+ (.+)$/gm)].map((h) => slug(h[1]!));
      assert.ok(anchors.includes(m[2]), `docs/${name} links to ${target}#${m[2]}, which has no such heading`);
    }
  }
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}
