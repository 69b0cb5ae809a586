// The files output is appended to (log files of upkeeper's own, a user's RedirectStdout/RedirectStderr
// file): how they are opened, and what they may be. Shared by the buddy, the controller (buddy.log) and
// `upk check-config`, which names a path the buddy would refuse.
import { closeSync, constants, fchmodSync, fstatSync, openSync, statSync, type Stats } from 'node:fs';

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
 * user's RedirectStdout/RedirectStderr file (keeps its owner's mode; a new one is created 0600). Never
 * through a symbolic link, never waiting (a FIFO), and only a regular file with one name, or /dev/null:
 * a service that can write to the file's folder must not make the buddy append elsewhere (a link
 * planted between a rotation's rename and the reopen), nor block it (a FIFO, a terminal). Opened
 * read-write where it can be, so that the caller can read its last byte through the descriptor.
 */
export function openOutputFile(path: string, own: boolean): number {
  const flags = constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const mode = own ? LOG_FILE_MODE : 0o600;
  let fd: number;
  try {
    try {
      fd = openSync(path, flags | constants.O_RDWR, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
      fd = openSync(path, flags | constants.O_WRONLY, mode); // a file its owner made write-only
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${path} is a symbolic link: output is never written through one`);
    throw err;
  }
  try {
    const why = unusableOutput(fstatSync(fd));
    if (why) throw new Error(`${path} ${why}: output goes only to a regular file (or /dev/null)`);
    if (own) fchmodSync(fd, LOG_FILE_MODE);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
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
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
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
