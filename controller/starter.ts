// Starts services in dependency order: a service's prerequisites first (it shows `waiting` meanwhile),
// never beside a conflicting service that runs, and several at once in StartPriority waves.
import type { CommandOutcome } from '../schema/buddy-protocol.js';
import { conflictsOf, prerequisiteGroups, type DependencyNode } from '../schema/config/dependencies.js';
import type { Controller } from './controller.js';
import { byPriority, type ServiceEntry } from './service-table.js';

export type StartOutcome = Pick<CommandOutcome, 'ok' | 'message'> & Partial<Pick<CommandOutcome, 'status'>>;

const isUp = (e: ServiceEntry): boolean => e.link?.open === true && e.status?.state === 'running';
const isActive = (e: ServiceEntry): boolean => e.status?.state === 'running' || e.status?.state === 'starting';

export class Starter {
  private readonly inFlight = new Map<ServiceEntry, Promise<StartOutcome>>();

  constructor(private readonly c: Controller) {}

  /** Start a service once its prerequisites run; one start at a time per service (shared by all who ask). */
  start(entry: ServiceEntry, chain: ReadonlySet<ServiceEntry> = new Set()): Promise<StartOutcome> {
    let p = this.inFlight.get(entry);
    if (!p) {
      p = this.run(entry, chain)
        .then((o) => {
          if (!o.ok) this.c.log.warn(`${entry.config.id}: not started: ${o.message}`);
          return o;
        })
        .finally(() => this.inFlight.delete(entry));
      this.inFlight.set(entry, p);
    }
    return p;
  }

  /** Start several: by StartPriority, higher first, each wave when the one before is up (or failed). */
  async startMany<T>(entries: ServiceEntry[], one: (e: ServiceEntry) => Promise<T>): Promise<T[]> {
    const levels = [...new Set(entries.map((e) => e.config.startPriority))].sort((a, b) => b - a);
    const results = new Map<ServiceEntry, T>();
    for (const level of levels) {
      const wave = entries.filter((e) => e.config.startPriority === level);
      const done = await Promise.all(wave.map(one));
      wave.forEach((e, i) => results.set(e, done[i]!));
    }
    return entries.map((e) => results.get(e)!);
  }

  /** True when every prerequisite of the service has a provider that runs. */
  prerequisitesUp(entry: ServiceEntry): boolean {
    return this.groups(entry).every((g) => g.providers.some(isUp));
  }

  /** Running services that need this one (for the message of a stop: they are not stopped). */
  dependentsUp(entry: ServiceEntry): ServiceEntry[] {
    const graph = this.graph();
    return this.c.services.all().filter((d) => d !== entry && isUp(d) && this.groups(d, graph).some((g) => g.providers.includes(entry)));
  }

  private async run(entry: ServiceEntry, chain: ReadonlySet<ServiceEntry>): Promise<StartOutcome> {
    const blocking = this.conflicts(entry).filter(isActive);
    if (blocking.length > 0) {
      return { ok: false, message: `conflicts with ${blocking.map((e) => e.config.id).join(', ')}, which runs: stop it first` };
    }
    // Wanted running from here on, even while it waits for its prerequisites (a refused start is not).
    this.c.setDesired(entry, 'running');
    const missing = this.groups(entry).filter((g) => !g.providers.some(isUp));
    if (missing.length > 0) {
      entry.waiting = missing.map((g) => g.ref);
      this.c.publishStatus(entry);
      try {
        for (const g of missing) {
          const provider = pickProvider(g.providers);
          if (!provider) return { ok: false, message: `prerequisite ${g.ref} means no configured service` };
          if (chain.has(provider)) return { ok: false, message: `dependency cycle through ${provider.config.id}` };
          const outcome = await this.start(provider, new Set([...chain, entry]));
          if (!outcome.ok) return { ok: false, message: `prerequisite ${g.ref} (${provider.config.id}) did not start: ${outcome.message}` };
        }
      } finally {
        entry.waiting = null;
        this.c.publishStatus(entry);
      }
    }
    const link = await this.c.buddies.linkOf(entry);
    entry.wantsStart = false;
    const outcome = await link.call('start', { controller: true });
    entry.status = outcome.status;
    this.c.publishStatus(entry);
    return outcome;
  }

  /** The services as the dependency rules see them, and the way back to each entry. */
  private graph(): Graph {
    const nodeOf = new Map(this.c.services.all().map((e): [ServiceEntry, DependencyNode] => [e, { ...e.config, uuid: e.uuid }]));
    return { nodes: [...nodeOf.values()], nodeOf, entryOf: new Map([...nodeOf].map(([e, n]) => [n, e])) };
  }

  private groups(entry: ServiceEntry, graph = this.graph()): { ref: string; providers: ServiceEntry[] }[] {
    return prerequisiteGroups(graph.nodeOf.get(entry)!, graph.nodes).map((g) => ({
      ref: g.ref,
      providers: g.providers.map((n) => graph.entryOf.get(n)!),
    }));
  }

  private conflicts(entry: ServiceEntry): ServiceEntry[] {
    const graph = this.graph();
    return conflictsOf(graph.nodeOf.get(entry)!, graph.nodes).map((n) => graph.entryOf.get(n)!);
  }
}

interface Graph {
  nodes: DependencyNode[];
  nodeOf: Map<ServiceEntry, DependencyNode>;
  entryOf: Map<DependencyNode, ServiceEntry>;
}

/** Which provider to start for a prerequisite: one already wanted running, else the highest StartPriority. */
function pickProvider(providers: ServiceEntry[]): ServiceEntry | undefined {
  const wanted = providers.filter((p) => p.desired === 'running');
  const pool = wanted.length > 0 ? wanted : providers;
  return [...pool].sort(byPriority)[0];
}
