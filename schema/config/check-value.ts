// Checks one value against its key's type and returns it normalised (paths absolute, names resolved), or issues.
import { FLEET_DATABASE_DESCRIPTION, FLEET_HOST_DESCRIPTION, fleetDatabaseProblem, fleetHostProblem } from './fleet-database.js';
import type { ConfigIssue } from './types.js';
import { type JsonNode, toValue } from './json-node.js';
import { INITIAL_STATE_WORDS, type ValueType } from './keys.js';
import type { Accounts } from './accounts.js';
import { expectedGot, makeIssue } from './issues.js';
import { resolvePath } from './paths.js';
import { NAME_RE, NAME_RULE, UUID_RE } from './names.js';
import { KNOWN_PLACEHOLDERS, shellCommand, unknownPlaceholders } from './scripts.js';
import { checkActions, checkEnvironment, checkList } from './check-objects.js';
import { parseDuration } from '../durations.js';
import { parseProbe } from '../probe.js';
import { nestedRepetition } from './regex-safety.js';
import { scheduleProblem } from './check-schedule.js';
import { SCHEDULE_WORDS } from '../schedule.js';
import { splitOptional, type EnvFileRef } from '../env-file.js';
import { LISTEN_DESCRIPTION, checkListen } from './listen-value.js';

const DURATION_HINT = 'a duration: "90s", "15m", "7d"';

