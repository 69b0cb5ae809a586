// A buddy's status as a fake buddy of a unit test answers it.
import type { BuddyStatus } from '../../schema/records.js';

/** The status of a service `id` in `state`; its process runs (pid 1000) when running unless `fields` say otherwise. */
export function buddyStatus(id: string, state: BuddyStatus['state'], fields: Partial<BuddyStatus> = {}): BuddyStatus {
  const now = new Date(0).toISOString();
  const pid = fields.pid !== undefined ? fields.pid : state === 'running' ? 1000 : null;
  return {
    service: id,
    uuid: `uuid-${id}`,
    state,
    desired: 'running',
    pid,
    pidStartTime: null,
    started: pid ? now : null,
    since: now,
    restarts: 0,
    failures: 0,
    lastExit: null,
    hold: null,
    buddy: 'b',
    buddyPid: 1,
    buddyStarted: now,
    seq: 0,
    pending: 0,
    pipes: { stdout: null, stderr: null },
    usage: null,
    ...fields,
  };
}
