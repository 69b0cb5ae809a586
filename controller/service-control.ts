// What start, stop, restart and reload mean for services that depend on each other: a service's
// prerequisites start first (it shows `waiting` meanwhile), it never starts beside a conflicting
// service that runs, and several start at once in StartPriority waves; a stop leaves the services
// that need it running (and says so); a restart whose prerequisites are down starts them first; a
// reload after which the service's process is gone is no reload.
import type { CommandOutcome } from '../schema/buddy-protocol.js';
import type { ConfigChangeRecord } from '../schema/client-protocol.js';
import { conflictsOf, prerequisiteGroups, type DependencyNode } from '../schema/config/dependencies.js';
import type { ActionResult, DesiredState } from '../schema/records.js';
import type { Logger } from './log.js';
import type { ServiceEntry } from './service-entry.js';
import { byPriority, type ServiceTable } from './service-table.js';
import type { Clock } from '../system/clock.js';

export type StartOutcome = Pick<CommandOutcome, 'ok' | 'message'> & Partial<Pick<CommandOutcome, 'status'>>;
export type ReloadOutcome = { ok: boolean; message: string; action: ActionResult };

/** After a reload script, how long its service has to show it survived the reload. */
const RELOAD_SETTLE_MS = 250;
/** How long a reload waits for the polling round that tells whether its service survived. */
const RELOAD_CHECK_WAIT_MS = 500;

/** What service control needs of the controller. */
export interface ControlParts {
  readonly services: Pick<ServiceTable, 'all' | 'get'>;
  /** Make sure the service has a buddy: the bound one, else one attached (connect, else launch). */
  attach(entry: ServiceEntry): Promise<unknown>;
  /**
   * Send a command to the service's buddy (one is attached when none is bound); `resume`, a start that
   * reconciliation asks for (a scheduled job's schedule goes on, without a run now).
   */
  command(
    entry: ServiceEntry,
    command: 'start' | 'stop' | 'restart' | 'attach',
    options?: { resume?: boolean; overlap?: boolean },
  ): Promise<CommandOutcome>;
  /** Run the service's reload script (one is attached when none is bound). */
  reload(entry: ServiceEntry): Promise<ActionResult>;
  /** Record and publish a new desired state. */
  setDesired(entry: ServiceEntry, desired: DesiredState): void;
  publishStatus(entry: ServiceEntry): void;
  /** A polling round over these services (their statuses fresh after it); at most `maxWaitMs` when given. */
  collect(entries: ServiceEntry[], maxWaitMs?: number): Promise<void>;
  readonly clock: Clock;
  readonly log: Logger;
}

const isUp = (e: ServiceEntry): boolean => e.link?.open === true && e.status?.state === 'running';
const isActive = (e: ServiceEntry): boolean => e.status?.state === 'running' || e.status?.state === 'starting';

export class ServiceControl {
  private readonly inFlight = new Map<ServiceEntry, Promise<StartOutcome>>();

  constructor(private readonly parts: ControlParts) {}

  /**
   * Start a service once its prerequisites run; one start at a time per service (shared by all who ask).
   * `resume`: reconciliation's start, of what was wanted running (a scheduled job is not run now).
   */
  start(entry: ServiceEntry, chain: ReadonlySet<ServiceEntry> = new Set(), resume = false): Promise<StartOutcome> {
    let p = this.inFlight.get(entry);
    // A start that joins one on its way is a request too: wanted running again, after a stop asked between them.
    if (p) this.parts.setDesired(entry, 'running');
    if (!p) {
      p = this.run(entry, chain, resume)
        .then((o) => {
          if (!o.ok) this.parts.log.warn(`${entry.config.id}: not started: ${o.message}`);
          return o;
        })
        .finally(() => this.inFlight.delete(entry));
      this.inFlight.set(entry, p);
    }
    return p;
  }

  /** Start several: by StartPriority, higher first, each wave when the one before is up (or failed). */
  async startMany<T>(entries: ServiceEntry[], one: (e: ServiceEntry) => Promise<T>): Promise<T[]> {
    const results = new Map<ServiceEntry, T>();
    for (const wave of startWaves(entries)) {
      const done = await Promise.all(wave.map(one));
      wave.forEach((e, i) => results.set(e, done[i]!));
    }
    return entries.map((e) => results.get(e)!);
  }

