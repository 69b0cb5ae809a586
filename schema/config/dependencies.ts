// Prerequisites, Provides and Conflicts: which services a reference means, and dependency cycles.
// One definition for the configuration check and for the controller that orders starts.

/** What a reference is resolved against: a service's identity and what it provides. */
export interface DependencyNode {
  id: string;
  name: string;
  package: string | null;
  uuid: string | null;
  provides: readonly string[];
  prerequisites: readonly string[];
  conflicts: readonly string[];
  startPriority: number;
  /** An instance's service as the files name it (`web` for `web@2`); absent for other services. */
  instanceOf?: string;
}

/**
 * The services a reference means. `uuid#<uuid>`: the service with that UUID. `package:name`
 * (one colon, as the original): the service package::name. `name`: every service whose Provides
 * lists it, and the service whose name or id it is (a service provides its own name and id). A
 * service with Instances is each of its instances: they provide its name and id.
 */
export function providersOf<N extends DependencyNode>(ref: string, nodes: readonly N[]): N[] {
  if (ref.startsWith('uuid#')) {
    const uuid = ref.slice(5).toLowerCase();
    return nodes.filter((n) => n.uuid === uuid);
  }
  const colon = ref.indexOf(':');
  if (colon > 0 && ref[colon + 1] !== ':') {
    const id = `${ref.slice(0, colon)}::${ref.slice(colon + 1)}`;
    return nodes.filter((n) => n.id === id || n.instanceOf === id);
  }
  return nodes.filter(
    (n) => n.provides.includes(ref) || n.name === ref || n.id === ref || (n.instanceOf !== undefined && isNameOf(ref, n.instanceOf)),
  );
}

/** True when `ref` is the id `id`, or its name part. */
function isNameOf(ref: string, id: string): boolean {
  return id === ref || id.endsWith(`::${ref}`);
}

/** The services a service needs: one group per prerequisite, any of whose members satisfies it. */
export function prerequisiteGroups<N extends DependencyNode>(node: N, nodes: readonly N[]): { ref: string; providers: N[] }[] {
  return node.prerequisites.map((ref) => ({ ref, providers: providersOf(ref, nodes).filter((p) => p !== node) }));
}

/** Services that must not run beside this one (either side may say so). */
export function conflictsOf<N extends DependencyNode>(node: N, nodes: readonly N[]): N[] {
  const mine = node.conflicts.flatMap((ref) => providersOf(ref, nodes));
  const theirs = nodes.filter((other) => other.conflicts.some((ref) => providersOf(ref, nodes).includes(node)));
  return [...new Set([...mine, ...theirs])].filter((n) => n !== node);
}

/** A dependency cycle (ids, the first repeated at the end), or null. */
export function findCycle<N extends DependencyNode>(nodes: readonly N[]): string[] | null {
  const state = new Map<N, 'visiting' | 'done'>();
  const path: N[] = [];
  const visit = (n: N): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'visiting') return [...path.slice(path.indexOf(n)), n].map((x) => x.id);
    state.set(n, 'visiting');
    path.push(n);
    for (const g of prerequisiteGroups(n, nodes)) {
      for (const p of g.providers) {
        const cycle = visit(p);
        if (cycle) return cycle;
      }
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of nodes) {
    const cycle = visit(n);
    if (cycle) return cycle;
  }
  return null;
}
