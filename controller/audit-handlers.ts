// The client requests that read the audit as an investigation tool: a service's configuration
// history (`config.history`) and the audit trail of client requests (`requests`). Both read only what
// the controller itself wrote: neither waits for a polling round.
import type { ClientMethods } from '../schema/client-protocol.js';
import type { Handlers } from '../schema/rpc.js';
import type { AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import { uuidsNamed, uuidsOfNames } from './query-handlers.js';
import type { ServiceTable } from './service-table.js';

/** Records one answer carries when the request names no `limit`. */
const DEFAULT_LIMIT = 100;

export type AuditQueryMethods = 'config.history' | 'requests';

export interface AuditParts {
  readonly services: ServiceTable;
  readonly store: Pick<AuditStore, 'configHistory' | 'requests' | 'servicesNamed'>;
}

export function auditHandlers(p: AuditParts): Pick<Handlers<ClientMethods, ClientContext>, AuditQueryMethods> {
  const { services, store } = p;
  return {
    'config.history': (q) =>
      store.configHistory.query(
        uuidsNamed(services, store, q.service),
        q.since === undefined ? null : Date.parse(q.since),
        q.limit ?? DEFAULT_LIMIT,
      ),

    requests: (q) =>
      store.requests.query({
        ...(q.since === undefined ? {} : { since: Date.parse(q.since) }),
        ...(q.until === undefined ? {} : { until: Date.parse(q.until) }),
        ...(q.client === undefined ? {} : { client: q.client }),
        uuids: uuidsOfNames(services, store, q.service === undefined ? [] : [q.service]),
        limit: q.limit ?? DEFAULT_LIMIT,
      }),
  };
}
