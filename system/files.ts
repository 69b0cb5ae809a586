// Files other processes read: written whole (`NAME.new`, then rename), FIFOs (there is no mkfifo in Node), and log files kept 0600.
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

/** The mode of every log file upkeeper opens for itself (not a user's Redirect file). */
export const LOG_FILE_MODE = 0o600;

/** Write a file so that a reader (or an exec) never sees half of it. */
export function writeWhole(file: string, content: string, mode: number): void {
  try {
    writeFileSync(`${file}.new`, content, { mode });
    chmodSync(`${file}.new`, mode);
    renameSync(`${file}.new`, file);
  } catch (err) {
    rmSync(`${file}.new`, { force: true }); // no half-written file left behind (a full disk)
    throw err;
  }
}

/** Make `path` a FIFO (mode 0600) unless it is one; anything else there is replaced. */
export function ensureFifo(path: string): void {
  ensureFifos([path]);
}

/** Make each path a FIFO (mode 0600) unless it is one, with one mkfifo for all that are missing. */
export function ensureFifos(paths: string[]): void {
  const missing = paths.filter((path) => {
    try {
      if (statSync(path).isFIFO()) return false;
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return true;
  });
  // The coreutils program, run directly: no shell, no user string on a command line.
  if (missing.length > 0) execFileSync('mkfifo', ['-m', '600', ...missing], { stdio: 'ignore' });
}

/**
 * Open a log file of upkeeper's own for appending: created with LOG_FILE_MODE, and an existing file
 * set to it through the descriptor (one made 0666 earlier, or under another umask, keeps no wider mode).
 */
export function openLogFile(path: string): number {
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, LOG_FILE_MODE);
  try {
    fchmodSync(fd, LOG_FILE_MODE);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
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
