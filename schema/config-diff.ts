// A service's configuration change as keys and values: which fields the user wrote, their key names,
// and each key's value before and after. One rule for the controller's history and the fleet's.
import type { ConfigValueChange } from './audit-protocol.js';
import { SERVICE_KEYS } from './config/index.js';

const GENERATED_FROM: Record<string, string> = { startScript: 'execStart', stopScript: 'execStop', reloadScript: 'execReload' };

/** ServiceConfig fields named otherwise than their key. */
const KEY_OF_FIELD: Record<string, string> = { serviceType: 'Type', environmentFiles: 'EnvironmentFile' };

/**
 * The ServiceConfig fields of a change that the user wrote: a script generated from an Exec* line
 * changes with it, and only the Exec* key is named.
 */
export function writtenFields(fields: readonly string[]): string[] {
  return fields.filter((k) => !(k in GENERATED_FROM && fields.includes(GENERATED_FROM[k]!)));
}

/** The configuration key of a ServiceConfig field (setUid → SetUID, execStart → ExecStart, serviceType → Type). */
export function configKeyName(field: string): string {
  return KEY_OF_FIELD[field] ?? SERVICE_KEYS.find((k) => k.name.toLowerCase() === field.toLowerCase())?.name ?? field;
}

/** Each key whose value differs between two configurations (where it was written does not count), by key name. */
export function valuesChanged(before: Record<string, unknown>, after: Record<string, unknown>): ConfigValueChange[] {
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (f) => f !== 'file' && f !== 'line' && JSON.stringify(before[f]) !== JSON.stringify(after[f]),
  );
  return writtenFields(fields)
    .map((f) => ({ key: configKeyName(f), before: before[f] ?? null, after: after[f] ?? null }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The values after a change of these keys, when the configuration before it is not known. */
export function valuesOf(keys: string[], after: Record<string, unknown>): ConfigValueChange[] {
  const fieldOf = new Map(Object.keys(after).map((f) => [configKeyName(f), f]));
  return [...keys].sort().map((key) => {
    const field = fieldOf.get(key);
    return { key, before: null, after: field === undefined ? null : (after[field] ?? null) };
  });
}
