// Environment files (EnvironmentFile, as systemd reads them): KEY=VALUE lines, comments, quotes. Read by the
// buddy at every start of its service and checked by `upk check-config`. Never puts a value in a message:
// such a file often holds secrets.
import { readText } from './config/read-file.js';
import { VARIABLE_NAME_RE } from './config/names.js';

/** One environment file of a service: an absolute path; `optional` (written with a leading `-`): a missing file is fine. */
export interface EnvFileRef {
  path: string;
  optional: boolean;
}

/** A problem on one line of an environment file (1-based); the message never quotes a value. */
export interface EnvFileProblem {
  line: number;
  message: string;
}

export interface ParsedEnvFile {
  /** Variables in file order; a name set twice keeps its last value. */
  vars: Map<string, string>;
  problems: EnvFileProblem[];
}

/** `-/etc/web.env` → optional `/etc/web.env` (the path not yet resolved). */
export function splitOptional(written: string): { path: string; optional: boolean } {
  return written.startsWith('-') ? { path: written.slice(1), optional: true } : { path: written, optional: false };
}

const SPACE = new Set([' ', '\t']);
/** What a backslash makes literal inside double quotes (as in a POSIX shell and systemd); any other stays a backslash and the character. */
const DOUBLE_QUOTE_ESCAPES = new Set(['"', '\\', '$', '`']);

/**
 * Parse the text of an environment file, as systemd's EnvironmentFile= does:
 * - blank lines and lines whose first non-blank character is `#` or `;` are ignored;
 * - `KEY=VALUE`, with blanks allowed around `=` and a leading `export ` tolerated; KEY is letters, digits
 *   and `_`, not starting with a digit;
 * - an unquoted VALUE runs to the end of the line, leading and trailing blanks dropped; a backslash keeps
 *   the next character as it is (`\\` is one backslash), and at the end of a line continues the value on
 *   the next line;
 * - `'…'` keeps everything verbatim, newlines included; `"…"` too, except that `\"`, `\\`, `\$` and `` \` ``
 *   stand for the character and a backslash before a newline joins the lines; any other backslash is kept;
 * - quoted and unquoted pieces written next to each other are joined (`"a"'b'c` is `abc`).
 * Unlike systemd, which skips them silently, a line without `=`, a bad name, text after a closing quote
 * followed by a blank, and a quote never closed are problems, each with its line.
 */
export function parseEnvFile(text: string, utf8 = true): ParsedEnvFile {
  const vars = new Map<string, string>();
  const problems: EnvFileProblem[] = [];
  const src = text.replace(/\r\n/g, '\n');
  let i = 0;
  let line = 1;
  const at = (k: number): string => src[k] ?? '';

  while (i < src.length) {
    const start = line;
    // Blanks before the key.
    while (SPACE.has(at(i))) i++;
    const c = at(i);
    if (c === '\n') {
      i++;
      line++;
      continue;
    }
    if (c === '#' || c === ';') {
      while (i < src.length && at(i) !== '\n') i++;
      continue;
    }
    if (c === '') break;
    // The key: up to `=` on this line.
    const eq = src.indexOf('=', i);
    const eol = src.indexOf('\n', i);
    const lineEnd = eol < 0 ? src.length : eol;
    if (eq < 0 || eq > lineEnd) {
      problems.push({ line: start, message: 'expected KEY=VALUE (or a # comment)' });
      i = lineEnd;
      continue;
    }
    let key = src.slice(i, eq).trim();
    if (/^export[ \t]/.test(key)) key = key.slice('export'.length).trim();
    i = eq + 1;
    const value = readValue();
    if ('problem' in value) {
      problems.push({ line: value.line, message: value.problem });
      // Go on at the next line after the problem (an unclosed quote ran to the end).
      continue;
    }
    if (!VARIABLE_NAME_RE.test(key)) {
      problems.push({ line: start, message: 'invalid variable name: expected letters, digits and "_", not starting with a digit' });
      continue;
    }
    if (value.value.includes('\0')) {
      problems.push({ line: start, message: 'the value holds a NUL byte, which no environment variable can' });
      continue;
    }
    // Read as UTF-8: a byte that is not became U+FFFD, and the service would get other bytes than written.
    if (!utf8 && value.value.includes('\uFFFD')) {
      problems.push({ line: start, message: 'the value is not valid UTF-8 (environment files are read as UTF-8)' });
      continue;
    }
    vars.delete(key); // a later assignment moves to the end, as it would in the environment
    vars.set(key, value.value);
  }
  return { vars, problems };

  /** The value after `=`, up to the end of its (last) line; leaves `i` after the newline. */
  function readValue(): { value: string } | { problem: string; line: number } {
    let out = '';
    /** How much of `out` is kept: trailing blanks of an unquoted piece are dropped. */
    let keep = 0;
    let plain = false;
    while (SPACE.has(at(i))) i++;
    for (;;) {
      const c = at(i);
      if (c === '' || c === '\n') {
        if (c === '\n') {
          i++;
          line++;
        }
        return { value: out.slice(0, keep) };
      }
      if ((c === "'" || c === '"') && !plain) {
        const opened = line;
        i++;
        for (;;) {
          const q = at(i);
          if (q === '')
            return { problem: `the ${c === "'" ? 'single' : 'double'} quote opened on this line is never closed`, line: opened };
          i++;
          if (q === c) break;
          if (q === '\n') line++;
          if (c === '"' && q === '\\') {
            const next = at(i);
            if (next === '\n') {
              line++;
              i++;
              continue;
            }
            if (DOUBLE_QUOTE_ESCAPES.has(next)) {
              out += next;
              i++;
              continue;
            }
          }
          out += q;
        }
        keep = out.length;
        // After a closing quote: the end of the line, another piece right after it, or blanks to the end.
        let j = i;
        while (SPACE.has(at(j))) j++;
        if (j > i && at(j) !== '\n' && at(j) !== '') {
          const bad = line;
          while (i < src.length && at(i) !== '\n') i++;
          return { problem: 'text after the closing quote and a blank: quote the whole value', line: bad };
        }
        i = j;
        continue;
      }
      plain = true;
      i++;
      if (c === '\\') {
        const next = at(i);
        if (next !== '') i++;
        if (next === '\n') line++;
        else out += next;
        keep = out.length;
        continue;
      }
      out += c;
      if (!SPACE.has(c)) keep = out.length;
    }
  }
}

/**
 * The variables of several environment files, later files winning. An error names the file and, for
 * a line, the line: `/etc/web.env:3: expected KEY=VALUE (or a # comment)`. A missing optional file
 * is skipped; any other problem (a missing file, one that cannot be read, a bad line) is an error.
 */
export function readEnvFiles(refs: readonly EnvFileRef[]): { vars: Record<string, string> } | { error: string } {
  const vars: Record<string, string> = {};
  for (const ref of refs) {
    const read = readText(ref.path);
    if (!('text' in read)) {
      if (read.missing && ref.optional) continue;
      return { error: `environment file ${ref.path}: ${read.message}` };
    }
    const parsed = parseEnvFile(read.text, read.utf8);
    const first = parsed.problems[0];
    if (first) return { error: `environment file ${ref.path}:${first.line}: ${first.message}` };
    for (const [k, v] of parsed.vars) {
      delete vars[k];
      vars[k] = v;
    }
  }
  return { vars };
}
