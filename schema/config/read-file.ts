// Reading a config file as text, with every failure turned into a plain message.
import fs from 'node:fs';

export type ReadResult = { text: string } | { missing: true; message: string } | { missing: false; message: string };

const REASONS: Record<string, string> = {
  ENOENT: 'the file does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
};

export function readText(file: string): ReadResult {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return { text };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason = REASONS[code] ?? (err instanceof Error ? err.message : String(err));
    return { missing: code === 'ENOENT', message: `cannot read the file: ${reason}` };
  }
}
