// The files output is appended to (log files of upkeeper's own, a user's RedirectStdout/RedirectStderr
// file): how they are opened, and what they may be. Shared by the buddy, the controller (buddy.log) and
// `upk check-config`, which names a path the buddy would refuse.
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** The mode of every log file upkeeper opens for itself (not a user's Redirect file). */
export const LOG_FILE_MODE = 0o600;

/**
 * Open a log file of upkeeper's own for appending: created with LOG_FILE_MODE, and an existing file
 * set to it through the descriptor (one made 0666 earlier, or under another umask, keeps no wider mode).
 */
export function openLogFile(path: string): number {
  return openOutputFile(path, true);
}

/**
 * Open a file that output is appended to: a log of upkeeper's own (`own`: set to LOG_FILE_MODE) or a
 * user's RedirectStdout/RedirectStderr file (keeps its owner's mode; a new one is created 0600). Its
 * folder is reached by `openFolder` (no symbolic link that someone else planted, anywhere on the path);
 * the file itself never through a symbolic link, never waiting (a FIFO), and only a regular file with
 * one name, or /dev/null: a service that can write to the file's folder must not make the buddy (perhaps
 * root) append elsewhere, nor block it (a FIFO, a terminal). Opened read-write where it can be, so that
 * the caller can read its last byte through the descriptor.
 */
export function openOutputFile(path: string, own: boolean, writeOnly = false): number {
  const dir = openFolder(dirname(path));
  try {
    return openOutputFileIn(dir, basename(path), path, own, writeOnly);
  } finally {
    closeSync(dir);
  }
}

/**
 * `openOutputFile` of `name` in a folder already opened by `openFolder`; `shown` names it in errors.
 * `writeOnly`: for a descriptor handed to another program (a pipe program may append, not read).
 */
export function openOutputFileIn(dir: number, name: string, shown: string, own: boolean, writeOnly = false): number {
  // O_NOCTTY: a terminal at the path must not become the buddy's controlling terminal (Ctrl-C there would stop it).
  const flags = constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
  const mode = own ? LOG_FILE_MODE : 0o600;
  const path = inFolder(dir, name);
  let fd: number;
  try {
    try {
      fd = openSync(path, flags | (writeOnly ? constants.O_WRONLY : constants.O_RDWR), mode);
    } catch (err) {
      if (writeOnly || (err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
      fd = openSync(path, flags | constants.O_WRONLY, mode); // a file its owner made write-only
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ELOOP') throw new Error(`${shown} is a symbolic link: output is never written through one`);
    throw new Error(
      `cannot open ${shown}: ${e.code === 'ENXIO' ? 'ENXIO (a FIFO no one reads, or a device that is not there)' : (e.code ?? e.message)}`,
    );
  }
  try {
    const why = unusableOutput(fstatSync(fd));
    if (why) throw new Error(`${shown} ${why}: output goes only to a regular file (or /dev/null)`);
    if (own) fchmodSync(fd, LOG_FILE_MODE);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** The path of `name` in a folder open as `dir`: reached through the descriptor, whatever the folder's path names now. */
export function inFolder(dir: number, name: string): string {
  return `/proc/self/fd/${dir}/${name}`;
}

/** At most this many symbolic links are followed on one path (as the kernel's 40). */
const MAX_LINKS = 40;

/**
 * Open a folder (O_DIRECTORY), walking its path one part at a time, so that a symbolic link is
 * followed only when it and the folder it sits in belong to root or to this process's user: no one
 * else can have planted it (a link another user made in /tmp neither, as the kernel's
 * protected_symlinks would have it). A link in a folder of another user (a service's own log folder, when the buddy is
 * root and the service runs as that user) is refused, as is a part that is not a folder. Each part is
 * opened through the descriptor of the one before, with O_NOFOLLOW, so that nothing can be swapped
 * for a link between the check and the open. Throws an Error naming the part.
 */
export function openFolder(path: string): number {
  const trusted = (uid: number): boolean => uid === 0 || uid === process.getuid?.();
  const parts = (p: string): string[] => p.split('/').filter((x) => x !== '' && x !== '.');
  let todo = parts(resolve(path));
  let at = '/';
  let fd = openSync('/', constants.O_RDONLY | constants.O_DIRECTORY);
  let links = 0;
  try {
    while (todo.length > 0) {
      const part = todo.shift()!;
      const here = inFolder(fd, part);
      const shown = at === '/' ? `/${part}` : `${at}/${part}`;
      let st: Stats;
      try {
        st = lstatSync(here);
      } catch (err) {
        throw new Error(`cannot reach ${shown}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (st.isSymbolicLink()) {
        const owner = fstatSync(fd).uid;
        if (!trusted(owner) || !trusted(st.uid)) {
          throw new Error(
            `${shown} is a symbolic link of user ${st.uid} in a folder of user ${owner}: output is never written through a link someone else may have planted`,
          );
        }
        if (++links > MAX_LINKS) throw new Error(`${shown}: too many symbolic links`);
        const target = readlinkSync(here);
        // The link read must be the one judged: one swapped in meanwhile (a folder writable by a group) has
        // another inode, or a changed ctime if the first was renamed away and back.
        const again = lstatSync(here, { throwIfNoEntry: false });
        if (!again || again.ino !== st.ino || again.dev !== st.dev || again.ctimeMs !== st.ctimeMs)
          throw new Error(`${shown} changed while it was read`);
        todo = [...parts(target), ...todo];
        if (target.startsWith('/')) {
          closeSync(fd);
          fd = openSync('/', constants.O_RDONLY | constants.O_DIRECTORY);
          at = '/';
        }
        continue;
      }
      let next: number;
      try {
        next = openSync(here, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(
          code === 'ENOTDIR'
            ? `${shown} is not a folder`
            : code === 'ELOOP'
              ? `${shown} became a symbolic link`
              : `cannot open ${shown}: ${code}`,
        );
      }
      closeSync(fd);
      fd = next;
      at = part === '..' ? dirname(at) : shown;
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Why a file found at an output path cannot take output (null: it can). Also for `upk check-config`. */
export function unusableOutput(st: Stats): string | null {
  if (st.isFile()) return st.nlink > 1 ? `has ${st.nlink} names (hard links)` : null;
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (st.isCharacterDevice() && st.rdev === devNull()) return null;
  if (st.isDirectory()) return 'is a directory';
  if (st.isFIFO()) return 'is a FIFO';
  if (st.isSocket()) return 'is a socket';
  return 'is a device';
}

let devNullRdev: number | null = null;
function devNull(): number {
  devNullRdev ??= statSync('/dev/null').rdev;
  return devNullRdev;
}

/** Set an existing regular file (a rotated log) to LOG_FILE_MODE; a missing file or a symbolic link is left alone. */
export function makeLogFilePrivate(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return;
    throw err;
  }
  try {
    if (fstatSync(fd).isFile()) fchmodSync(fd, LOG_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/** Does `path` (not followed) still name the file open as `fd`? False when it is gone or another. */
export function stillNamed(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd);
    const named = lstatSync(path);
    return open.ino === named.ino && open.dev === named.dev;
  } catch {
    return false;
  }
}
