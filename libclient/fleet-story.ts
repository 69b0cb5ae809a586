// `upk why NAME --fleet --host H`: the story of a service's last failure on one host, from the fleet's
// PostgreSQL database: the same facts as the host's own `why` (controller/failure-story.ts) as far as
// the exported tables hold them (docs/fleet.md, "Fleet queries"), with what fails with it (the fleet
// correlation of fleet-correlate.ts over the host's services, as the host computes it); not the status now.
import { CONFIG_CHANGE_WINDOW_MS, type ConfigChangeBefore, type FailureStory, type RunRecord } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { CORRELATION_WINDOW_MS, type Correlation } from '../schema/correlation-protocol.js';
import { strongestOf, whyAsk } from '../schema/correlation-rank.js';
import { detailOf } from '../schema/event-details.js';
import { USAGE_LOOKBACK_MS } from '../schema/past-status.js';
import { FLEET_CORRELATE_SERVICES_MAX, FleetCorrelations } from './fleet-correlate.js';
import type { FleetService } from './fleet-correlate-reads.js';
import type { FleetDatabase } from './fleet-database.js';
import {
  EVENT_COLUMNS,
  FLEET_FAILED_RUN,
  FLEET_RUN_ENDING_HEALTH,
  Params,
  serviceMatch,
  serviceMatchScan,
  toFleetEvent,
  type EventRow,
  type FleetEvent,
} from './fleet-sql.js';

/** Events told after the failure, at most (as on a host). */
const STORY_AFTER_EVENTS = 20;

/** The story as a host tells it, with the host, its events with their host; `status` is not known from the database (null). */
export type FleetFailureStory = Omit<FailureStory, 'failure' | 'after' | 'status'> & {
  host: string;
  failure:
    | (Omit<NonNullable<FailureStory['failure']>, 'event' | 'signals' | 'unwell'> & {
        event: FleetEvent | null;
        signals: FleetEvent[];
        unwell: FleetEvent | null;
      })
    | null;
  after: FleetEvent[];
  status: null;
};

interface RunRow {
  uid: string;
  started: Date;
  ended: Date | null;
  service_uuid: string;
  pid: number | null;
  cause: RunRecord['cause'];
  outcome: RunRecord['outcome'];
  code: number | null;
  signal: string | null;
}
const RUN_COLUMNS = 'uid, started, ended, service_uuid::text, pid, cause, outcome, code, signal';
const toMs = (d: Date): number => d.getTime();

/**
 * The story of `name`'s last failure on `host`; `windowMs`: the window of its correlation (default
 * CORRELATION_WINDOW_MS). A name the host never exported: NO_SUCH_SERVICE.
 */
