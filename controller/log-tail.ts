// The last lines of a service's output files (for `upk logs` and uptop): read from the end, never whole.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { LogTail } from '../schema/client-protocol.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { LOG, RUN_DIR } from '../schema/run-dir.js';

/** How much of a file is read at most for its tail. */
const TAIL_READ_BYTES = 256 * 1024;

/** The files a service's stdout and stderr land in: log/stdout and log/stderr, or its Redirect* files. */
export function outputFiles(config: ServiceConfig, runDir: string): { stdout: string; stderr: string } {
  return {
    stdout: config.redirectStdout ?? join(runDir, RUN_DIR.log, LOG.stdout),
    stderr: config.redirectStderr ?? join(runDir, RUN_DIR.log, LOG.stderr),
  };
}

/** The last `lines` lines of a file, then of its rotated predecessor (FILE.1) when the file, read whole, has fewer. */
export function tailLines(file: string, lines: number): string[] {
  const own = lastLines(file, lines);
  if (own.lines.length >= lines || !own.whole) return own.lines;
  return [...lastLines(`${file}.1`, lines - own.lines.length).lines, ...own.lines];
}

/** The last lines of a file, from at most its last TAIL_READ_BYTES; `whole` when that was all of it. */
function lastLines(file: string, lines: number): { lines: string[]; whole: boolean } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { lines: [], whole: true };
  }
  try {
    const size = fstatSync(fd).size;
    // One byte more than is kept: whether the read begins at the start of a line.
    const length = Math.min(size, TAIL_READ_BYTES + 1);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const whole = length === size;
    const text = buf.toString('utf8').replace(/\n$/, '');
    const all = text === '' ? [] : text.split('\n');
    // Not the whole file: the first piece is what follows the extra byte, a line only if that byte ended one.
    if (!whole) all.shift();
    return { lines: all.slice(-lines), whole };
  } finally {
    closeSync(fd);
  }
}

export function logTail(service: string, config: ServiceConfig, runDir: string, lines: number): LogTail {
  const files = outputFiles(config, runDir);
  return {
    service,
    stdout: { file: files.stdout, lines: tailLines(files.stdout, lines) },
    stderr: { file: files.stderr, lines: tailLines(files.stderr, lines) },
    timestamps: config.logTimestamps,
  };
}