/** Where a value comes from: used to resolve relative paths and to name the file in issues. */
export interface CheckContext {
  file: string;
  /** Folder relative paths resolve against (the folder of `file`). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  accounts: Accounts;
}

export interface Checked {
  value: unknown;
  issues: ConfigIssue[];
}

type NumberType = Extract<ValueType, { kind: 'number' }>;

/** "a number of seconds > 0 and ≤ 60", "an integer from 4 to 65536", "an integer ≥ -1 or null", … */
export function describeType(type: ValueType): string {
  switch (type.kind) {
    case 'number':
      return describeNumber(type);
    case 'boolean':
      return 'true or false';
    case 'text':
      return `${type.nonEmpty ? 'a non-empty string' : 'a string'}${type.nullable ? ' or null' : ''}`;
    case 'command':
      return `a non-empty string (a shell command line), a list of strings (the program and its arguments)${type.nullable ? ' or null' : ''}`;
    case 'name':
      return `a name (${NAME_RULE})${type.nullable ? ' or null' : ''}`;
    case 'script':
      return `a script (non-empty text)${type.nullable ? ' or null' : ''}`;
    case 'path':
      return `a path${type.nullable ? ' or null' : ''}`;
    case 'uuid':
      return 'a UUID (like "0f8fad5b-d9cb-469f-a165-70867728950e") or null';
    case 'list':
      return type.item === 'provides' ? 'a list of names' : 'a list of prerequisites';
    case 'account':
      return type.account === 'user' ? 'a uid (an integer ≥ 0), a user name or null' : 'a gid (an integer ≥ 0), a group name or null';
    case 'state':
      return `one of ${Object.keys(INITIAL_STATE_WORDS).join(', ')}`;
    case 'actions':
      return 'an object of action name → script';
    case 'environment':
      return 'an object of variable name → string or null';
    case 'envFiles':
      return 'a path or a list of paths (a leading "-" makes a file optional)';
    case 'defaults':
      return 'an object of service keys';
    case 'hooks':
      return 'a list of hooks';
    case 'probe':
      return `"http://HOST:PORT/PATH", "tcp://HOST:PORT", or a command: a non-empty string (a shell command line) or a list of strings (the program and its arguments)${type.nullable ? ' or null' : ''}`;
    case 'choice':
      return `one of ${type.words.map((w) => JSON.stringify(w)).join(', ')}`;
    case 'regex':
      return `a regular expression${type.nullable ? ' or null' : ''}`;
    case 'bytes':
      return `a size in bytes: an integer ≥ 0, or a number with a unit K, M, G or T ("512M")${type.nullable ? ' or null' : ''}`;
    case 'listen':
      return LISTEN_DESCRIPTION;
    case 'schedule':
      return `${SCHEDULE_WORDS}${type.nullable ? ' or null' : ''}`;
    case 'postgresUrl':
      return FLEET_DATABASE_DESCRIPTION;
    case 'fleetHost':
      return FLEET_HOST_DESCRIPTION;
  }
}

function describeNumber(t: NumberType): string {
  let text = t.integer ? 'an integer' : t.seconds ? 'a number of seconds' : 'a number';
  const low = t.minExclusive ? '>' : '≥';
  if (t.min !== undefined && t.max !== undefined) text += t.integer ? ` from ${t.min} to ${t.max}` : ` ${low} ${t.min} and ≤ ${t.max}`;
  else if (t.min !== undefined) text += ` ${low} ${t.min}`;
  else if (t.max !== undefined) text += ` ≤ ${t.max}`;
  if (t.seconds) text += ` (or ${DURATION_HINT})`;
  return t.nullable ? `${text} or null` : text;
}

function inRange(t: NumberType, n: number): boolean {
  if (t.integer && !Number.isInteger(n)) return false;
  if (t.min !== undefined && (t.minExclusive ? n <= t.min : n < t.min)) return false;
  return t.max === undefined || n <= t.max;
}

/** Check `node` (the value of key path `key`) against `type`. */
export function checkValue(type: ValueType, node: JsonNode, key: string, ctx: CheckContext): Checked {
  const ok = (value: unknown): Checked => ({ value, issues: [] });
  const bad = (message?: string): Checked => ({
    value: undefined,
    issues: [makeIssue(ctx.file, node.pos, key, message ?? expectedGot(describeType(type), toValue(node)))],
  });
  const nullable = 'nullable' in type && type.nullable === true;
  if (node.kind === 'null' && (nullable || type.kind === 'uuid' || type.kind === 'account')) return ok(null);

  switch (type.kind) {
    case 'number': {
      // A number of seconds may also be written with a unit: "90s", "15m", "7d".
      const ms = type.seconds && node.kind === 'string' ? parseDuration(node.value) : null;
      const n = node.kind === 'number' ? node.value : ms === null ? null : ms / 1000;
      return n !== null && inRange(type, n) ? ok(n) : bad();
    }
    case 'boolean':
      return node.kind === 'boolean' ? ok(node.value) : bad();
    case 'text':
      if (node.kind !== 'string' || (type.nonEmpty && node.value.trim() === '')) return bad();
      return ok(node.value);
    case 'command':
      return checkCommand(node, key, ctx.file, () => bad());
    case 'name':
      return node.kind === 'string' && NAME_RE.test(node.value) ? ok(node.value) : bad();
    case 'script': {
      if (node.kind !== 'string' || node.value.trim() === '') return bad();
      const unknown = type.substituted === true ? unknownPlaceholders(node.value) : [];
      if (unknown.length > 0) {
        const known = KNOWN_PLACEHOLDERS.join(', ');
        return bad(`unknown placeholder ${unknown.join(', ')}: the placeholders are ${known} (upper case)`);
      }
      return ok(node.value);
    }
    case 'path': {
      if (node.kind !== 'string') return bad();
      const resolved = resolvePath(node.value, ctx.baseDir, ctx.env);
      return 'path' in resolved ? ok(resolved.path) : bad(resolved.message);
    }
    case 'uuid':
      return node.kind === 'string' && UUID_RE.test(node.value) ? ok(node.value.toLowerCase()) : bad();
    case 'state': {
      const state = node.kind === 'string' ? INITIAL_STATE_WORDS[node.value.toLowerCase()] : undefined;
      return state === undefined ? bad() : ok(state);
    }
    case 'account':
      return checkAccount(type.account, node, ctx, ok, bad);
    case 'list':
      return node.kind === 'array' ? checkList(type.item, node, key, ctx.file) : bad();
    case 'actions':
      return node.kind === 'object' ? checkActions(node, key, ctx.file) : bad();
    case 'environment':
      return node.kind === 'object' ? checkEnvironment(node, key, ctx.file) : bad();
    case 'envFiles':
      return checkEnvFiles(node, key, ctx, ok, bad);
    case 'defaults':
      return bad('ServiceDefaults is checked by the controller config loader');
    case 'hooks':
      return bad('OnEvent is checked by the controller config loader (on-event.ts)');
    case 'probe': {
      const checked = checkCommand(node, key, ctx.file, () => bad());
      if (typeof checked.value !== 'string') return checked;
      const probe = parseProbe(checked.value);
      return 'message' in probe ? bad(probe.message) : checked;
    }
    case 'choice': {
      const word = node.kind === 'string' ? node.value.toLowerCase() : null;
      return word !== null && type.words.includes(word) ? ok(word) : bad();
    }
    case 'regex': {
      if (node.kind !== 'string' || node.value === '') return bad();
      try {
        new RegExp(node.value);
      } catch (err) {
        return bad(`not a valid regular expression ${JSON.stringify(node.value)}: ${(err as Error).message}`);
      }
      if (nestedRepetition(node.value))
        return bad(
          'a repeated group that itself repeats (like "(a+)+") can take exponential time on a line of output: write it without the nesting',
        );
      return ok(node.value);
    }
    case 'bytes': {
      const n = node.kind === 'number' ? node.value : node.kind === 'string' ? parseBytes(node.value) : null;
      return n !== null && Number.isInteger(n) && n >= 0 ? ok(n) : bad();
    }
    case 'listen':
      return checkListen(node, key, ctx);
    case 'schedule': {
      if (node.kind !== 'string' || node.value.trim() === '') return bad();
      const problem = scheduleProblem(node.value);
      return problem === null ? ok(node.value.trim()) : bad(problem);
    }
    case 'postgresUrl': {
      if (node.kind !== 'string') return bad();
      const problem = fleetDatabaseProblem(node.value);
      return problem === null ? ok(node.value) : bad(problem);
    }
    case 'fleetHost': {
      if (node.kind !== 'string') return bad();
      const problem = fleetHostProblem(node.value);
      return problem === null ? ok(node.value) : bad(problem);
    }
  }
}

/**
 * A shell line as written, or a list (program and arguments) turned into a shell line that quotes each
 * word, so that `exec` runs them exactly as written. A bad word is named by its index.
 */
function checkCommand(node: JsonNode, key: string, file: string, bad: () => Checked): Checked {
  if (node.kind === 'string') return node.value.trim() === '' ? bad() : { value: node.value, issues: [] };
  if (node.kind !== 'array' || node.items.length === 0) return bad();
  const argv: string[] = [];
  const issues: ConfigIssue[] = [];
  for (const [i, item] of node.items.entries()) {
    const at = `${key}[${i}]`;
    if (item.kind !== 'string') issues.push(makeIssue(file, item.pos, at, expectedGot('a string (a program or argument)', toValue(item))));
    else if (item.value.includes('\0')) issues.push(makeIssue(file, item.pos, at, 'an argument cannot hold a NUL character'));
    else if (i === 0 && item.value === '') issues.push(makeIssue(file, item.pos, at, 'the program (the first word) cannot be empty'));
    else argv.push(item.value);
  }
  return issues.length > 0 ? { value: undefined, issues } : { value: shellCommand(argv), issues: [] };
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "512M", "1.5G", "4096": bytes (units are powers of 1024; "KB", "MiB" read as K and M); null when not a size. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!);
}

