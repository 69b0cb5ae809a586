// The client request `timeline` (upk timeline): the events, configuration changes and client requests
// between two times, interleaved in time order (timeline.ts) and grouped into bursts.
import type { ClientMethods } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { isoTime } from '../schema/records.js';
import type { Handlers } from '../schema/rpc.js';
import { TIMELINE_BURST_GAP_MS, TIMELINE_DEFAULT } from '../schema/timeline-protocol.js';
import type { AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import { READ_WAIT_MS, uuidsNamed } from './query-handlers.js';
import type { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { burstsOf, mergeByTime } from './timeline.js';

export interface TimelineParts {
  readonly services: ServiceTable;
  readonly store: Pick<AuditStore, 'timeline' | 'servicesNamed'>;
  collect(entries: ServiceEntry[] | undefined, maxWaitMs: number): Promise<void>;
}

export function timelineHandlers(p: TimelineParts): Pick<Handlers<ClientMethods, ClientContext>, 'timeline'> {
  return {
    timeline: async (q) => {
      const uuids = q.services === undefined ? null : [...new Set(q.services.flatMap((s) => uuidsNamed(p.services, p.store, s)))];
      const since = Date.parse(q.since);
      const until = q.until === undefined ? Date.now() : Date.parse(q.until);
      if (until < since) throw new UpkError(ErrorCode.BAD_REQUEST, `since (${q.since}) is after until`);
      if (q.until === undefined || until > Date.now() - READ_WAIT_MS * 4) await p.collect(undefined, READ_WAIT_MS);
      const limit = q.limit ?? TIMELINE_DEFAULT;
      const { merged, truncated } = mergeByTime(p.store.timeline.lists({ since, until, uuids, limit }), limit);
      return {
        since: isoTime(since),
        until: isoTime(until),
        entries: merged.map((t) => t.entry),
        bursts: burstsOf(merged, TIMELINE_BURST_GAP_MS),
        gapMs: TIMELINE_BURST_GAP_MS,
        truncated,
      };
    },
  };
}
