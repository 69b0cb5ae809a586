// The client request `timeline` (upk timeline): the events, configuration changes and client requests
// between two times, interleaved in time order (timeline.ts) and grouped into bursts, a page at a time
// (`after` the cursor a truncated answer gave as `next`).
import type { ClientMethods } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { isoTime } from '../schema/records.js';
import type { Handlers } from '../schema/rpc.js';
import {
  TIMELINE_BURST_GAP_MS,
  TIMELINE_DEFAULT,
  timelineCursor,
  timelinePosition,
  type TimelineResult,
} from '../schema/timeline-protocol.js';
import type { AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import { READ_WAIT_MS, uuidsOfNames } from './query-handlers.js';
import type { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { burstsOf, mergeByTime, positionOf } from '../schema/timeline-merge.js';

export interface TimelineParts {
  readonly services: ServiceTable;
  readonly store: Pick<AuditStore, 'timeline' | 'servicesNamed'>;
  collect(entries: ServiceEntry[] | undefined, maxWaitMs: number): Promise<void>;
}

export function timelineHandlers(p: TimelineParts): Pick<Handlers<ClientMethods, ClientContext>, 'timeline'> {
  return {
    timeline: async (q) => {
      const uuids = uuidsOfNames(p.services, p.store, q.services);
      const since = Date.parse(q.since);
      const until = q.until === undefined ? Date.now() : Date.parse(q.until);
      if (until < since) throw new UpkError(ErrorCode.BAD_REQUEST, `since (${q.since}) is after until`);
      const after = q.after === undefined ? null : timelinePosition(q.after);
      if (after && (after.ms < since || after.ms > until))
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `after (${q.after}) is not from ${isoTime(since)} to ${isoTime(until)}: page with the since and until of the answer that gave it`,
        );
      if (q.until === undefined || until > Date.now() - READ_WAIT_MS * 4) await p.collect(undefined, READ_WAIT_MS);
      const limit = q.limit ?? TIMELINE_DEFAULT;
      const { merged, truncated } = mergeByTime(p.store.timeline.lists({ since, until, uuids, limit, after }), limit);
      const result: TimelineResult = {
        since: isoTime(since),
        until: isoTime(until),
        entries: merged.map((t) => t.entry),
        bursts: burstsOf(merged, TIMELINE_BURST_GAP_MS),
        gapMs: TIMELINE_BURST_GAP_MS,
        truncated,
      };
      const last = merged.at(-1);
      if (truncated && last) result.next = timelineCursor(positionOf(last));
      return result;
    },
  };
}
