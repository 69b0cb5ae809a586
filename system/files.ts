// Files other processes read: written whole (`NAME.new`, then rename), and FIFOs (there is no mkfifo in Node).
import { execFileSync } from 'node:child_process';
import { chmodSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

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
