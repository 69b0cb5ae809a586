// Config issues: building, ordering and printing them, describing found values, suggesting the nearest key.
import type { ConfigIssue } from './types.js';
import type { Pos } from './json-node.js';

/** `file:line: key: message` (line left out when 0, key when ''). */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  // A key may hold any character a JSON string can: control characters are shown escaped, never raw.
  const key = issue.key.replace(/[\x00-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return key === '' ? `${where}: ${issue.message}` : `${where}: ${key}: ${issue.message}`;
}

export function makeIssue(file: string, pos: Pos | null, key: string, message: string): ConfigIssue {
  return { file, line: pos?.line ?? 0, column: pos?.column ?? 0, key, message };
}

/** Sort issues by file (in the order given), then line and column; stable for equal positions. */
export function sortIssues(issues: ConfigIssue[], fileOrder: readonly string[] = []): ConfigIssue[] {
  const rank = (file: string): number => {
    const i = fileOrder.indexOf(file);
    return i < 0 ? fileOrder.length : i;
  };
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        rank(a.issue.file) - rank(b.issue.file) || a.issue.line - b.issue.line || a.issue.column - b.issue.column || a.index - b.index,
    )
    .map((x) => x.issue);
}

/** How a found value is quoted in a message: `"ten"`, `1.5`, `true`, `null`, `an object`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}…` : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return String(value);
  }
}

/** `expected <what>, got <value>`, with a hint when a number was written in quotes. */
export function expectedGot(what: string, value: unknown): string {
  const hint =
    typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value) && /number|integer|uid|gid/.test(what)
      ? ' (write numbers without quotes)'
      : '';
  return `expected ${what}, got ${describeValue(value)}${hint}`;
}

/** Edit distance, case-insensitive: insertions, deletions, substitutions and swaps of two neighbours count 1. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) =>
    Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= s.length; i++) {
    const row = d[i] as number[];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      row[j] = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) row[j] = Math.min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(s.length, t.length);
}

/** The known name closest to `name`, if it is close enough to be a likely typo (≤ 1 edit per 3 letters, at most 3). */
export function nearestName(name: string, known: readonly string[]): string | null {
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : null;
}

/** `unknown key "KilTimeout" (did you mean "KillTimeout"?)` */
export function unknownKeyMessage(name: string, known: readonly string[]): string {
  const near = nearestName(name, known);
  return near === null
    ? `unknown key ${JSON.stringify(name)}`
    : `unknown key ${JSON.stringify(name)} (did you mean ${JSON.stringify(near)}?)`;
}

/** Join key path parts: `web` + `KillTimeout` → `web.KillTimeout`; '' + `StateDir` → `StateDir`. */
export function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}
