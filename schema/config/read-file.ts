// Reading a config file as text: regular files only, at most CONFIG_FILE_MAX_BYTES, never blocking; every failure a plain message.
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';

/** `utf8`: the bytes were valid UTF-8 (else `text` holds U+FFFD where they were not). */
export type ReadResult = { text: string; utf8: boolean } | { missing: true; message: string } | { missing: false; message: string };

/** The largest configuration file read (4 MiB); a larger one is an error, not read at all. */
export const CONFIG_FILE_MAX_BYTES = 4 * 1024 * 1024;

const REASONS: Record<string, string> = {
  ENOENT: 'the file does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory, not a regular file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
};

/** O_NONBLOCK: a FIFO opens at once instead of waiting for a writer; O_NOCTTY: a terminal never becomes ours. */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/**
 * The text of `file`, if it is a regular file (a symbolic link to one is fine) of at most
 * CONFIG_FILE_MAX_BYTES. Anything else (a FIFO, a device, a directory, a socket) is refused without
 * reading it, so reading configuration never blocks and never grows without bound. The path is
 * looked at first, so that a device is not even opened; the descriptor decides, so that a file
 * swapped in between is refused as well.
 */
export function readText(file: string): ReadResult {
  let fd: number;
  try {
    const kind = notRegular(fs.statSync(file));
    if (kind !== null) return refused(kind);
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    return failed(err);
  }
  try {
    const stat = fs.fstatSync(fd);
    const kind = notRegular(stat);
    if (kind !== null) return refused(kind);
    if (stat.size > CONFIG_FILE_MAX_BYTES) return refused(tooLarge(`is ${sizeAboveLimit(stat.size)}`));
    const bytes = readAtMost(fd, CONFIG_FILE_MAX_BYTES + 1);
    if (bytes.length > CONFIG_FILE_MAX_BYTES) return refused(tooLarge('grew past that while being read'));
    return { text: bytes.toString('utf8'), utf8: isUtf8(bytes) };
  } catch (err) {
    return failed(err);
  } finally {
    fs.closeSync(fd);
  }
}

/** `it is a FIFO, not a regular file`, or null for a regular file. */
function notRegular(stat: fs.Stats): string | null {
  if (stat.isFile()) return null;
  const what = stat.isDirectory()
    ? 'a directory'
    : stat.isFIFO()
      ? 'a FIFO'
      : stat.isCharacterDevice()
        ? 'a character device'
        : stat.isBlockDevice()
          ? 'a block device'
          : stat.isSocket()
            ? 'a socket'
            : 'not a file';
  return `it is ${what}, not a regular file`;
}

function tooLarge(what: string): string {
  return `it ${what}; configuration files may be at most ${formatSize(CONFIG_FILE_MAX_BYTES)}`;
}

/** Up to `limit` bytes from the descriptor's start, fewer at end of file. */
function readAtMost(fd: number, limit: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, limit - total));
    const n = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    total += n;
  }
  return Buffer.concat(chunks, total);
}

/** `9.3 GiB`; in bytes when rounding would show the limit itself (`4194305 bytes`). */
function sizeAboveLimit(bytes: number): string {
  const shown = formatSize(bytes);
  return shown === formatSize(CONFIG_FILE_MAX_BYTES) ? `${bytes} bytes` : shown;
}

/** 512 B, 4 MiB, 9.3 GiB. */
function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${shown} ${units[unit]}`;
}

function refused(reason: string): ReadResult {
  return { missing: false, message: `cannot read the file: ${reason}` };
}

function failed(err: unknown): ReadResult {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const reason = REASONS[code] ?? (err instanceof Error ? err.message : String(err));
  return { missing: code === 'ENOENT', message: `cannot read the file: ${reason}` };
}
