// Resolved configuration records: what the loader produces from the files, after layering and checks.
import type { EnvFileRef } from '../env-file.js';
import type { EventType } from '../records.js';
import type { UnwellAction } from '../event-details.js';

/** One problem in a configuration file. Printed as `file:line: key: message`. */
export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem is not tied to a line (a missing file, say). */
  line: number;
  column: number;
  /** Path of the key in the file, e.g. `web.KillTimeout` or `ServiceDefaults.UserRateLimit`; '' for the file. */
  key: string;
  message: string;
}

export interface ControllerConfig {
  /** Absolute path of the file read, or null when the default file does not exist (defaults apply). */
  file: string | null;
  stateDir: string;
  svcConfigPath: string;
  svcRunPath: string;
  /** Seconds. */
  buddyPollingInterval: number;
  /** Absolute path of the buddy program (a JavaScript file run with node), or null for the bundled one. */
  upkBuddyPath: string | null;
  /** Seconds: events, runs, samples and audit rows older than this are deleted; null: kept for ever. */
  auditMaxAge: number | null;
  /** At most this many rows in each of events, client_requests and config_changes; null: no limit. */
  auditMaxRecords: number | null;
  /** Raw ServiceDefaults object, already checked; layered under every service. */
  serviceDefaults: Record<string, unknown>;
  /** OnEvent: the hooks the controller runs for chosen events. */
  onEvent: EventHook[];
  /** FleetDatabase: the PostgreSQL URL the audit is exported to (no password), or null. */
  fleetDatabase: string | null;
  /** FleetHost: this host's name in the fleet database, or null for the machine's host name. */
  fleetHost: string | null;
}

/** One OnEvent hook (on-event.ts checks it; controller/event-hooks.ts runs it). */
export interface EventHook {
  name: string;
  events: EventType[];
  /** Service ids (the id of a service with Instances means each instance); null: every service. */
  services: string[] | null;
  /** The program (absolute when written with a "/") and its arguments. */
  command: string[];
  /** Seconds: at most one run per service within it; 0: no limit. */
  minInterval: number;
  /** Seconds a run may take before its process group is killed. */
  timeout: number;
  /** Where Command is written in the controller file (for upk check-config's look at the program). */
  commandAt?: { line: number; column: number };
}

export type InitialState = 'running' | 'stopped';

export interface CustomAction {
  name: string;
  /** Full script text (a `#!/bin/sh` line is added when the text has no `#!`). */
  script: string;
}

import type { ListenSocket } from '../listen.js';
import type { RestartMode } from '../restart-mode.js';

/** One service after layering built-in defaults, ServiceDefaults and its own keys. */
/**
 * Health checks and limits (docs/configuration.md "Health checks and limits"): the probes as written (a
 * URL or a shell command line), seconds, counts, bytes, percent of a core; actions restart, stop or none.
 * A service's configuration and its buddy's settings carry them alike.
 */
export interface HealthSettings {
  healthCheck: string | null;
  healthInterval: number;
  healthTimeout: number;
  healthRetries: number;
  healthRecoveries: number;
  healthStartPeriod: number;
  healthAction: UnwellAction;
  healthExpect: string | null;
  healthFailLine: string | null;
  readyCheck: string | null;
  readyCheckInterval: number;
  maxMemory: number | null;
  maxMemoryAction: UnwellAction;
  maxCpu: number | null;
  /** MaxCPUWindow: seconds of measurements MaxCPU is averaged over. */
  maxCpuWindow: number;
  maxCpuAction: UnwellAction;
  activityFile: string | null;
  activityTimeout: number;
  activityAction: UnwellAction;
}

/**
 * Readiness and the bounds of a run (docs/configuration.md "Readiness"); a service's configuration and
 * its buddy's settings carry them alike.
 */
