// `upk check-config` looks at each RedirectStdout/RedirectStderr path as the buddy will open it: a
// regular file with one name, /dev/null, or nothing yet in an existing folder (system/files.ts says why).
import { closeSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { openFolder, unusableOutput } from '../output-file.js';
import { makeIssue } from './issues.js';
import type { ConfigIssue, ServiceConfig } from './types.js';

/** An issue for each output path the buddy would refuse, named after the service's file and key. */
export function checkOutputFiles(services: readonly ServiceConfig[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const service of services) {
    for (const [key, path] of [
      ['RedirectStdout', service.redirectStdout],
      ['RedirectStderr', service.redirectStderr],
    ] as const) {
      const why = path === null ? null : unusable(path);
      if (why) issues.push(makeIssue(service.file, { line: service.line, column: 1 }, `${service.id}.${key}`, `${path} ${why}`));
    }
  }
  return issues;
}

function unusable(path: string): string | null {
  // The folder first, as the buddy reaches it: no link someone else may have planted on the way.
  try {
    closeSync(openFolder(dirname(path)));
  } catch (err) {
    return `cannot be reached: ${(err as Error).message}`;
  }
  try {
    const why = unusableOutput(lstatSync(path));
    return why && `${why}: output goes only to a regular file with one name (or /dev/null), never through a symbolic link`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `cannot be looked at (${(err as NodeJS.ErrnoException).code})`;
  }
  return null; // nothing there yet, in a folder it can be made in
}
