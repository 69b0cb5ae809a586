// The client request `correlate` (upk correlate): what fails together, around one service's failures
// or fleet-wide (controller/correlation.ts reads and ranks; docs/correlation.md defines it).
import { ErrorCode, UpkError } from '../schema/errors.js';
import type { ClientMethods } from '../schema/client-protocol.js';
import { CORRELATION_FAILURES, CORRELATION_LIMIT } from '../schema/correlation-protocol.js';
import type { Handlers } from '../schema/rpc.js';
import { isoTime } from '../schema/records.js';
import type { AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import { READ_WAIT_MS, instancesNamed, prerequisitesOf, uuidsNamed } from './query-handlers.js';
import type { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';

export interface CorrelationParts {
  readonly services: ServiceTable;
  readonly store: Pick<AuditStore, 'correlations' | 'servicesNamed' | 'trends'>;
  collect(entries: ServiceEntry[] | undefined, maxWaitMs: number): Promise<void>;
}

export function correlationHandlers(p: CorrelationParts): Pick<Handlers<ClientMethods, ClientContext>, 'correlate'> {
  const { services, store } = p;
  return {
    correlate: async (q) => {
      const uuids = q.service === undefined ? [] : uuidsNamed(services, store, q.service);
      await p.collect(undefined, READ_WAIT_MS);
      // The range ends now at the latest: time to come holds no event, and would make every coincidence look rare.
      const now = Date.now();
      const until = Math.min(q.until === undefined ? now : Date.parse(q.until), now);
      if (until <= Date.parse(q.since)) throw new UpkError(ErrorCode.BAD_REQUEST, 'since must be before until and before now');
      const historyFrom = store.trends.historyStart();
      if (historyFrom !== null && until < historyFrom)
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `the range ends at ${isoTime(until)}, before the history kept begins (${isoTime(historyFrom)}): nothing to correlate`,
        );
      const ask = {
        windowMs: q.windowMs,
        since: Date.parse(q.since),
        until,
        failures: q.failures ?? CORRELATION_FAILURES,
        limit: q.limit ?? CORRELATION_LIMIT,
      };
      const all = store.correlations.subjects();
      if (q.service === undefined) return store.correlations.fleet(all, ask);
      // A service with Instances: its instances configured now, together, under its name.
      const group = instancesNamed(services, q.service);
      const entry = group.length > 1 ? group[0] : services.find(q.service);
      const prerequisites = entry ? prerequisitesOf(services, store, entry.config, entry.uuid).map((x) => x.service) : [];
      const id = group.length > 1 ? q.service : (entry?.config.id ?? q.service);
      return store.correlations.around({ id, uuids }, all, ask, new Set(prerequisites));
    },
  };
}