  /**
   * Carry a command out on several services: starts and restarts in StartPriority waves (startMany),
   * stops, reloads and attaches all at once; `one` gets each service and every service the command names.
   */
  each<T>(
    command: 'start' | 'stop' | 'restart' | 'reload' | 'attach',
    entries: ServiceEntry[],
    one: (e: ServiceEntry, together: ReadonlySet<ServiceEntry>) => Promise<T>,
  ): Promise<T[]> {
    const together = new Set(entries);
    if (command === 'start' || command === 'restart') return this.startMany(entries, (e) => one(e, together));
    return Promise.all(entries.map((e) => one(e, together)));
  }

  /** After a configuration reload: the running services whose changes wait for their next start. */
  waitingForRestart(changes: readonly ConfigChangeRecord[]): ServiceEntry[] {
    return changes.filter((x) => x.restart).flatMap((x) => this.parts.services.get(x.service) ?? []);
  }

  /** The services whose start is due (reconciliation found they should run), in waves. */
  startDue(entries: ServiceEntry[]): Promise<StartOutcome[]> {
    return this.startMany(
      entries.filter((e) => e.startDue),
      (e) => this.start(e, new Set(), true),
    );
  }

  /**
   * Restart: by its buddy when its prerequisites run, else stopped and started with them first.
   * `overlap`: the buddy starts the new run beside the old one (refused where runs cannot overlap).
   */
  async restart(entry: ServiceEntry, overlap = false): Promise<StartOutcome> {
    this.parts.setDesired(entry, 'running'); // (a start sets it too, once no conflict refuses it)
    if (this.prerequisitesUp(entry)) return this.command(entry, 'restart', { overlap });
    await this.parts.command(entry, 'stop');
    return this.start(entry);
  }

  /**
   * Stop: the services that need it are left running, and named (docs/controller.md); those in
   * `together` (stopped by the same request) are not: they are stopping too.
   */
  async stop(entry: ServiceEntry, together: ReadonlySet<ServiceEntry> = new Set()): Promise<StartOutcome> {
    this.parts.setDesired(entry, 'stopped');
    const outcome = await this.command(entry, 'stop');
    const dependents = this.dependentsUp(entry)
      .filter((d) => !together.has(d))
      .map((d) => d.config.id);
    const note = dependents.length > 0 ? `; still running, and needing it: ${dependents.join(', ')}` : '';
    return { ...outcome, message: outcome.message + note };
  }

  /**
   * Attach: the buddy takes over the service's process that runs without upkeeper (PidFile,
   * ProcessMatch); wanted running once it has. Prerequisites are not started: it already runs.
   */
  async attach(entry: ServiceEntry): Promise<StartOutcome> {
    await this.parts.attach(entry);
    const outcome = await this.command(entry, 'attach');
    if (outcome.ok) this.parts.setDesired(entry, 'running');
    return outcome;
  }

