// Subscriptions to live events and statuses: the current statuses first, then (with sinceId) the
// stored events after it as fast as the client reads, then live ones (publisher.ts).
import type { ClientMethods } from '../schema/client-protocol.js';
import { pickMatch } from '../schema/event-filter.js';
import type { Handlers } from '../schema/rpc.js';
import type { AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import type { Problems } from './problems.js';
import { sendProblems, sendStatus, wantsService, type Publisher, type Subscriber } from './publisher.js';
import { checkTypes, uuidsOfNames } from './query-handlers.js';
import { serviceStatus } from './service-entry.js';
import type { ServiceTable } from './service-table.js';

export interface SubscriptionParts {
  readonly services: ServiceTable;
  readonly store: Pick<AuditStore, 'events' | 'servicesNamed'>;
  readonly publisher: Pick<Publisher, 'add' | 'begun' | 'remove'>;
  readonly problems: Pick<Problems, 'list'>;
}

export function subscriptionHandlers(p: SubscriptionParts): Pick<Handlers<ClientMethods, ClientContext>, 'subscribe' | 'unsubscribe'> {
  return {
    subscribe: (q, ctx) => {
      const named = uuidsOfNames(p.services, p.store, q.services);
      const uuids = named === null ? null : new Set(named);
      checkTypes(q.types);
      const lastId = p.store.events.lastId();
      const sub: Subscriber = {
        connection: ctx.connection,
        id: q.subscription,
        uuids,
        types: q.types ? new Set(q.types) : null,
        match: pickMatch(q),
        lastId: q.sinceId ?? lastId,
        live: q.sinceId === undefined,
        who: `${ctx.client} (pid ${ctx.pid ?? '?'})`,
        allowance: 0,
      };
      p.publisher.add(sub);
      const statuses = p.services
        .all()
        .filter((e) => wantsService(sub, e.uuid))
        .map(serviceStatus);
      for (const status of statuses) sendStatus(sub, status);
      sendProblems(sub, p.problems.list());
      p.publisher.begun(sub, statuses);
      return { subscription: q.subscription, lastId };
    },

    unsubscribe: (q, ctx) => {
      p.publisher.remove(ctx.connection, q.subscription);
      return null;
    },
  };
}
