// A file upk could not write, rename or delete, said in words: which file, what upk was doing, why.
import { ErrorCode, UpkError } from '../../libclient/index.js';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  ELOOP: 'too many symbolic links',
  EEXIST: 'it exists already',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * `upk: cannot write /x/web.conf: permission denied (EACCES)`: exit 2 (BAD_REQUEST) for a file that
 * exists already, exit 1 (INTERNAL: the system refused it) for the rest.
 */
export function fileError(doing: string, file: string, err: unknown): UpkError {
  if (err instanceof UpkError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === undefined ? String((err as Error).message ?? err) : `${REASONS[code] ?? (err as Error).message} (${code})`;
  return new UpkError(code === 'EEXIST' ? ErrorCode.BAD_REQUEST : ErrorCode.INTERNAL, `${doing} ${file}: ${reason}`);
}

/** Run a file operation; its failure as fileError says. */
export function onFile<T>(doing: string, file: string, op: () => T): T {
  try {
    return op();
  } catch (err) {
    throw fileError(doing, file, err);
  }
}