  /** Run the reload script; a reload after which the service's process is gone (a HUP it does not handle) is no reload. */
  async reload(entry: ServiceEntry): Promise<ReloadOutcome> {
    const { clock } = this.parts;
    await this.parts.attach(entry); // (a buddy attached now tells the pid the reload goes to)
    const before = entry.status?.pid ? { pid: entry.status.pid, at: clock.now() } : null;
    const action = await this.parts.reload(entry);
    const done = { ok: action.code === 0, message: describeAction(action), action };
    if (!before || action.code !== 0) return done;
    await clock.sleep(RELOAD_SETTLE_MS);
    await this.parts.collect([entry], RELOAD_CHECK_WAIT_MS);
    const after = entry.status;
    if (!after || after.pid === before.pid) return done;
    const exit = after.lastExit && Date.parse(after.lastExit.at) >= before.at ? after.lastExit : null;
    const how = exit ? (exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`) : 'exited';
    const next = after.pid ? `, and was started again (pid ${after.pid})` : '';
    return {
      ok: false,
      message: `${done.message}, but the process ${before.pid} ${how}${next}: it does not reload on this signal`,
      action,
    };
  }

  /** True when every prerequisite of the service has a provider that runs. */
  private prerequisitesUp(entry: ServiceEntry): boolean {
    return this.groups(entry).every((g) => g.providers.some(isUp));
  }

  /** Running services that need this one (for the message of a stop: they are not stopped). */
  private dependentsUp(entry: ServiceEntry): ServiceEntry[] {
    const graph = this.graph();
    return this.parts.services
      .all()
      .filter((d) => d !== entry && isUp(d) && this.groups(d, graph).some((g) => g.providers.includes(entry)));
  }

  private async command(
    entry: ServiceEntry,
    command: 'start' | 'stop' | 'restart' | 'attach',
    options: { resume?: boolean; overlap?: boolean } = {},
  ): Promise<CommandOutcome> {
    const outcome = await this.parts.command(entry, command, options);
    entry.observe(outcome.status);
    this.parts.publishStatus(entry);
    return outcome;
  }

  private async run(entry: ServiceEntry, chain: ReadonlySet<ServiceEntry>, resume: boolean): Promise<StartOutcome> {
    const blocking = this.conflicts(entry).filter(isActive);
    if (blocking.length > 0) {
      return { ok: false, message: `conflicts with ${blocking.map((e) => e.config.id).join(', ')}, which runs: stop it first` };
    }
    // Wanted running from here on, even while it waits for its prerequisites (a refused start is not).
    this.parts.setDesired(entry, 'running');
    const missing = this.groups(entry).filter((g) => !g.providers.some(isUp));
    if (missing.length > 0) {
      entry.waitFor(missing.map((g) => g.ref));
      this.parts.publishStatus(entry);
      try {
        for (const g of missing) {
          const provider = pickProvider(g.providers);
          if (!provider) return { ok: false, message: `prerequisite ${g.ref} means no configured service` };
          if (chain.has(provider)) return { ok: false, message: `dependency cycle through ${provider.config.id}` };
          const outcome = await this.start(provider, new Set([...chain, entry]));
          if (!outcome.ok) return { ok: false, message: `prerequisite ${g.ref} (${provider.config.id}) did not start: ${outcome.message}` };
        }
      } finally {
        entry.waitFor(null);
        this.parts.publishStatus(entry);
      }
    }
    // Once a buddy is there the start is no longer due, whatever its outcome (a start that cannot
    // reach a buddy stays due: the buddy attached later starts it).
    await this.parts.attach(entry);
    // A stop asked meanwhile (the same client's next request, say) was sent first: sending this start
    // now would leave the service running while it is wanted stopped. The last request counts.
    if (entry.desired !== 'running') return { ok: false, message: 'not started: a stop came after this start' };
    entry.startSent();
    return this.command(entry, 'start', { resume });
  }

  /** The services as the dependency rules see them, and the way back to each entry. */
  private graph(): Graph {
    const nodeOf = new Map(this.parts.services.all().map((e): [ServiceEntry, DependencyNode] => [e, { ...e.config, uuid: e.uuid }]));
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

/** Services grouped in start waves: by StartPriority, higher first (each wave in the order given). */
export function startWaves<E extends { config: { startPriority: number } }>(entries: readonly E[]): E[][] {
  const levels = [...new Set(entries.map((e) => e.config.startPriority))].sort((a, b) => b - a);
  return levels.map((level) => entries.filter((e) => e.config.startPriority === level));
}

/** Which provider to start for a prerequisite: one already wanted running, else the highest StartPriority. */
function pickProvider(providers: ServiceEntry[]): ServiceEntry | undefined {
  const wanted = providers.filter((p) => p.desired === 'running');
  const pool = wanted.length > 0 ? wanted : providers;
  return [...pool].sort(byPriority)[0];
}

/** An action script's outcome in words (`reload done`, `hello exited with code 2`). */
export function describeAction(a: ActionResult): string {
  if (a.signal) return `${a.action} killed by ${a.signal}`;
  return a.code === 0 ? `${a.action} done` : `${a.action} exited with code ${a.code ?? 'unknown'}`;
}