export async function fleetStory(
  db: FleetDatabase,
  host: string,
  name: string,
  windowMs = CORRELATION_WINDOW_MS,
): Promise<FleetFailureStory> {
  if (name === 'all') throw new UpkError(ErrorCode.BAD_REQUEST, 'this takes one service, not all: name one');
  const p = new Params();
  const who = `host = ${p.add(host)} AND ${serviceMatch('service', name, p)}`;
  // The service's id and identities on that host, newest first, and its command as last configured.
  const ids = await db.query<{ service: string; uuid: string; first: Date | null }>(
    `SELECT service, service_uuid::text AS uuid, min(time) AS first FROM events WHERE ${who}
     GROUP BY service, service_uuid ORDER BY max(time) DESC`,
    p.values,
  );
  if (ids.length === 0)
    throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service named ${JSON.stringify(name)} on ${host} in the fleet database`, {
      details: { service: name, host },
    });
  const service = ids[0]!.service;
  if (ids.some((i) => i.service !== service))
    throw new UpkError(
      ErrorCode.AMBIGUOUS_SERVICE,
      `${name} is ambiguous on ${host}: ${[...new Set(ids.map((i) => i.service))].join(', ')}`,
      { details: { candidates: [...new Set(ids.map((i) => i.service))] } },
    );
  const uuids = ids.map((i) => i.uuid);
  const first = Math.min(...ids.map((i) => (i.first ? toMs(i.first) : Infinity)));
  const config = await db.query<{ command: string | null; prerequisites: string[] | null }>(
    `SELECT config->>'execStart' AS command, ARRAY(SELECT jsonb_array_elements_text(coalesce(config->'prerequisites', '[]'))) AS prerequisites
     FROM config_changes WHERE host = $1 AND service = $2 AND config IS NOT NULL ORDER BY time DESC LIMIT 1`,
    [host, service],
  );
  const story: FleetFailureStory = {
    host,
    service,
    uuid: uuids[0]!,
    command: config[0]?.command ?? null,
    historyFrom: Number.isFinite(first) ? new Date(first).toISOString() : null,
    failure: null,
    after: [],
    status: null,
  };
  const ofThem = 'host = $1 AND service_uuid = ANY($2::uuid[])';
  const failed = (
    await db.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE ${ofThem} AND ${FLEET_FAILED_RUN} AND ended IS NOT NULL ORDER BY ended DESC LIMIT 1`,
      [host, uuids],
    )
  )[0];
  const unwell = await unwellRun(db, host, uuids);
  const run = unwell && (!failed || toMs(unwell.run.ended!) >= toMs(failed.ended!)) ? unwell.run : failed;
  if (!run || run.ended === null) return story;
  const ended = toMs(run.ended);
  const event = await runEvent(db, host, run);
  const chain = await failureChain(db, host, uuids, run);
  const count = async (sql: string, params: unknown[]): Promise<number> => Number((await db.query<{ n: string }>(sql, params))[0]?.n ?? 0);
  const restarts = await count(`SELECT count(*) AS n FROM runs WHERE ${ofThem} AND cause = 'restart' AND started >= $3 AND started <= $4`, [
    host,
    uuids,
    new Date(ended - 3_600_000),
    run.ended,
  ]);
  const usage = (
    await db.query<{ time: Date; cpu_ms: number; wall_ms: number; rss_kb: number; rss_max_kb: number }>(
      `SELECT time, cpu_ms, wall_ms, rss_kb, rss_max_kb FROM samples WHERE ${ofThem} AND time <= $3 AND time >= $4 ORDER BY time DESC LIMIT 1`,
      [host, uuids, run.ended, new Date(Math.max(toMs(run.started), ended - USAGE_LOOKBACK_MS))],
    )
  )[0];
  const signals = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE ${ofThem} AND type = 'signal_sent' AND time >= $3 AND time <= $4
     ORDER BY time, buddy_instance, seq LIMIT 20`,
    [host, uuids, run.started, run.ended],
  );
  story.failure = {
    run: {
      started: run.started.toISOString(),
      ended: run.ended.toISOString(),
      cause: run.cause,
      outcome: run.outcome,
      pid: run.pid,
      code: run.code,
      signal: run.signal,
    },
    event,
    lastOutput: detailOf(event, 'exited').lastOutput ?? null,
    error: detailOf(event, 'spawn_failed').error ?? null,
    failuresInRow: chain.count,
    restartsHourBefore: restarts,
    usageBefore: usage
      ? {
          cpu: usage.wall_ms > 0 ? Math.round((usage.cpu_ms / usage.wall_ms) * 1000) / 10 : 0,
          rss: usage.rss_kb * 1024,
          rssMax: usage.rss_max_kb * 1024,
          at: usage.time.toISOString(),
        }
      : null,
    signals: signals.map(toFleetEvent),
    unwell: unwell?.run === run ? unwell.event : null,
    configChanged: await configChangedBefore(db, host, service, uuids, config[0]?.prerequisites ?? [], chain.firstAt),
    correlated: await strongestAround(db, { host, id: service, uuids }, ended, windowMs),
  };
  // What happened next: the events after the failure's, by time (then buddy and seq).
  const from = event ? [new Date(event.time), event.buddy, event.seq] : [run.ended, '00000000-0000-0000-0000-000000000000', 0];
  const after = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE ${ofThem} AND (time, buddy_instance, seq) > ($3, $4::uuid, $5)
     ORDER BY time, buddy_instance, seq LIMIT ${STORY_AFTER_EVENTS}`,
    [host, uuids, ...from],
  );
  story.after = after.map(toFleetEvent);
  return story;
}

/** The event that ended a run: its exited event, or for a start that could not execute, its spawn_failed (the run's uid names it). */
async function runEvent(db: FleetDatabase, host: string, run: RunRow): Promise<FleetEvent | null> {
  const [instance, seq] = run.uid.split(':');
  const rows =
    run.outcome === 'spawn_failed'
      ? await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE host = $1 AND buddy_instance = $2::uuid AND seq = $3`, [
          host,
          instance,
          seq,
        ])
      : await db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE host = $1 AND service_uuid = $2::uuid AND type = 'exited' AND pid IS NOT DISTINCT FROM $3
             AND time >= $4 AND time <= $5 ORDER BY time DESC LIMIT 1`,
          [host, run.service_uuid, run.pid, run.started, run.ended],
        );
  return rows[0] ? toFleetEvent(rows[0]) : null;
}

/** The last run its buddy ended for a failed health check or a limit passed, with that event (as on a host). */
async function unwellRun(db: FleetDatabase, host: string, uuids: string[]): Promise<{ run: RunRow; event: FleetEvent } | null> {
  const events = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE host = $1 AND service_uuid = ANY($2::uuid[]) AND ${FLEET_RUN_ENDING_HEALTH}
     ORDER BY time DESC, buddy_instance DESC, seq DESC LIMIT 5`,
    [host, uuids],
  );
  for (const row of events) {
    if (row.pid === null) continue;
    const run = await db.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE host = $1 AND service_uuid = $2::uuid AND pid = $3 AND started <= $4 AND ended IS NOT NULL
       ORDER BY started DESC LIMIT 1`,
      [host, row.service_uuid, row.pid, row.time],
    );
    if (run[0]) return { run: run[0], event: toFleetEvent(row) };
  }
  return null;
}

