// Whether a program can be run, and where PATH finds it, as exec would: asked before it is needed
// (upk check-config for a hook's program, the buddy for perl).
import { accessSync, constants, statSync } from 'node:fs';

/**
 * The first line of the Perl that upkeeper runs beside a service (the Listen holder, the notify relay):
 * it is in their command lines, so that ProcessMatch never takes one of them for the service.
 */
export const HELPER_TAG = '# upkeeper helper: never a service\n';

/** Why `file` cannot be run, in a few words, or null when it can (an executable file). */
export function unrunnable(file: string): string | null {
  try {
    if (!statSync(file).isFile()) return 'is not a file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be reached (${code})`;
  }
  try {
    accessSync(file, constants.X_OK);
    return null;
  } catch {
    return 'is not executable';
  }
}

/** The first runnable `name` in the absolute folders of `path` (a PATH value), or null. */
export function findOnPath(name: string, path: string): string | null {
  for (const dir of path.split(':')) {
    if (dir.startsWith('/') && unrunnable(`${dir}/${name}`) === null) return `${dir}/${name}`;
  }
  return null;
}
