// Script text: %(EXEC_*) and %(INSTANCE) substitution, the default `#!/bin/sh` line, and the quoting
// of a command given as a list (ExecStart's array form): the one place a script is generated from user strings.

/** Each placeholder and the Exec key that supplies it. */
export const PLACEHOLDERS = [
  { placeholder: '%(EXEC_START)', key: 'ExecStart' },
  { placeholder: '%(EXEC_STOP)', key: 'ExecStop' },
  { placeholder: '%(EXEC_RELOAD)', key: 'ExecReload' },
] as const;

export type ExecKey = (typeof PLACEHOLDERS)[number]['key'];

/** Replaced by the instance's number in a service with `Instances` (an error in any other). */
export const INSTANCE_PLACEHOLDER = '%(INSTANCE)';

/** Every placeholder a script may use, as written in messages. */
export const KNOWN_PLACEHOLDERS: readonly string[] = [...PLACEHOLDERS.map((p) => p.placeholder), INSTANCE_PLACEHOLDER];

const ANY_PLACEHOLDER = /%\((?:EXEC_[A-Za-z0-9_]*|INSTANCE)\)/gi;

/** Placeholders of the form %(EXEC_…) or %(INSTANCE) (any letter case) in `script` that are not one of the known ones. */
export function unknownPlaceholders(script: string): string[] {
  return [...new Set(script.match(ANY_PLACEHOLDER) ?? [])].filter((p) => !KNOWN_PLACEHOLDERS.includes(p));
}

/** The Exec keys whose placeholder occurs in `script`. */
export function usedExecKeys(script: string): ExecKey[] {
  return PLACEHOLDERS.filter((p) => script.includes(p.placeholder)).map((p) => p.key);
}

/** Replace every occurrence of every placeholder in one pass (a null value leaves its placeholder as written). */
export function substitute(script: string, values: Readonly<Record<ExecKey, string | null>>): string {
  return script.replace(/%\(EXEC_(?:START|STOP|RELOAD)\)/g, (placeholder) => {
    const key = PLACEHOLDERS.find((p) => p.placeholder === placeholder)?.key;
    const value = key === undefined ? null : values[key];
    return value ?? placeholder;
  });
}

/** Script text as run: `#!/bin/sh` and a newline are put in front of text that has no `#!` line. */
export function withShebang(script: string): string {
  return script.startsWith('#!') ? script : `#!/bin/sh\n${script}`;
}

/** Replace every %(INSTANCE) by the instance's number. */
export function substituteInstance(script: string, instance: number): string {
  return script.replaceAll(INSTANCE_PLACEHOLDER, String(instance));
}

/**
 * One word for /bin/sh that it takes literally, whatever it holds (spaces, quotes, `$`, backticks,
 * `;`, newlines): the text in single quotes, each `'` written as `'\''`.
 */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** An unquoted word /bin/sh takes literally: no expansion, globbing, redirection, separator or comment. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+/;

/**
 * The program and arguments that the default StartScript (`exec %(EXEC_START)`) would exec, when
 * /bin/sh would take every word of `execStart` literally: plain words, or single-quoted ones (as a
 * list ExecStart is written). The buddy then execs them itself, one exec fewer at every start. null
 * when the start script is another, or a word needs the shell (`$`, `*`, `|`, `~`, `"`, an assignment).
 */
export function directCommand(startScript: string, execStart: string | null): string[] | null {
  if (execStart === null || startScript !== `#!/bin/sh\nexec ${execStart}\n`) return null;
  const s = execStart;
  const words: string[] = [];
  for (let i = 0; i < s.length;) {
    if (s[i] === ' ') {
      i += 1;
      continue;
    }
    // NAME=value before a command is an assignment to the shell, not the program.
    if (words.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(s.slice(i))) return null;
    let word = '';
    while (i < s.length && s[i] !== ' ') {
      if (s[i] === "'") {
        const end = s.indexOf("'", i + 1);
        if (end < 0) return null;
        word += s.slice(i + 1, end);
        i = end + 1;
      } else if (s.startsWith("\\'", i)) {
        word += "'";
        i += 2;
      } else {
        const plain = PLAIN.exec(s.slice(i));
        if (plain === null) return null;
        word += plain[0];
        i += plain[0].length;
      }
    }
    words.push(word);
  }
  // (A first word `-…` would be an option of bash's exec, where /bin/sh is bash.)
  return words.length > 0 && words[0] !== '' && !words[0]!.startsWith('-') ? words : null;
}

/**
 * The default StopScript (`exec %(EXEC_STOP) $1`) with the default ExecStop `kill` sends SIGTERM to
 * the service's pid and nothing else: the buddy sends it itself (no /bin/sh, no kill(1) to start for
 * every stop). null when the stop script or its command is another.
 */
export function directStopSignal(stopScript: string, execStop: string | null): 'SIGTERM' | null {
  return execStop === 'kill' && stopScript === '#!/bin/sh\nexec kill $1\n' ? 'SIGTERM' : null;
}

/** A program and its arguments as one shell command line, each word quoted (`exec` it to run them as given). */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
