// GET /metrics: the services and the controller in Prometheus' text exposition format (0.0.4),
// written by hand: a few gauges and counters need no library (test/integration/http-metrics parses
// it back with a strict reader).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  STATE_DIR,
  SERVICE_STATES,
  upkeeperVersion,
  type Client,
  type ControllerStats,
  type ControllerStatus,
  type ServiceStatus,
} from '../../libclient/index.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;
interface Family {
  name: string;
  type: 'gauge' | 'counter' | 'histogram';
  help: string;
  /** `suffix`: a histogram's `_bucket`, `_sum` and `_count` after the family's name. */
  samples: { labels: Labels; value: number; suffix?: '_bucket' | '_sum' | '_count' }[];
}

/** A label value escaped as the format wants: backslash, double quote and line feed. */
const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  // Not a number: what a NaN or an infinity of the controller's becomes through JSON (null), or a
  // field another version leaves out. One bad line would fail the whole scrape: NaN says "unknown".
  if (typeof v !== 'number' || Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The families as text: HELP and TYPE before each family's samples; a family without samples is left out. */
export function exposition(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      out.push(`${f.name}${s.suffix ?? ''}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

const seconds = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso) / 1000);

/** What this machine says of the supervision's own processes and files (`upk serve` runs beside the controller). */
export interface HostFacts {
  /** Resident memory of a process in bytes, or null when it is gone (or not on this machine). */
  rss(pid: number): number | null;
  /** Bytes of the audit database with its write-ahead log, or null when it cannot be read. */
  databaseBytes(stateDir: string): number | null;
}

/** From /proc and the StateDir. */
export const LOCAL_HOST: HostFacts = {
  rss: (pid) => {
    try {
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
      return kb === undefined ? null : Number(kb) * 1024;
    } catch {
      return null;
    }
  },
  databaseBytes: (stateDir) => {
    const file = join(stateDir, STATE_DIR.database);
    let total = 0;
    for (const f of [file, `${file}-wal`]) {
      try {
        total += statSync(f).size;
      } catch {
        if (f === file) return null;
      }
    }
    return total;
  },
};

/** A controller reached through ssh (`upk serve --host`): its pids and files are another machine's, so none is measured here. */
export const REMOTE_HOST: HostFacts = { rss: () => null, databaseBytes: () => null };

/**
 * Whether the controller's histogram of polling rounds can be written as one: a count, a sum, and
 * buckets `[le, rounds]` of finite bounds, ascending, cumulative and at most the count (what a
 * Prometheus reader checks). Else it is left out whole: a histogram half right would mislead.
 */
function pollHistogram(stats: ControllerStats): boolean {
  const { pollBuckets: buckets, pollRounds: count, pollSeconds: sum } = stats;
  if (typeof count !== 'number' || !Number.isFinite(count) || typeof sum !== 'number' || !Array.isArray(buckets)) return false;
  let le = -Infinity;
  let rounds = 0;
  for (const b of buckets as unknown[]) {
    if (!Array.isArray(b) || typeof b[0] !== 'number' || typeof b[1] !== 'number') return false;
    if (!Number.isFinite(b[0]) || b[0] <= le || !(b[1] >= rounds) || b[1] > count) return false;
    le = b[0];
    rounds = b[1];
  }
  return true;
}

/** What /metrics shows, from the services' statuses and the controller's (or only `upkeeper_controller_up 0`). */
export function metricFamilies(
  services: ServiceStatus[] | null,
  controller: ControllerStatus | null,
  host: HostFacts = LOCAL_HOST,
): Family[] {
  const family = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, samples: [] });
  const up = family(
    'upkeeper_controller_up',
    'gauge',
    '1 when the controller answered this scrape, else 0 (and no other upkeeper metric).',
  );
  up.samples.push({ labels: {}, value: controller ? 1 : 0 });
  const build = family('upkeeper_build_info', 'gauge', 'The version of upkeeper serving the metrics, and of the controller.');
  build.samples.push({ labels: { version: upkeeperVersion(), controller_version: controller?.version ?? '' }, value: 1 });
  if (!controller || !services) return [up, build];

  const f = {
    start: family('upkeeper_controller_start_time_seconds', 'gauge', 'When the controller started, in seconds since the epoch.'),
    ready: family('upkeeper_controller_ready', 'gauge', '1 once the controller has attached every buddy at its start.'),
    services: family('upkeeper_services', 'gauge', 'Services configured.'),
    buddies: family('upkeeper_buddies', 'gauge', 'Buddies the controller is linked to.'),
    clients: family('upkeeper_clients_connected', 'gauge', 'Client connections open on the controller.'),
    maxClients: family('upkeeper_clients_max', 'gauge', 'The most client connections the controller serves at once.'),
    problems: family(
      'upkeeper_controller_problems',
      'gauge',
      "Problems with the controller's own work now (database, log, unsupervised services).",
    ),
    configIssues: family(
      'upkeeper_config_issues',
      'gauge',
      'Problems in the configuration files (the services they affect are not loaded).',
    ),
    svcUp: family('upkeeper_service_up', 'gauge', '1 when the service is running, else 0.'),
    wanted: family('upkeeper_service_desired_up', 'gauge', '1 when the service is wanted running, else 0.'),
    state: family('upkeeper_service_state', 'gauge', 'The service state: 1 for the state it is in, 0 for the others.'),
    healthy: family(
      'upkeeper_service_healthy',
      'gauge',
      '1 when the health checks pass, 0 when they fail or have not passed yet; only for services with checks, while they run.',
    ),
    restarts: family(
      'upkeeper_service_restarts_total',
      'counter',
      'Automatic restarts since the service was last started by a user (or its buddy started).',
    ),
    failures: family('upkeeper_service_consecutive_failures', 'gauge', 'Failures in a row, counted towards MaxConsecutiveFailures.'),
    exitCode: family('upkeeper_service_last_exit_code', 'gauge', 'The exit code of the last run that ended with one (not by a signal).'),
    started: family(
      'upkeeper_service_start_time_seconds',
      'gauge',
      "When the service's current process started, in seconds since the epoch.",
    ),
    cpu: family('upkeeper_service_cpu_ratio', 'gauge', 'CPU used by the service over its last measurement, in cores (1 = one core busy).'),
    memory: family(
      'upkeeper_service_memory_bytes',
      'gauge',
      'Resident memory of every process of the service, summed, at its last measurement.',
    ),
    processes: family('upkeeper_service_processes', 'gauge', 'Processes of the service at its last measurement.'),
    controllerRss: family('upkeeper_controller_memory_bytes', 'gauge', "The controller's resident memory."),
    buddyRss: family('upkeeper_buddy_memory_bytes', 'gauge', "Resident memory of the service's buddy (its supervisor)."),
    database: family('upkeeper_database_bytes', 'gauge', 'The audit database with its write-ahead log, in bytes.'),
    eventsStored: family(
      'upkeeper_events_stored_total',
      'counter',
      'Events stored in the audit database since the controller started (usage records not counted).',
    ),
    pollDuration: family(
      'upkeeper_poll_round_duration_seconds',
      'histogram',
      'Polling rounds since the controller started, by how long each took: polls of the buddies due, and the commit of what they held.',
    ),
    buddyPolls: family(
      'upkeeper_buddy_polls_total',
      'counter',
      'Polls of buddies since the controller started (a round polls each buddy due).',
    ),
    pending: family(
      'upkeeper_buddy_events_pending',
      'gauge',
      'Events and usage records the buddies hold that are not stored yet, as their last polls saw them.',
    ),
    fleetUp: family(
      'upkeeper_fleet_export_up',
      'gauge',
      'With a FleetDatabase: 1 while the export to it goes through, else 0 (docs/fleet.md#watching-the-export).',
    ),
    fleetRows: family(
      'upkeeper_fleet_export_rows_total',
      'counter',
      'Rows the fleet database took as new (runs: new or changed) since the controller started, by local table.',
    ),
    fleetBehind: family('upkeeper_fleet_export_behind_rows', 'gauge', 'Local rows not exported to the fleet database yet, by local table.'),
    fleetLast: family(
      'upkeeper_fleet_export_last_success_timestamp_seconds',
      'gauge',
      'When a batch last went into the fleet database, in seconds since the epoch.',
    ),
    cpuSeconds: family(
      'upkeeper_service_cpu_seconds_total',
      'counter',
      "CPU time of the service's processes in the usage records stored since the controller started (one a minute while it runs; none with SampleInterval 0).",
    ),
  };
  const controllerRss = host.rss(controller.pid);
  if (controllerRss !== null) f.controllerRss.samples.push({ labels: {}, value: controllerRss });
  const database = host.databaseBytes(controller.stateDir);
  if (database !== null) f.database.samples.push({ labels: {}, value: database });
  f.start.samples.push({ labels: {}, value: seconds(controller.startedAt) ?? 0 });
  f.ready.samples.push({ labels: {}, value: controller.ready ? 1 : 0 });
  f.services.samples.push({ labels: {}, value: controller.services });
  f.buddies.samples.push({ labels: {}, value: controller.buddies });
  f.clients.samples.push({ labels: {}, value: controller.clients });
  f.maxClients.samples.push({ labels: {}, value: controller.maxClients });
  f.problems.samples.push({ labels: {}, value: controller.problems.length });
  f.configIssues.samples.push({ labels: {}, value: controller.configIssues.length });
  // Absent from a controller before them: their series are left out. Of another shape (another
  // version's): each series that is not there, or not a number, is left out.
  const stats = typeof controller.stats === 'object' && controller.stats !== null ? controller.stats : undefined;
  const counted = (family: Family, value: unknown): void => {
    if (typeof value === 'number') family.samples.push({ labels: {}, value });
  };
  const cpuMs = typeof stats?.cpuMs === 'object' && stats.cpuMs !== null ? stats.cpuMs : undefined;
  if (stats) {
    counted(f.eventsStored, stats.eventsStored);
    counted(f.buddyPolls, stats.buddyPolls);
    counted(f.pending, stats.eventsPending);
    if (pollHistogram(stats)) {
      for (const [le, rounds] of stats.pollBuckets)
        f.pollDuration.samples.push({ labels: { le: String(le) }, value: rounds, suffix: '_bucket' });
      f.pollDuration.samples.push(
        { labels: { le: '+Inf' }, value: stats.pollRounds, suffix: '_bucket' },
        { labels: {}, value: stats.pollSeconds, suffix: '_sum' },
        { labels: {}, value: stats.pollRounds, suffix: '_count' },
      );
    }
  }
  const fleet = typeof controller.fleet === 'object' && controller.fleet !== null ? controller.fleet : undefined;
  if (fleet) {
    f.fleetUp.samples.push({ labels: {}, value: fleet.up ? 1 : 0 });
    for (const [table, n] of Object.entries(fleet.exported ?? {})) f.fleetRows.samples.push({ labels: { table }, value: n });
    for (const [table, n] of Object.entries(fleet.behind ?? {})) f.fleetBehind.samples.push({ labels: { table }, value: n });
    const last = seconds(fleet.lastExport ?? null);
    if (last !== null) f.fleetLast.samples.push({ labels: {}, value: last });
  }
  for (const s of services) {
    const service = { service: s.name };
    f.svcUp.samples.push({ labels: service, value: s.state === 'running' ? 1 : 0 });
    f.wanted.samples.push({ labels: service, value: s.desired === 'running' ? 1 : 0 });
    for (const state of SERVICE_STATES) f.state.samples.push({ labels: { ...service, state }, value: s.state === state ? 1 : 0 });
    if (s.health) f.healthy.samples.push({ labels: service, value: s.health.status === 'healthy' ? 1 : 0 });
    f.restarts.samples.push({ labels: service, value: s.restarts });
    f.failures.samples.push({ labels: service, value: s.failures });
    if (s.lastExit && s.lastExit.code !== null) f.exitCode.samples.push({ labels: service, value: s.lastExit.code });
    const started = seconds(s.started);
    if (started !== null) f.started.samples.push({ labels: service, value: started });
    const buddyRss = s.buddyPid === null ? null : host.rss(s.buddyPid);
    if (buddyRss !== null) f.buddyRss.samples.push({ labels: service, value: buddyRss });
    // 0 until its first usage record (and for good with SampleInterval 0): a counter that starts from 0 loses no increase
    if (cpuMs) {
      const ms = Object.hasOwn(cpuMs, s.uuid) ? cpuMs[s.uuid] : 0;
      if (typeof ms === 'number') f.cpuSeconds.samples.push({ labels: service, value: ms / 1000 });
    }
    if (s.usage) {
      f.cpu.samples.push({ labels: service, value: s.usage.cpu / 100 });
      f.memory.samples.push({ labels: service, value: s.usage.rss });
      f.processes.samples.push({ labels: service, value: s.usage.processes });
    }
  }
  return [up, build, ...Object.values(f)];
}

/** How long a scrape waits for the controller (Prometheus' default scrape timeout is 10 s). */
export const SCRAPE_TIMEOUT_MS = 3000;

/**
 * The text of one scrape. A controller that does not answer within SCRAPE_TIMEOUT_MS gives
 * `upkeeper_controller_up 0`, not an error: the scrape itself succeeds and says so.
 */
export async function scrape(client: () => Promise<Client>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SCRAPE_TIMEOUT_MS)));
  const asked = (async () => {
    const c = await client();
    const [controller, services] = await Promise.all([c.controllerStatus(), c.list()]);
    return { controller, services, facts: c.host === null ? LOCAL_HOST : REMOTE_HOST };
  })().catch(() => null);
  const got = await Promise.race([asked, late]);
  clearTimeout(timer);
  return exposition(got ? metricFamilies(got.services, got.controller, got.facts) : metricFamilies(null, null));
}
