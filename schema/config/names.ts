// Name rules: service ids (`name` or `package::name`), prerequisites, action and variable names, UUIDs.
import { SCRIPT } from '../run-dir.js';

/** Source of the name/package pattern (also used in the JSON Schema). Names become directory names. */
export const NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}';
export const NAME_RE = new RegExp(`^${NAME_PATTERN}$`);
export const SERVICE_ID_PATTERN = `^(?:${NAME_PATTERN}::)?${NAME_PATTERN}$`;
export const UUID_PATTERN = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';
export const UUID_RE = new RegExp(`^${UUID_PATTERN}$`);
export const PREREQUISITE_PATTERN = `^(?:uuid#${UUID_PATTERN}|(?:${NAME_PATTERN}:)?${NAME_PATTERN})$`;

export const ACTION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Names a custom action cannot take: the built-in actions and pipe scripts. */
export const RESERVED_ACTION_NAMES: readonly string[] = [SCRIPT.start, SCRIPT.stop, SCRIPT.reload, SCRIPT.pipeStdout, SCRIPT.pipeStderr];
export const VARIABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const NAME_RULE = '1 to 64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit';

/** True for `name` and `package::name` where both parts follow the name rule. */
export function isValidServiceId(id: string): boolean {
  return parseServiceId(id) !== null;
}

/** Split a service id into package and name; null when the id is not valid. */
export function parseServiceId(id: string): { package: string | null; name: string } | null {
  const parts = id.split('::');
  if (parts.length === 1 && NAME_RE.test(id)) return { package: null, name: id };
  if (parts.length === 2 && NAME_RE.test(parts[0] as string) && NAME_RE.test(parts[1] as string)) {
    return { package: parts[0] as string, name: parts[1] as string };
  }
  return null;
}

/** Why a service id is not valid (for messages). */
export function serviceIdProblem(id: string): string {
  return `invalid service id ${JSON.stringify(id)}: expected name or package::name, each ${NAME_RULE}`;
}

/** Check a Prerequisites entry: `name`, `package:name` or `uuid#<uuid>`. */
export function isValidPrerequisite(entry: string): boolean {
  if (entry.startsWith('uuid#')) return UUID_RE.test(entry.slice(5));
  const parts = entry.split(':');
  if (parts.length === 1) return NAME_RE.test(entry);
  return parts.length === 2 && NAME_RE.test(parts[0] as string) && NAME_RE.test(parts[1] as string);
}

/** Why a custom action name is not valid, or null when it is. */
export function actionNameProblem(name: string): string | null {
  if (!ACTION_NAME_RE.test(name)) {
    return `invalid action name ${JSON.stringify(name)}: expected 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit`;
  }
  if (/^\d+$/.test(name))
    return `invalid action name ${JSON.stringify(name)}: a name cannot be all digits (numbers address actions by position)`;
  if (RESERVED_ACTION_NAMES.includes(name.toLowerCase())) {
    return `invalid action name ${JSON.stringify(name)}: reserved for the built-in ${name.toLowerCase()} ${name.toLowerCase().startsWith('pipe') ? 'script' : 'action'}`;
  }
  return null;
}
