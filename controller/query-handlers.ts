// The client requests that read: the services' statuses, the stored events, trends, a failure's
// story and a service's logs. None waits more than READ_WAIT_MS for a polling round: a buddy that
// does not answer, or a database that cannot be written, never holds up a read.
import type { ClientMethods } from '../schema/client-protocol.js';
import { prerequisiteGroups, type DependencyNode } from '../schema/config/dependencies.js';
import type { ServiceConfig } from '../schema/config/types.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { EVENT_TYPE_NAMES } from '../schema/records.js';
import { CORRELATION_WINDOW_MS } from '../schema/correlation-protocol.js';
import type { Handlers } from '../schema/rpc.js';
import type { AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import { strongestCorrelation } from './correlation.js';
import { eventPage } from './event-pages.js';
import { logTail } from './log-tail.js';
import { serviceStatus, type ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { statusAt } from '../schema/past-status.js';
import { storedConfig } from '../schema/stored-config.js';

/** How long a request that only reads waits for a polling round before it answers with what is known. */
export const READ_WAIT_MS = 500;

export type QueryMethods = 'list' | 'status' | 'events' | 'events.page' | 'trend' | 'why' | 'logs' | 'hooks' | 'status.at';

export interface QueryParts {
  readonly services: ServiceTable;
  readonly store: Pick<
    AuditStore,
    'events' | 'createdTimes' | 'trends' | 'serviceByUuid' | 'failureStory' | 'servicesNamed' | 'hookRuns' | 'pastStatus' | 'correlations'
  >;
  /** A polling round over these services (all when omitted), waited for at most `maxWaitMs`. */
  collect(entries: ServiceEntry[] | undefined, maxWaitMs: number): Promise<void>;
}

export function queryHandlers(p: QueryParts): Pick<Handlers<ClientMethods, ClientContext>, QueryMethods> {
  const { services, store } = p;
  const uuids = (name: string): string[] => uuidsNamed(services, store, name);
  const filter = (name: string | undefined): string[] | null => uuidsOfNames(services, store, name === undefined ? [] : [name]);
  return {
    list: async () => {
      await p.collect(undefined, READ_WAIT_MS);
      return services.all().map(serviceStatus);
    },

    status: async (q) => {
      const entries = q.services && q.services.length > 0 ? services.resolve(q.services) : services.all();
      await p.collect(entries, READ_WAIT_MS);
      return entries.map(serviceStatus);
    },

    events: async (q) => {
      const only = filter(q.service);
      checkTypes(q.types);
      await p.collect(undefined, READ_WAIT_MS);
      return store.events.query(q, only);
    },

    'events.page': async (q) => {
      const only = filter(q.service);
      checkTypes(q.types);
      if (q.cursor === undefined) await p.collect(undefined, READ_WAIT_MS);
      return eventPage(store, q, only);
    },

    trend: async (q) => {
      await p.collect(undefined, READ_WAIT_MS);
      const asked = q.services && !q.services.includes('all') ? q.services : services.all().map((e) => e.config.id);
      // A service with Instances: a series for each instance.
      const named = asked.flatMap((name) => {
        const group = instancesNamed(services, name);
        return group.length > 1 ? group.map((e) => e.config.id) : [name];
      });
      // Each id with every identity it has had (its current one first), as `events` and `why` read them.
      const picked = named.map((name) => {
        const entry = services.find(name);
        const all = uuids(entry?.config.id ?? name);
        return { id: entry?.config.id ?? name, uuids: entry ? [entry.uuid, ...all.filter((u) => u !== entry.uuid)] : all };
      });
      const created = store.createdTimes(picked.flatMap((x) => x.uuids));
      const history = store.trends.historyStart() ?? 0;
      return store.trends.trend(
        q,
        picked.map((x) => ({ ...x, knownFrom: Math.max(history, Math.min(...x.uuids.map((u) => created.get(u) ?? 0))) })),
      );
    },

    why: async (q) => {
      const all = uuids(q.service);
      const entry = services.find(q.service);
      if (entry) await p.collect([entry], READ_WAIT_MS);
      const stored = entry ? null : store.serviceByUuid(all[0]!);
      const config = entry?.config ?? (stored ? storedConfig(stored.config) : null);
      const prerequisites = config ? prerequisitesOf(services, store, config, entry?.uuid ?? null) : [];
      const story = store.failureStory({
        service: entry?.config.id ?? q.service,
        uuid: entry?.uuid ?? all[0]!,
        uuids: all,
        command: config?.execStart ?? null,
        status: entry ? serviceStatus(entry) : null,
        prerequisites,
      });
      // What fails with it: the strongest significant correlation up to this failure (docs/correlation.md).
      if (story.failure) {
        const subject = { id: story.service, uuids: all };
        const ids = new Set(prerequisites.map((x) => x.service));
        const at = Date.parse(story.failure.run.ended!);
        story.failure.correlated = strongestCorrelation(store.correlations, subject, at, q.windowMs ?? CORRELATION_WINDOW_MS, ids);
      }
      return story;
    },

    logs: (q) => {
      const found = q.service === 'all' ? [] : services.resolve([q.service]);
      if (found.length !== 1) throw new UpkError(ErrorCode.BAD_REQUEST, 'logs takes one service, not all');
      const entry = found[0]!;
      return logTail(entry.config.id, entry.config, entry.runDir, q.lines ?? 20);
    },

    hooks: (q) =>
      store.hookRuns.query({
        uuids: filter(q.service),
        ...(q.hook === undefined ? {} : { hook: q.hook }),
        ...(q.since === undefined ? {} : { since: Date.parse(q.since) }),
        limit: q.limit ?? 100,
      }),

    'status.at': async (q) => {
      await p.collect(undefined, READ_WAIT_MS); // (a time just past: its events may still be in the buddies)
      return statusAt(store.pastStatus, Date.parse(q.time), q.services);
    },
  };
}

/**
 * Every uuid a service name has had (configured or removed): names resolve as for every command;
 * the name of a service with Instances means every instance configured.
 */
export function uuidsNamed(services: ServiceTable, store: Pick<AuditStore, 'servicesNamed'>, name: string): string[] {
  if (name === 'all') throw new UpkError(ErrorCode.BAD_REQUEST, 'this takes one service, not all: name one');
  const group = instancesNamed(services, name);
  if (group.length > 1) return group.flatMap((e) => uuidsNamed(services, store, e.config.id));
  const configured = services.find(name);
  const found = store.servicesNamed(configured?.config.id ?? name);
  const ids = [...new Set(found.map((f) => f.id))];
  if (ids.length === 0)
    throw new UpkError(
      ErrorCode.NO_SUCH_SERVICE,
      `no service is known as ${JSON.stringify(name)} (neither now nor in the history kept; a renamed service is known by its new name)`,
    );
  if (ids.length > 1) {
    throw new UpkError(ErrorCode.AMBIGUOUS_SERVICE, `${name} is ambiguous: ${ids.join(', ')}`, { details: { candidates: ids } });
  }
  return found.map((f) => f.uuid);
}

/**
 * Every uuid of these names (each as uuidsNamed reads it), for a filter by service; null (no filter:
 * every service, the removed ones too) for no name or `all` among them.
 */
export function uuidsOfNames(
  services: ServiceTable,
  store: Pick<AuditStore, 'servicesNamed'>,
  names: readonly string[] | undefined,
): string[] | null {
  if (names === undefined || names.length === 0) return null;
  // Every name is checked, also beside `all`: `nosuch all` is an unknown name, not every service.
  const uuids = [...new Set(names.filter((n) => n !== 'all').flatMap((n) => uuidsNamed(services, store, n)))];
  return names.includes('all') ? null : uuids;
}

/** The configured services that provide a service's Prerequisites, each with every uuid its id had (for `why`, `correlate`). */
export function prerequisitesOf(
  services: ServiceTable,
  store: Pick<AuditStore, 'servicesNamed'>,
  config: ServiceConfig,
  uuid: string | null,
): { service: string; uuids: string[] }[] {
  const nodes: DependencyNode[] = services.all().map((e) => ({ ...e.config, uuid: e.uuid }));
  const self = nodes.find((n) => n.id === config.id) ?? { ...config, uuid };
  const ids = new Set(prerequisiteGroups(self, nodes).flatMap((g) => g.providers.map((p) => p.id)));
  return [...ids].map((id) => ({
    service: id,
    uuids: store
      .servicesNamed(id)
      .filter((f) => f.id === id)
      .map((f) => f.uuid),
  }));
}

/** The configured services a name means (an unknown name: none). */
export function instancesNamed(services: ServiceTable, name: string): ServiceEntry[] {
  try {
    return services.resolve([name]);
  } catch (err) {
    if ((err as UpkError).code === ErrorCode.NO_SUCH_SERVICE) return [];
    throw err;
  }
}

/** Event types a request names must exist (a typo would match nothing, silently). */
export function checkTypes(types: string[] | undefined): void {
  const unknown = (types ?? []).filter((t) => !(EVENT_TYPE_NAMES as string[]).includes(t));
  if (unknown.length > 0) {
    throw new UpkError(ErrorCode.BAD_REQUEST, `unknown event type ${unknown.join(', ')} (known: ${EVENT_TYPE_NAMES.join(', ')})`);
  }
}
