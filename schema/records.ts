// The status and event records every part shares: buddy, controller, libclient, clients, database.

/**
 * Actual state of a service.
 * - `stopped`: not running, and not wanted running (or never started).
 * - `starting`: the service's process was just started and has not yet been up for MinUptime.
 * - `running`: the service's process is alive (and was up for MinUptime).
 * - `stopping`: a stop is in progress, or what an exited service left in its process group is being
 *   cleaned up before the next start.
 * - `backoff`: the service exited and waits for its restart (rate limit or runaway hold; see `hold`).
 * - `failed`: it failed `MaxConsecutiveFailures` times in a row; upkeeper gave up until a user starts it
 *   (a scheduled job: or until its next scheduled run).
 * - `scheduled`: a oneshot job with a Schedule, between runs: it waits for its next run (`nextRun`).
 * - `unknown`: the controller cannot reach the service's buddy.
 * - `waiting`: a start waits for the service's prerequisites to run (see `waitingFor`).
 */
export const SERVICE_STATES = [
  'stopped',
  'waiting',
  'starting',
  'running',
  'stopping',
  'backoff',
  'failed',
  'scheduled',
  'unknown',
] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

/** What the user wants: the service kept running, or kept stopped. */
export const DESIRED_STATES = ['running', 'stopped'] as const;
export type DesiredState = (typeof DESIRED_STATES)[number];

/** How the service's last run ended. `at` is an ISO 8601 UTC time. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
  at: string;
}

/** Why a wanted start is being held back, and until when (ISO 8601 UTC). */
export interface Hold {
  reason: 'ratelimit' | 'runaway';
  until: string;
}

/** What the buddy last measured of the service's whole process group (every SampleInterval seconds). */
export interface ResourceUsage {
  /** CPU time used over the last interval, in % of one core (200: two cores busy). */
  cpu: number;
  /** Resident memory of every process of the group, summed, in bytes. */
  rss: number;
  /** Processes in the group. */
  processes: number;
  /** When it was measured (ISO 8601 UTC). */
  at: string;
}

/** A service's health as its buddy's checks last saw it (HealthCheck, HealthFailLine). */
export interface HealthStatus {
  /** `starting` until the first check counts (or within HealthStartPeriod). */
  status: 'starting' | 'healthy' | 'unhealthy';
  /** Failed checks in a row. */
  failures: number;
  /** When the last check ended (ISO 8601 UTC), or null. */
  lastCheck: string | null;
  /** What the last failed check saw (an HTTP status, an error, the command's last output), or null. */
  lastOutput: string | null;
}

/** What a buddy knows and reports about its service (poll replies and the run directory's `status`). */
export interface BuddyStatus {
  service: string;
  uuid: string;
  state: Exclude<ServiceState, 'unknown' | 'waiting'>;
  desired: DesiredState;
  pid: number | null;
  /** Start time of `pid` in clock ticks after boot (/proc/PID/stat field 22): proves a pid is the same process. */
  pidStartTime: number | null;
  /** When `pid` started (ISO 8601 UTC), or null. */
  started: string | null;
  since: string;
  restarts: number;
  failures: number;
  lastExit: ExitInfo | null;
  hold: Hold | null;
  buddy: string;
  buddyPid: number;
  buddyStarted: string;
  /** Last sequence number the buddy gave out, and how many events wait for acknowledgement. */
  seq: number;
  pending: number;
  /** Pipe programs running (PipeStdoutScript, PipeStderrScript), for a next buddy to adopt. */
  pipes: { stdout: ProcessRef | null; stderr: ProcessRef | null };
  /** The last measurement while the service runs; null when it does not, or SampleInterval is 0. */
  usage: ResourceUsage | null;
  /** Its health while it runs with a HealthCheck or HealthFailLine; null otherwise (absent from an older buddy). */
  health?: HealthStatus | null;
  /** Type notify: what the service said through NOTIFY_SOCKET in its current run (absent otherwise). */
  notify?: NotifyState;
  /** Listen: the process that holds the service's sockets, and their addresses (absent without Listen, or before they are held). */
  listen?: { holder: number; addresses: string[] };
  /** When its Schedule runs it next, or CronRestart restarts it (ISO 8601 UTC); null while paused (absent without either). */
  nextRun?: string | null;
  /** An overlap restart: the run being replaced, while it lives (absent otherwise). */
  previous?: PreviousRunStatus;
}

