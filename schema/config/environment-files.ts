// `upk check-config` reads each service's environment files as the buddy would at a start: every bad
// line, and a missing file that is not optional, is an issue naming the file and line (never a value).
import { parseEnvFile } from '../env-file.js';
import { makeIssue } from './issues.js';
import { readText } from './read-file.js';
import type { ConfigIssue, ServiceConfig } from './types.js';

/**
 * Issues of every environment file the services name, each file checked once (its issues named after
 * the first service that names it), and the ids of the services whose start would fail for them.
 */
export function checkEnvironmentFiles(services: readonly ServiceConfig[]): { issues: ConfigIssue[]; failing: Set<string> } {
  const issues: ConfigIssue[] = [];
  const failing = new Set<string>();
  const bad = new Map<string, boolean>();
  for (const service of services) {
    const key = `${service.id}.EnvironmentFile`;
    for (const ref of service.environmentFiles) {
      let fails = bad.get(ref.path);
      if (fails === undefined) {
        const found = check(ref.path, ref.optional, key);
        issues.push(...found);
        fails = found.length > 0;
        bad.set(ref.path, fails);
      }
      if (fails) failing.add(service.id);
    }
  }
  return { issues, failing };
}

function check(path: string, optional: boolean, key: string): ConfigIssue[] {
  const read = readText(path);
  if ('text' in read)
    return parseEnvFile(read.text, read.utf8).problems.map((p) => makeIssue(path, { line: p.line, column: 1 }, key, p.message));
  return read.missing && optional ? [] : [makeIssue(path, null, key, read.message)];
}
