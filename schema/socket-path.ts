// Unix socket paths longer than the kernel's 107-byte limit are reached through /proc/self/fd.
import { openSync } from 'node:fs';
import { basename, dirname } from 'node:path';

const SUN_PATH_MAX = 107;
const dirFds = new Map<string, number>();

/**
 * A path that connect(2) and bind(2) accept for `path`: itself when short enough, else
 * /proc/self/fd/N/NAME with N an open descriptor of its directory (kept open for the process's life).
 */
export function socketAddress(path: string): string {
  if (Buffer.byteLength(path) <= SUN_PATH_MAX) return path;
  const dir = dirname(path);
  let fd = dirFds.get(dir);
  if (fd === undefined) {
    fd = openSync(dir, 'r');
    dirFds.set(dir, fd);
  }
  return `/proc/self/fd/${fd}/${basename(path)}`;
}