/**
 * The run an overlap restart replaces (RestartMode overlap): it serves until the new run is ready,
 * then drains. `pid` null once it has exited (what it left in its group is still going).
 */
export interface PreviousRunStatus {
  pid: number | null;
  pidStartTime: number | null;
  /** ISO 8601 UTC. */
  started: string;
  /** It has had its drain signal (or ended by itself): it no longer stands in for a new run that fails. */
  draining: boolean;
}

/** What a Type notify service said (sd_notify): STATUS=, MAINPID=, STOPPING=1, and when WATCHDOG=1 last came. */
export interface NotifyState {
  status?: string;
  mainPid?: number;
  stopping?: boolean;
  /** ISO 8601 UTC. */
  watchdog?: string;
}

/** A process known by pid and start time in clock ticks after boot (proof against a reused pid). */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

/** A service's status as clients see it; every view (list, status, JSON) derives from this record. */
export interface ServiceStatus {
  /** The service id: `name`, or `package::name`. */
  name: string;
  package: string | null;
  uuid: string;
  state: ServiceState;
  desired: DesiredState;
  pid: number | null;
  buddyPid: number | null;
  /** When the service's current process started (ISO 8601 UTC): its uptime counts from here. */
  started: string | null;
  /** When the service entered `state` (ISO 8601 UTC). */
  since: string | null;
  /** Automatic restarts since the service was last started by a user (or its buddy started). */
  restarts: number;
  /** Failures in a row, counted towards MaxConsecutiveFailures. */
  failures: number;
  lastExit: ExitInfo | null;
  hold: Hold | null;
  /** In `waiting`: the prerequisites it waits for. */
  waitingFor: string[] | null;
  /** CPU and memory of the service's process group, as last measured by its buddy; null when not running. */
  usage: ResourceUsage | null;
  /** Its health as its buddy's checks last saw it; null without HealthCheck or HealthFailLine, or when not running. */
  health: HealthStatus | null;
  /** Its custom actions, by name, in configuration order (numbered 00, 01 … in that order). */
  actions: string[];
  description: string | null;
  /** Set while no buddy supervises it because none could be started (the controller keeps trying). */
  unsupervised: Unsupervised | null;
  /** What the service says of itself (Type notify: its last STATUS=), while it runs and its buddy is reachable. */
  statusText?: string;
  /** Listen: the process that holds its sockets, and their addresses, while they are held and its buddy is reachable. */
  listen?: { holder: number; addresses: string[] };
  /** When its Schedule runs it next, or CronRestart restarts it (ISO 8601 UTC), while that is active and its buddy reachable. */
  nextRun?: string;
  /** An overlap restart: the run being replaced, while it lives and its buddy is reachable (two runs exist). */
  previous?: PreviousRunStatus;
}

/** Why a service has no buddy: the last launch's error, since when launches fail, how many did. */
export interface Unsupervised {
  reason: string;
  /** ISO 8601 UTC: the first failed launch. */
  since: string;
  attempts: number;
}

