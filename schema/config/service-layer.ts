// Checks the keys of one object of service keys (a service entry or ServiceDefaults) into a layer.
import type { ConfigIssue } from './types.js';
import type { JsonObjectNode, Pos } from './json-node.js';
import { CONTROLLER_KEYS, SERVICE_KEYS, findKey } from './keys.js';
import { type CheckContext, checkValue } from './check-value.js';
import { duplicateMessage } from './jsonc.js';
import { joinKey, makeIssue, unknownKeyMessage } from './issues.js';

/** One checked, normalised value and where it was written. */
export interface LayerEntry {
  value: unknown;
  /** Position of the value and of its key. */
  pos: Pos;
  keyPos: Pos;
  file: string;
}

/** Canonical key name → checked value. */
export type Layer = Map<string, LayerEntry>;

export interface CheckedLayer {
  layer: Layer;
  issues: ConfigIssue[];
  /** Canonical names of keys that were written but are not usable (wrong value, duplicate). */
  badKeys: Set<string>;
}

/**
 * Check every key of `node`. scope 'defaults' refuses the keys that identify one service (UUID, Name,
 * Package). Issues name keys as `<prefix>.<CanonicalName>`.
 */
export function checkServiceKeys(node: JsonObjectNode, prefix: string, ctx: CheckContext, scope: 'service' | 'defaults'): CheckedLayer {
  const layer: Layer = new Map();
  const issues: ConfigIssue[] = [];
  const badKeys = new Set<string>();
  const firstEntry = new Map<string, JsonObjectNode['entries'][number]>();
  const allowed = SERVICE_KEYS.filter((spec) => scope === 'service' || spec.serviceOnly !== true).map((spec) => spec.name);

  for (const entry of node.entries) {
    const spec = findKey(SERVICE_KEYS, entry.key);
    if (spec === undefined) {
      issues.push(makeIssue(ctx.file, entry.keyPos, joinKey(prefix, entry.key), unknownServiceKey(entry.key, allowed)));
      continue;
    }
    const key = joinKey(prefix, spec.name);
    if (scope === 'defaults' && spec.serviceOnly === true) {
      issues.push(makeIssue(ctx.file, entry.keyPos, key, `${spec.name} cannot be set in ServiceDefaults: it belongs to one service`));
      continue;
    }
    const first = firstEntry.get(spec.name);
    if (first !== undefined) {
      issues.push(makeIssue(ctx.file, entry.keyPos, key, duplicateMessage(entry.key, first)));
      badKeys.add(spec.name);
      continue;
    }
    firstEntry.set(spec.name, entry);
    const checked = checkValue(spec.type, entry.value, key, ctx);
    if (checked.issues.length > 0) {
      issues.push(...checked.issues);
      badKeys.add(spec.name);
    } else {
      layer.set(spec.name, { value: checked.value, pos: entry.value.pos, keyPos: entry.keyPos, file: ctx.file });
    }
  }
  for (const name of badKeys) layer.delete(name);
  return { layer, issues, badKeys };
}

function unknownServiceKey(written: string, allowed: readonly string[]): string {
  const controllerKey = findKey(CONTROLLER_KEYS, written);
  if (controllerKey !== undefined) {
    return `${controllerKey.name} is a controller key, not a service key: set it at the top level of upkeeper.conf`;
  }
  return unknownKeyMessage(written, allowed);
}

/** The layer as a plain object of canonical key → value (what ControllerConfig.serviceDefaults holds). */
export function layerToObject(layer: Layer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of layer) out[name] = entry.value;
  return out;
}
