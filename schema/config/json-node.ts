// The parsed JSON tree: every key and value keeps its 1-based line and column.

export interface Pos {
  line: number;
  column: number;
}

export interface JsonEntry {
  key: string;
  keyPos: Pos;
  value: JsonNode;
}

export type JsonNode =
  | { kind: 'object'; pos: Pos; entries: JsonEntry[] }
  | { kind: 'array'; pos: Pos; items: JsonNode[] }
  | { kind: 'string'; pos: Pos; value: string }
  | { kind: 'number'; pos: Pos; value: number }
  | { kind: 'boolean'; pos: Pos; value: boolean }
  | { kind: 'null'; pos: Pos };

export type JsonObjectNode = Extract<JsonNode, { kind: 'object' }>;

/** Position used for values that come from no file line (built-in defaults, values built in code). */
const NO_POS: Pos = Object.freeze({ line: 0, column: 0 });

/** The plain value of a node. For duplicate keys the first one wins (the loaders report duplicates). */
export function toValue(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      for (const entry of node.entries) {
        const folded = entry.key.toLowerCase();
        if (seen.has(folded)) continue;
        seen.add(folded);
        setOwn(out, entry.key, toValue(entry.value));
      }
      return out;
    }
    case 'array':
      return node.items.map(toValue);
    case 'null':
      return null;
    default:
      return node.value;
  }
}

/** A tree for a plain value (positions NO_POS); values that are not JSON become null. */
export function fromValue(value: unknown, pos: Pos = NO_POS): JsonNode {
  if (value === null || value === undefined) return { kind: 'null', pos };
  if (typeof value === 'string') return { kind: 'string', pos, value };
  if (typeof value === 'number') return { kind: 'number', pos, value };
  if (typeof value === 'boolean') return { kind: 'boolean', pos, value };
  if (Array.isArray(value)) return { kind: 'array', pos, items: value.map((v) => fromValue(v, pos)) };
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(([key, v]) => ({ key, keyPos: pos, value: fromValue(v, pos) }));
    return { kind: 'object', pos, entries };
  }
  return { kind: 'null', pos };
}

/** Set a property even when its name is `__proto__` (plain assignment would change the prototype). */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
