// The controller's services in memory (service-entry.ts): the table that finds them by id, uuid and name.
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { ServiceEntry } from './service-entry.js';
import { servicesNamed } from '../schema/service-names.js';

/** StartPriority (higher first), then id: the order services start in. */
export const byPriority = (a: ServiceEntry, b: ServiceEntry): number =>
  b.config.startPriority - a.config.startPriority || a.config.id.localeCompare(b.config.id);

export class ServiceTable {
  private readonly byId = new Map<string, ServiceEntry>();

  set(entry: ServiceEntry): void {
    this.byId.set(entry.config.id, entry);
  }

  /** Take a service out of the table: it is removed (a newer entry under its id stays). */
  remove(entry: ServiceEntry): void {
    if (this.byId.get(entry.config.id) === entry) this.byId.delete(entry.config.id);
    entry.removed();
  }

  get(id: string): ServiceEntry | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Every service, in no particular order (polling needs none). */
  values(): ServiceEntry[] {
    return [...this.byId.values()];
  }

  /** The service of a uuid, if it is configured. */
  byUuid(uuid: string): ServiceEntry | undefined {
    for (const e of this.byId.values()) if (e.uuid === uuid) return e;
    return undefined;
  }

  /** Every service, by StartPriority (higher first), then id. */
  all(): ServiceEntry[] {
    return [...this.byId.values()].sort(byPriority);
  }

  /**
   * The services named: ids (`name` or `package::name`), a bare name when only one package has it,
   * the id or bare name of a service with Instances (every instance), or `all`. Unknown and ambiguous
   * names throw, naming what was meant.
   */
  resolve(names: string[]): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    // Every name is checked, also beside `all`: `nosuch all` is an unknown name, not every service.
    for (const name of names) {
      if (name === 'all') continue;
      for (const entry of this.named(name)) if (!out.includes(entry)) out.push(entry);
    }
    return names.includes('all') ? this.all() : out;
  }

  /** Like resolveOne, but undefined for an unknown name (an ambiguous one still throws). */
  find(name: string): ServiceEntry | undefined {
    try {
      return this.resolveOne(name);
    } catch (err) {
      if ((err as UpkError).code === ErrorCode.NO_SUCH_SERVICE) return undefined;
      throw err;
    }
  }

  /** One service: a name that means several instances is ambiguous here (name one of them). */
  resolveOne(name: string): ServiceEntry {
    const found = this.named(name);
    if (found.length === 1) return found[0]!;
    const ids = found.map((e) => e.config.id);
    throw new UpkError(ErrorCode.AMBIGUOUS_SERVICE, `${name} has ${ids.length} instances (${ids.join(', ')}): name one of them`, {
      details: { candidates: ids },
    });
  }

  /** What a name means: one service, or every instance of a service with Instances (in order). */
  private named(name: string): ServiceEntry[] {
    return servicesNamed([...this.byId.values()], name, (e) => e.config);
  }
}
