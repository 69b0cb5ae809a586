// The bearer token of `upk serve`'s TCP listener: kept in StateDir (0600), compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ErrorCode, UpkError } from '../../libclient/index.js';

/** The token in `file`, made (32 random bytes, base64url) when there is none. A file others may read is refused. */
export function loadOrCreateToken(file: string): string {
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const token = randomBytes(32).toString('base64url');
      writeSync(fd, `${token}\n`);
      return token;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(file, err);
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put there opens at once (and is refused below) instead of waiting for a writer forever
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw fileError(file, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UpkError(ErrorCode.BAD_REQUEST, `${file}: the token file is not a regular file`);
    if ((st.mode & 0o077) !== 0)
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `${file}: the token file may be read by others (mode ${(st.mode & 0o777).toString(8)}); it must be 600`,
      );
    if (typeof process.getuid === 'function' && st.uid !== process.getuid())
      throw new UpkError(ErrorCode.BAD_REQUEST, `${file}: the token file belongs to another user (uid ${st.uid})`);
    const token = readFileSync(fd, 'utf8').trim();
    if (!/^[A-Za-z0-9_-]{16,}$/.test(token))
      throw new UpkError(ErrorCode.BAD_REQUEST, `${file}: not a token (expected at least 16 characters of A-Z a-z 0-9 _ -)`);
    return token;
  } finally {
    closeSync(fd);
  }
}

function fileError(file: string, err: unknown): UpkError {
  return new UpkError(ErrorCode.BAD_REQUEST, `${file}: cannot use the token file: ${(err as Error).message}`);
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** True when an Authorization header carries `token` as a bearer token; the same time whatever it holds. */
export function bearerMatches(token: string, header: string | undefined): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? '';
  // Digests of equal length: timingSafeEqual needs them, and the time does not tell the length either.
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}