function checkAccount(
  account: 'user' | 'group',
  node: JsonNode,
  ctx: CheckContext,
  ok: (value: unknown) => Checked,
  bad: (message?: string) => Checked,
): Checked {
  let id: number;
  if (node.kind === 'number' && Number.isInteger(node.value) && node.value >= 0) {
    if (node.value === 0) return ok(null);
    id = node.value;
  } else if (node.kind === 'string' && node.value !== '' && !/^\d+$/.test(node.value)) {
    const found = ctx.accounts.lookup(account, node.value);
    if ('message' in found) return bad(found.message);
    id = found.id;
  } else {
    return bad();
  }
  const effective = ctx.accounts.effective(account, id);
  return 'message' in effective ? bad(effective.message) : ok(effective.id);
}

/** EnvironmentFile: one path or a list of them; `-` in front makes one optional; each resolved like any path. */
function checkEnvFiles(
  node: JsonNode,
  key: string,
  ctx: CheckContext,
  ok: (value: unknown) => Checked,
  bad: (message?: string) => Checked,
): Checked {
  const items = node.kind === 'array' ? node.items : [node];
  if (node.kind !== 'array' && node.kind !== 'string') return bad();
  const refs: EnvFileRef[] = [];
  const issues: ConfigIssue[] = [];
  items.forEach((item, i) => {
    const at = node.kind === 'array' ? `${key}[${i}]` : key;
    if (item.kind !== 'string') return issues.push(makeIssue(ctx.file, item.pos, at, expectedGot('a path', toValue(item))));
    const { path, optional } = splitOptional(item.value);
    const resolved = resolvePath(path, ctx.baseDir, ctx.env);
    if ('message' in resolved) return issues.push(makeIssue(ctx.file, item.pos, at, resolved.message));
    refs.push({ path: resolved.path, optional });
    return undefined;
  });
  return issues.length > 0 ? { value: undefined, issues } : ok(refs);
}
