// Script text: %(EXEC_*) placeholder substitution and the default `#!/bin/sh` line.

/** Each placeholder and the Exec key that supplies it. */
export const PLACEHOLDERS = [
  { placeholder: '%(EXEC_START)', key: 'ExecStart' },
  { placeholder: '%(EXEC_STOP)', key: 'ExecStop' },
  { placeholder: '%(EXEC_RELOAD)', key: 'ExecReload' },
] as const;

export type ExecKey = (typeof PLACEHOLDERS)[number]['key'];

const ANY_PLACEHOLDER = /%\(EXEC_[A-Za-z0-9_]*\)/gi;

/** Placeholders of the form %(EXEC_…) (any letter case) in `script` that are not one of the three known ones. */
export function unknownPlaceholders(script: string): string[] {
  const known: readonly string[] = PLACEHOLDERS.map((p) => p.placeholder);
  return [...new Set(script.match(ANY_PLACEHOLDER) ?? [])].filter((p) => !known.includes(p));
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