/** Every event type, with what it means. docs/events.md is the long form of this table. */
export const EVENT_TYPES = {
  buddy_started: 'a buddy started supervising the service (pid: the buddy)',
  buddy_exiting: 'the buddy is exiting (detail.reason)',
  desired: 'the desired state changed (detail.desired, detail.cause; detail.by: controller when a controller sent the command)',
  spawned:
    'the service was started (pid: the new process, also its process group and session; detail.scheduled: by its Schedule or CronRestart; detail.replaces: an overlap restart, the pid of the run it replaces once ready)',
  adopted:
    "the buddy took over a process it did not start (pid; proven by its start time): a lost buddy's, or (detail.how) one found by PidFile or ProcessMatch, or left by a Type forking start",
  spawn_failed: 'the start script could not be executed (detail.error)',
  exited:
    "the service exited (code or signal; both null when unknown: detail.unknown for an adopted process); detail.uptimeMs, detail.requested, and for an exit nobody asked for detail.lastOutput: the last lines it wrote; detail.error: why a Type forking start failed although its start script exited 0; detail.outcome: a oneshot job run's success or failure; detail.replaced: the run an overlap restart replaced",
  stopping: 'a stop began (pid: the service)',
  signal_sent: 'the buddy sent a signal (signal; detail.group, detail.reason: stop, escalation, cleanup, drain or user)',
  stopped: 'the service and everything left in its process group are gone',
  backoff: 'a restart is scheduled after a delay (detail.reason, detail.delayMs, detail.until)',
  runaway: 'too many starts within UserRestartWindow: starts are held (detail.starts, detail.until)',
  failed: 'MaxConsecutiveFailures failures in a row: upkeeper gave up (detail.failures)',
  action_started: 'an action script started (detail.action; pid: the script)',
  action_finished: 'an action script ended (detail.action, code or signal, detail.durationMs)',
  reconfigured: 'the buddy re-read its settings after a configuration change',
  events_dropped: 'events were lost because the ring buffer overflowed (detail.count)',
  output_failed:
    "the buddy cannot write the service's output to its file: it is lost until output_resumed (detail.stream, detail.file, detail.error)",
  output_resumed: "the buddy writes the service's output to its file again (detail.stream, detail.file, detail.lostBytes)",
  ready:
    'the service said it is ready (detail.how: ReadyFd, notify, ReadyLine, probe or forking; detail.afterMs since its start): it is running',
  start_timeout:
    'the service was not ready within StartTimeout (detail.timeoutMs): a failure, it is stopped and the restart policy applies',
  timed_out: 'the service ran longer than MaxRunTime (detail.maxRunTimeMs): it is stopped (a oneshot job: the run failed)',
  unhealthy:
    'a health check failed HealthRetries times in a row (detail.check, detail.failures, detail.output: what it saw; detail.action: restart, stop or none)',
  healthy: 'a health check passes again after the service was unhealthy (detail.check)',
  limit_exceeded:
    'a limit was passed (detail.limit: MaxMemory, MaxCPU or ActivityTimeout; detail.value against detail.max; detail.action: restart, stop or none)',
  run_skipped:
    'a scheduled run of a oneshot job was skipped: the last run still ran (detail.due: its time; detail.overlap: ScheduleOverlap, queue when a run already waited)',
  cron_restart: 'CronRestart restarts the service (detail.due: the time it was due)',
  overlap_abandoned:
    "an overlap restart's new run failed before it was ready: the run it was to replace (pid) goes on serving, and is the service's run again",
} as const;
export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

/**
 * The buddy's record of its resource measurements over a stretch of at most a minute (one minute of
 * the clock). It travels with the events, exactly once like them, but is stored in `samples`: it is
 * never an event, and clients do not see it as one.
 */
export const USAGE_RECORD = 'usage';
export type UsageDetail = {
  /** The stretch measured: from the start of its first interval to its last measurement (ms since the epoch). */
  from: number;
  to: number;
  /** CPU time used by the group in the stretch. */
  cpuMs: number;
  /** Resident memory, summed over the group: mean over the stretch (weighted by time) and highest, in KiB. */
  rssKb: number;
  rssMaxKb: number;
  /** Most processes in the group at once. */
  processes: number;
  /** Measurements taken. */
  samples: number;
};

/** The last lines a service wrote before an exit nobody asked for (each stream: at most 10 lines, 2 KiB). */
export interface LastOutput {
  stdout: string;
  stderr: string;
}

/** What a buddy records: an event, or a usage record. */
export type BuddyRecordType = EventType | typeof USAGE_RECORD;

/** An event as a buddy records it: `seq` only grows within one buddy instance; `time` in ms since the epoch. */
export interface BuddyEvent {
  seq: number;
  time: number;
  type: BuddyRecordType;
  pid?: number | null;
  code?: number | null;
  signal?: string | null;
  detail?: Record<string, unknown> | null;
}

/** An event as stored in the audit database and given to clients. `time` is ISO 8601 UTC. */
export interface ServiceEvent {
  id: number;
  service: string;
  uuid: string;
  /** The buddy instance that recorded it (a UUID; each buddy process has its own). */
  buddy: string;
  seq: number;
  time: string;
  type: EventType;
  pid: number | null;
  code: number | null;
  signal: string | null;
  detail: Record<string, unknown> | null;
}

/** Outcome of an action script (stop, reload, a custom action). */
export interface ActionResult {
  action: string;
  pid: number | null;
  code: number | null;
  signal: string | null;
  durationMs: number;
  /** The last 64 KiB of what the script wrote to stdout and stderr (all of it also lands in log/actions). */
  output: string;
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