export interface ReadinessSettings {
  /**
   * Type: "notify" gives the service NOTIFY_SOCKET (sd_notify), READY=1 makes it ready; "oneshot": a job,
   * run to its end; "forking": the start script exits 0 and leaves the process PidFile names.
   */
  serviceType: 'simple' | 'notify' | 'oneshot' | 'forking';
  /** ReadyFd: the descriptor the service writes a newline to once ready, or null. */
  readyFd: number | null;
  /** ReadyLine: a regular expression an output line matching makes it ready, or null. */
  readyLine: string | null;
  /** StartTimeout seconds (0: none), or null: the default (90 with a signalled readiness, else none). */
  startTimeout: number | null;
  /** WatchdogSec seconds (Type notify), or null or 0: none. */
  watchdogSec: number | null;
  /** MaxRunTime seconds, or null or 0: no limit. */
  maxRunTime: number | null;
  /** Listen: the sockets each run is given from descriptor 3 on (their names filled in: the service's name when not written). */
  listen: ListenSocket[];
  /** RestartMode: a restart stops the run, then starts one; or (overlap) starts the new one beside it, and drains the old once the new is ready. */
  restartMode: RestartMode;
}

/** Jobs and planned restarts (docs/buddy.md, "Jobs"): kept by the buddy. */
export interface ScheduleSettings {
  /** Schedule: when a oneshot job runs (a cron expression or "@every DURATION"), or null. */
  schedule: string | null;
  /** ScheduleOverlap: a due run while the last still runs is skipped, or waits (at most one). */
  scheduleOverlap: 'skip' | 'queue';
  /** CronRestart: when a long-running service is restarted, or null. */
  cronRestart: string | null;
}

/**
 * A process started elsewhere, taken over rather than started a second time (docs/configuration.md
 * "Adopting a process started elsewhere"); a service's configuration and its buddy's settings carry them alike.
 */
export interface AdoptionSettings {
  /** PidFile: absolute path of the file the service writes its pid to, or null. */
  pidFile: string | null;
  /** ProcessMatch: a regular expression on the command line of the service user's processes, or null. */
  processMatch: string | null;
}

export interface ServiceConfig extends HealthSettings, ReadinessSettings, ScheduleSettings, AdoptionSettings {
  /** `name`, or `package::name`. */
  id: string;
  name: string;
  package: string | null;
  /** Absolute path of the .conf file that defines it, and the line of its key there. */
  file: string;
  line: number;
  /** Configured UUID (lower case), or null: the controller assigns one and keeps it in the database. */
  uuid: string | null;
  provides: string[];
  shortDescription: string | null;
  longDescription: string | null;
  prerequisites: string[];
  conflicts: string[];
  startPriority: number;
  killTimeout: number;
  maxConsecutiveFailures: number;
  userMaxRestarts: number;
  userRestartWindow: number;
  userRateLimit: number;
  randomizeRateLimit: boolean;
  minUptime: number;
  /**
   * Numeric uid/gid to run the service as (names resolved), or null to keep upkeeper's own. With a
   * SetUID and no SetGID, setGid is that user's primary group.
   */
  setUid: number | null;
  setGid: number | null;
  ringbufferSize: number;
  reconnectRetries: number;
  journalMaxEvents: number;
  /** Bytes; 0: never rotate. */
  logMaxSize: number;
  logKeep: number;
  /** The buddy begins every line of log/stdout and log/stderr with the time it arrived. */
  logTimestamps: boolean;
  /** Seconds between two resource measurements by the buddy; 0: none. */
  sampleInterval: number;
  execStart: string | null;
  execStop: string | null;
  execReload: string | null;
  /** Final script texts, %(EXEC_*) substituted. */
  startScript: string;
  stopScript: string;
  reloadScript: string;
  customActions: CustomAction[];
  pipeStdoutScript: string | null;
  pipeStderrScript: string | null;
  /** Absolute paths. */
  redirectStdout: string | null;
  redirectStderr: string | null;
  initialState: InitialState;
  unconfigureOnFileRemoval: boolean;
  preferBuddyStateForStopped: boolean;
  preferBuddyStateForRunning: boolean;
  /** Variables added to (or, with null, removed from) the environment the controller passes on. */
  environment: Record<string, string | null>;
  /** EnvironmentFile: read by the buddy at every start, in order; their variables win over `environment`. */
  environmentFiles: EnvFileRef[];
  /** Absolute path, or null for the service's run directory. */
  workingDirectory: string | null;
  /**
   * Only in an instance of a service with `Instances` (absent otherwise): its number (1 … N), and the
   * id the files give the service (`web` for `web@2`).
   */
  instance?: number;
  instanceOf?: string;
}

export interface LoadedServices {
  services: ServiceConfig[];
  issues: ConfigIssue[];
  /** Every file read, absolute. */
  files: string[];
}
