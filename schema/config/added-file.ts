// The service files `upk add` writes: the first-line marker that tells them apart, and their text.

/** The first line of every file `upk add` writes starts with this; `upk remove --delete-file` deletes no other file. */
export const ADDED_FILE_MARKER = '// Written by upk add';

/** True when `text` is a file `upk add` wrote (its first line carries the marker). */
export function isAddedFile(text: string): boolean {
  return text.replace(/^\uFEFF/, '').startsWith(ADDED_FILE_MARKER);
}

/**
 * A service file holding one service with exactly `keys` (canonical key → value), commented: the
 * marker with the time it was written, and how to change or delete it.
 */
export function addedFileText(id: string, keys: Readonly<Record<string, unknown>>, now: Date): string {
  return [
    `${ADDED_FILE_MARKER} on ${now.toISOString()}; "upk remove ${id} --delete-file" deletes it.`,
    '// An upkeeper service file (docs/configuration.md): edit it as you like, then run "upk reload-config".',
    '{',
    `  ${JSON.stringify(id)}: {`,
    ...Object.entries(keys).map(([key, value]) => `    ${JSON.stringify(key)}: ${inline(value)},`),
    '  },',
    '}',
    '',
  ].join('\n');
}

/** A value as JSON on one line, with a space after each comma and colon. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`)
      .join(', ')} }`;
  }
  return JSON.stringify(value);
}