/**
 * The run of failures that `run` ends (controller/failure-story.ts, failureChain): the latest run
 * before it that neither failed nor was ended by its buddy for its health or a limit begins it (none:
 * the first run kept); counted in SQL. Of runs begun in one millisecond, the order is by uid, not by
 * the host's row id.
 */
async function failureChain(db: FleetDatabase, host: string, uuids: string[], run: RunRow): Promise<{ count: number; firstAt: number }> {
  const rows = await db.query<{ n: string; first_end: Date | null; first_start: Date | null }>(
    `WITH breaker AS (
       SELECT r.started, r.uid FROM runs r
       WHERE r.host = $1 AND r.service_uuid = ANY($2::uuid[]) AND (r.started, r.uid) < ($3, $4)
         AND NOT coalesce(r.outcome IN ('failed', 'spawn_failed'), false)
         AND NOT (r.outcome = 'stopped' AND r.ended IS NOT NULL AND EXISTS (
           SELECT 1 FROM events e WHERE e.host = r.host AND e.service_uuid = r.service_uuid AND e.time >= r.started AND e.time <= r.ended
             AND e.pid IS NOT DISTINCT FROM r.pid AND e.${FLEET_RUN_ENDING_HEALTH}))
       ORDER BY r.started DESC, r.uid DESC LIMIT 1
     ), chain AS (
       SELECT r.started, r.ended, r.uid FROM runs r
       WHERE r.host = $1 AND r.service_uuid = ANY($2::uuid[]) AND (r.started, r.uid) <= ($3, $4)
         AND (NOT EXISTS (SELECT 1 FROM breaker) OR (r.started, r.uid) > (SELECT started, uid FROM breaker))
     )
     SELECT count(*) AS n, (SELECT ended FROM chain ORDER BY started, uid LIMIT 1) AS first_end,
       (SELECT started FROM chain ORDER BY started, uid LIMIT 1) AS first_start FROM chain`,
    [host, uuids, run.started, run.uid],
  );
  const r = rows[0];
  const firstAt = r?.first_end ?? r?.first_start ?? run.ended ?? run.started;
  return { count: Math.max(1, Number(r?.n ?? 1)), firstAt: toMs(firstAt) };
}

/**
 * The last configuration change (`changed`) of the service, or of a prerequisite (a service its
 * configuration names in Prerequisites, matched by name on that host), within CONFIG_CHANGE_WINDOW_MS
 * up to `failedAt`.
 */
async function configChangedBefore(
  db: FleetDatabase,
  host: string,
  service: string,
  uuids: string[],
  prerequisites: string[],
  failedAt: number,
): Promise<ConfigChangeBefore | null> {
  const p = new Params();
  const own = `(service_uuid = ANY(${p.add(uuids)}::uuid[]) OR service = ${p.add(service)})`;
  const theirs = prerequisites.map((ref) => serviceMatchScan('service', ref, p));
  const rows = await db.query<{ time: Date; service: string; own: boolean; trigger: string; detail: string | null; keys: unknown }>(
    `SELECT time, service, ${own} AS own, trigger, detail, keys FROM config_changes
     WHERE host = ${p.add(host)} AND (${[own, ...theirs].join(' OR ')}) AND change = 'changed'
       AND time <= ${p.add(new Date(failedAt))} AND time >= ${p.add(new Date(failedAt - CONFIG_CHANGE_WINDOW_MS))}
     ORDER BY time DESC LIMIT 1`,
    p.values,
  );
  const row = rows[0];
  if (!row) return null;
  return {
    time: row.time.toISOString(),
    service: row.service,
    prerequisite: !row.own,
    trigger: row.trigger,
    keys: Array.isArray(row.keys) ? row.keys.filter((k): k is string => typeof k === 'string') : null,
    detail: row.detail,
    failureAt: new Date(failedAt).toISOString(),
  };
}

/**
 * What fails with it, as the host's `why` names it: the strongest significant correlation around the
 * service's last failures in the 7 days up to this one, against every other service of the host
 * (null, as when none is significant, for a host of more services than FLEET_CORRELATE_SERVICES_MAX).
 */
async function strongestAround(db: FleetDatabase, subject: FleetService, failedAt: number, windowMs: number): Promise<Correlation | null> {
  const correlations = new FleetCorrelations(db);
  let fleet;
  try {
    fleet = await correlations.fleet([subject.host]);
  } catch (err) {
    // More services on the host than one fleet correlation compares: the story without that line.
    const limit = err instanceof UpkError ? (err.details as { limit?: number } | undefined)?.limit : undefined;
    if (limit === FLEET_CORRELATE_SERVICES_MAX) return null;
    throw err;
  }
  const prerequisites = await correlations.prerequisites(subject, fleet.services);
  return strongestOf(await correlations.around(fleet, subject, fleet.services, whyAsk(failedAt, windowMs), prerequisites));
}
