// A log line written straight to standard error (file descriptor 2): no stream, so a failing write
// (a full disk) throws here, where the caller counts it, and never comes back later as an 'error'
// event that an uncaughtException handler would log again, and again.
import { writeSync } from 'node:fs';

/** Write `line` whole to fd 2; throws the write's error (EAGAIN is tried a few times first). */
export function writeStderr(line: string): void {
  const data = Buffer.from(line);
  for (let off = 0, tries = 0; off < data.length; ) {
    try {
      off += writeSync(2, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 3) throw err;
    }
  }
}

/** A logger of lines to fd 2 that never throws: lines that cannot be written are counted, then told. */
export function stderrLines(prefix: () => string): (message: string) => void {
  let lost = 0;
  return (message) => {
    try {
      if (lost > 0) {
        writeStderr(`${prefix()} ${lost} log line(s) could not be written\n`);
        lost = 0;
      }
      writeStderr(`${prefix()} ${message}\n`);
    } catch {
      lost += 1;
    }
  };
}
