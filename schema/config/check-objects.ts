// Checks of the structured service values: Provides/Prerequisites lists, CustomActions, Environment.
import type { ConfigIssue } from './types.js';
import { type JsonNode, type JsonObjectNode, setOwn, toValue } from './json-node.js';
import { MAX_CUSTOM_ACTIONS } from '../run-dir.js';
import { duplicateKeyIssues } from './jsonc.js';
import { expectedGot, joinKey, makeIssue } from './issues.js';
import { NAME_RE, NAME_RULE, VARIABLE_NAME_RE, actionNameProblem, isValidPrerequisite } from './names.js';

interface Checked {
  value: unknown;
  issues: ConfigIssue[];
}

const done = (value: unknown, issues: ConfigIssue[]): Checked => ({ value: issues.length === 0 ? value : undefined, issues });

/** Provides: names. Prerequisites: `name`, `package:name` or `uuid#<uuid>`. */
export function checkList(
  item: 'provides' | 'prerequisite',
  node: Extract<JsonNode, { kind: 'array' }>,
  key: string,
  file: string,
): Checked {
  const issues: ConfigIssue[] = [];
  const out: string[] = [];
  const what = item === 'provides' ? `a name (${NAME_RULE})` : 'a prerequisite: a name, package:name or uuid#<uuid>';
  node.items.forEach((entry, i) => {
    const valid = entry.kind === 'string' && (item === 'provides' ? NAME_RE.test(entry.value) : isValidPrerequisite(entry.value));
    if (valid) out.push(entry.value);
    else issues.push(makeIssue(file, entry.pos, `${key}[${i}]`, expectedGot(what, toValue(entry))));
  });
  return done(out, issues);
}

/** CustomActions: action name → script text, in config order, at most MAX_CUSTOM_ACTIONS. */
export function checkActions(node: JsonObjectNode, key: string, file: string): Checked {
  const issues = duplicateKeyIssues(node, file, key);
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const entry of node.entries) {
    const entryKey = joinKey(key, entry.key);
    if (seen.has(entry.key.toLowerCase())) continue;
    seen.add(entry.key.toLowerCase());
    const problem = actionNameProblem(entry.key);
    if (problem !== null) issues.push(makeIssue(file, entry.keyPos, entryKey, problem));
    const v = entry.value;
    if (v.kind !== 'string' || v.value.trim() === '') {
      issues.push(makeIssue(file, v.pos, entryKey, expectedGot('a script (non-empty text)', toValue(v))));
    } else if (problem === null) {
      setOwn(out, entry.key, v.value);
    }
  }
  if (seen.size > MAX_CUSTOM_ACTIONS) issues.push(makeIssue(file, node.pos, key, tooManyActions(seen.size)));
  return done(out, issues);
}

export function tooManyActions(count: number): string {
  return `too many custom actions: ${count}, at most ${MAX_CUSTOM_ACTIONS}`;
}

/** Environment: variable name → string, or null to remove an inherited variable. Names are case-sensitive. */
export function checkEnvironment(node: JsonObjectNode, key: string, file: string): Checked {
  const issues = duplicateKeyIssues(node, file, key, true);
  const out: Record<string, string | null> = {};
  const seen = new Set<string>();
  for (const entry of node.entries) {
    const entryKey = joinKey(key, entry.key);
    if (seen.has(entry.key)) continue;
    seen.add(entry.key);
    const nameOk = VARIABLE_NAME_RE.test(entry.key);
    if (!nameOk) {
      issues.push(
        makeIssue(
          file,
          entry.keyPos,
          entryKey,
          `invalid variable name ${JSON.stringify(entry.key)}: expected letters, digits and "_", not starting with a digit`,
        ),
      );
    }
    const v = entry.value;
    if (v.kind === 'string' && v.value.includes('\0')) {
      issues.push(makeIssue(file, v.pos, entryKey, 'a variable value cannot contain a NUL character'));
    } else if (v.kind !== 'string' && v.kind !== 'null') {
      issues.push(makeIssue(file, v.pos, entryKey, expectedGot('a string or null', toValue(v))));
    } else if (nameOk) {
      setOwn(out, entry.key, v.kind === 'null' ? null : v.value);
    }
  }
  return done(out, issues);
}
