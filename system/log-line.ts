// A log line written straight to standard error (file descriptor 2): no stream, so a failing write
// (a full disk) throws here, where the caller counts it, and never comes back later as an 'error'
// event that an uncaughtException handler would log again, and again.
import { writeSync } from 'node:fs';

/** Write `line` whole to fd 2; throws the write's error (EAGAIN is tried a few times first). */
export function writeStderr(line: string): void {
  const data = Buffer.from(line);
  for (let off = 0, tries = 0; off < data.length;) {
    try {
      off += writeSync(2, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 3) throw err;
    }
  }
}

/**
 * Lines written with `write` so that writing never throws: a line that cannot be written is counted
 * and dropped; the first failure is told to `onTrouble` (with its error), and when lines can be
 * written again a line says how many were lost (`lostLine`) and `onTrouble(null)` is called.
 */
export function countingLines(
  write: (line: string) => void,
  lostLine: (lost: number) => string,
  onTrouble: (error: string | null) => void = () => undefined,
): (line: string) => void {
  let lost = 0;
  return (line) => {
    try {
      if (lost > 0) {
        write(lostLine(lost));
        lost = 0;
        onTrouble(null);
      }
      write(line);
    } catch (err) {
      if (lost === 0) onTrouble((err as Error).message);
      lost += 1;
    }
  };
}

/** A logger of lines to fd 2 that never throws (the buddy's). */
export function stderrLines(prefix: () => string): (message: string) => void {
  const line = countingLines(writeStderr, (lost) => `${prefix()} ${lost} log line(s) could not be written\n`);
  return (message) => line(`${prefix()} ${message}\n`);
}
