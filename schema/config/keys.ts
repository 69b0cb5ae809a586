// The one table of every configuration key: canonical name, value type, built-in default, description.
import { RESTART_MODES } from '../restart-mode.js';

/** What a key accepts; drives checking (check-value.ts), layering and the JSON Schema. */
export type ValueType =
  | {
      kind: 'number';
      integer: boolean;
      /** Described as "a number of seconds". */
      seconds?: boolean;
      min?: number;
      minExclusive?: boolean;
      max?: number;
      nullable?: boolean;
    }
  | { kind: 'boolean' }
  /** Free text (descriptions, Exec commands); nonEmpty rejects "". */
  | { kind: 'text'; nullable: boolean; nonEmpty?: boolean }
  /** A command: a shell line (a non-empty string), or a program and its arguments (a non-empty list of strings, each quoted for /bin/sh). */
  | { kind: 'command'; nullable: boolean }
  /** A service or package name (Name, Package). */
  | { kind: 'name'; nullable: boolean }
  /** Script text; `#!/bin/sh` is added when it has no `#!` line. substituted: %(EXEC_*) placeholders are replaced. */
  | { kind: 'script'; nullable: boolean; substituted?: boolean }
  | { kind: 'path'; nullable: boolean }
  | { kind: 'uuid' }
  | { kind: 'list'; item: 'provides' | 'prerequisite' }
  | { kind: 'account'; account: 'user' | 'group' }
  | { kind: 'state' }
  | { kind: 'actions' }
  | { kind: 'environment' }
  /** EnvironmentFile: a path or a list of paths, each optional when written with a leading "-". */
  | { kind: 'envFiles' }
  | { kind: 'defaults' }
  /** OnEvent: a list of hooks (on-event.ts). */
  | { kind: 'hooks' }
  /** A HealthCheck or ReadyCheck: "http(s)://…", "tcp://HOST:PORT", or a command (a shell line, or a list of words). */
  | { kind: 'probe'; nullable: boolean }
  /** One of a few words (any letter case), stored in lower case. */
  | { kind: 'choice'; words: readonly string[] }
  /** A regular expression (JavaScript syntax), checked to compile; no nested repetition. */
  | { kind: 'regex'; nullable: boolean }
  /** A size in bytes: an integer, or a string with a unit K, M, G or T (powers of 1024), like "512M". */
  | { kind: 'bytes'; nullable: boolean }
  /** Listen: sockets the service is given (listen-value.ts). */
  | { kind: 'listen' }
  /** A cron expression (croner reads it) or "@every DURATION" (schema/schedule.ts). */
  | { kind: 'schedule'; nullable: boolean }
  /** FleetDatabase: a PostgreSQL URL without a password (fleet-database.ts). */
  | { kind: 'postgresUrl'; nullable: boolean }
  /** FleetHost: a non-empty string of at most 255 characters, no control character or lone surrogate (fleet-database.ts). */
  | { kind: 'fleetHost'; nullable: boolean };

export interface KeySpec {
  /** Canonical spelling (keys are matched case-insensitively). */
  readonly name: string;
  readonly type: ValueType;
  /** Built-in default as written in a file; undefined when computed (see defaultText). */
  readonly default: unknown;
  /** How the default reads in docs when it is computed or needs words. */
  readonly defaultText?: string;
  readonly description: string;
  /** Only in a service entry, never in ServiceDefaults (they identify one service). */
  readonly serviceOnly?: boolean;
}

/** The words a user may write for InitialState (any letter case), and what they mean. */
export const INITIAL_STATE_WORDS: Readonly<Record<string, 'running' | 'stopped'>> = {
  running: 'running',
  up: 'running',
  start: 'running',
  run: 'running',
  stopped: 'stopped',
  down: 'stopped',
  stop: 'stopped',
};

const seconds = (extra: Partial<Extract<ValueType, { kind: 'number' }>> = {}): ValueType => ({
  kind: 'number',
  integer: false,
  seconds: true,
  ...extra,
});
const integer = (extra: Partial<Extract<ValueType, { kind: 'number' }>> = {}): ValueType => ({ kind: 'number', integer: true, ...extra });
const boolean: ValueType = { kind: 'boolean' };
/** Built-in retention of the audit database (AuditMaxAge seconds, AuditMaxRecords rows). */
export const AUDIT_MAX_AGE_DEFAULT = 90 * 86_400;
export const AUDIT_MAX_RECORDS_DEFAULT = 1_000_000;
/** Built-in MinInterval and Timeout of an OnEvent hook, in seconds. */
export const HOOK_MIN_INTERVAL_DEFAULT = 60;
export const HOOK_TIMEOUT_DEFAULT = 30;
/** The most instances one service may have (`Instances`). */
export const MAX_INSTANCES = 1000;
/** Type's words: systemd's names. */
export const SERVICE_TYPES = ['simple', 'notify', 'oneshot', 'forking'] as const;
/** What a failed health check or a passed limit does (HealthAction, MaxMemoryAction, …). */
export const UNWELL_ACTIONS = ['restart', 'stop', 'none'] as const;
const unwellAction: ValueType = { kind: 'choice', words: UNWELL_ACTIONS };
const ACTION_WORDS =
  'restart (the default: stop it and start it again, counted as a failure like a crash, so MaxConsecutiveFailures and the backoff apply), stop (stop it and want it stopped) or none (only record it).';
const ORDER = 'A reference to no service, or a dependency cycle, is a configuration error.';
const PLANNED_RECONCILE = 'Parsed and checked; this reconciliation after a controller restart is planned for a later release.';

export const SERVICE_KEYS: readonly KeySpec[] = [
  {
    name: 'Name',
    type: { kind: 'name', nullable: false },
    default: undefined,
    defaultText: 'the name in the service id',
    serviceOnly: true,
    description:
      'Accepted for compatibility with the original upkeeper: the service name, which must equal the name part of the service id.',
  },
  {
    name: 'Package',
    type: { kind: 'name', nullable: true },
    default: undefined,
    defaultText: 'the package in the service id',
    serviceOnly: true,
    description:
      'Accepted for compatibility with the original upkeeper: the package, which must equal the package part of the service id (null when the id has none).',
  },
  {
    name: 'UUID',
    type: { kind: 'uuid' },
    default: null,
    serviceOnly: true,
    description:
      'A fixed UUID for the service (stored in lower case). When null, the controller assigns one the first time it sees the service and keeps it in its database.',
  },
  {
    name: 'Instances',
    type: integer({ min: 1, max: MAX_INSTANCES }),
    default: undefined,
    defaultText: 'none: one service, named by its id',
    serviceOnly: true,
    description: `Run N instances of this service: the services NAME@1 … NAME@N, each with its own buddy, run directory, history and UUID. %(INSTANCE) in the scripts is replaced by the instance's number, and the variable UPK_INSTANCE holds it. NAME in commands means every instance. Instances dropped from the files by a smaller N are stopped and removed. From 1 to ${MAX_INSTANCES}; cannot be set together with UUID.`,
  },
  {
    name: 'ShortDescription',
    type: { kind: 'text', nullable: true },
    default: null,
    description: 'A brief description of the service, shown by clients.',
  },
  {
    name: 'LongDescription',
    type: { kind: 'text', nullable: true },
    default: null,
    description: 'A longer and more complete description of the service.',
  },
  {
    name: 'Provides',
    type: { kind: 'list', item: 'provides' },
    default: [],
    description:
      "Names of what this service provides, for other services' Prerequisites (a service also provides its own name and id). Lists from ServiceDefaults and the service are appended, duplicates removed.",
  },
  {
    name: 'Prerequisites',
    type: { kind: 'list', item: 'prerequisite' },
    default: [],
    description: `What must be running before this service starts: a name (a service's name or id, or listed in some service's Provides), "package:name" (single colon) for a service of a given package, or "uuid#<uuid>" for a service with that configured UUID. A start of this service first starts, for each prerequisite none of whose providers runs, one provider (one already wanted running, else the one with the highest StartPriority) and waits until it is up. Lists are appended like Provides. ${ORDER}`,
  },
  {
    name: 'Conflicts',
    type: { kind: 'list', item: 'prerequisite' },
    default: [],
    description: `Services that must not run at the same time as this one, written like Prerequisites: a start of this service fails while one of them runs, and the other way round. Lists are appended like Provides. ${ORDER}`,
  },
  {
    name: 'StartPriority',
    type: integer(),
    default: 0,
    description:
      'Order among starts that do not depend on each other: when several services start together (controller start, upk start all, a reload), those of higher StartPriority start first, and the next lower ones when they are up (or failed).',
  },
  {
    name: 'KillTimeout',
    type: seconds(),
    default: 10,
    description:
      'Seconds allowed for a stop. The stop script runs at once; the whole process group gets SIGTERM at KillTimeout seconds and SIGKILL at 2×KillTimeout. A negative value never sends SIGKILL and sends SIGTERM at |KillTimeout|; 0 sends SIGTERM and SIGKILL at once.',
  },
  {
    name: 'MaxConsecutiveFailures',
    type: integer({ min: -1 }),
    default: -1,
    description:
      'How many failures in a row put the service in state "failed" (no more automatic restarts) until a user starts it again. A failure is a run that ends, while the service is wanted running, before MinUptime, or a start that cannot execute. -1 never gives up; 0 never restarts automatically.',
  },
  {
    name: 'MinUptime',
    type: seconds({ min: 0 }),
    default: 1,
    description:
      'Seconds a run must last to count as a success (which resets the failure count). "upk start" reports success once the service has been up this long.',
  },
  {
    name: 'Type',
    type: { kind: 'choice', words: SERVICE_TYPES },
    default: 'simple',
    description:
      'As systemd\'s Type=. "simple": the service is ready by MinUptime (or ReadyFd, ReadyLine). "notify": it gets NOTIFY_SOCKET, a datagram socket of the sd_notify protocol, and is ready when it sends READY=1 (STATUS=, WATCHDOG=1, STOPPING=1 and MAINPID= are recorded). "oneshot": a job that runs to its end, whose exit status is the outcome of the run (0: success); it is not started again when it ends well (a failure follows the restart policy), "upk start" returns once the run has ended, and fails when it failed. Not with ReadyFd, ReadyLine, ReadyCheck or CronRestart. "forking": the start script starts the service in the background and exits 0; the process PidFile (required) then names is the one supervised, and the service is ready once the start script has exited (unless ReadyFd, ReadyLine or ReadyCheck is set).',
  },
  {
    name: 'Schedule',
    type: { kind: 'schedule', nullable: true },
    default: null,
    description:
      'When a oneshot job runs (Type oneshot only): a cron expression ("0 3 * * *": at 03:00 every day; five fields MIN HOUR DAY MONTH WEEKDAY, an optional seconds field first; @hourly, @daily, @weekly, @monthly, @yearly), in the local time of the machine, or "@every DURATION" ("@every 30s", at least 1 s apart, counted from when the schedule begins). The buddy keeps the schedule, also while no controller runs, while the job is wanted running; between runs it is "scheduled". null: none (it runs when started).',
  },
  {
    name: 'ScheduleOverlap',
    type: { kind: 'choice', words: ['skip', 'queue'] },
    default: 'skip',
    description:
      'What a scheduled run due while the last one still runs (or waits to be retried) does: "skip" (it is skipped, and recorded as an event run_skipped) or "queue" (it waits, and starts as soon as the last run ends; at most one waits, a further one is skipped).',
  },
  {
    name: 'CronRestart',
    type: { kind: 'schedule', nullable: true },
    default: null,
    description:
      'Restart a long-running service at these times (as PM2\'s cron_restart), written like Schedule: a cron expression or "@every DURATION". Each is recorded as an event cron_restart, then the service is stopped and started as by "upk restart". Only while it is wanted running and runs. Not with Type oneshot (a job runs at times with Schedule). null: never.',
  },
  {
    name: 'PidFile',
    type: { kind: 'path', nullable: true },
    default: null,
    description:
      'The file in which the service writes its pid (resolved like RedirectStdout). With Type forking, the process it names once the start script has exited is the one supervised. Before every start (and at "upk attach") a process it names that runs, as the service\'s user, and started before the file was written is taken over (event adopted) instead of starting a second copy. null: none.',
  },
  {
    name: 'ProcessMatch',
    type: { kind: 'regex', nullable: true },
    default: null,
    description:
      'A regular expression (JavaScript syntax) on the command line (/proc/PID/cmdline, its NULs as spaces) of the processes of the service\'s user: before every start (and at "upk attach") when PidFile names none, exactly one process that matches is taken over (event adopted) instead of starting a second copy; several are refused, naming their pids. With PidFile too, the process the file names must match it. null: none.',
  },
  {
    name: 'Listen',
    type: { kind: 'listen' },
    default: [],
    serviceOnly: true,
    description:
      'Sockets opened before the service\'s first start and held until it is stopped (across its crashes, restarts and the loss of its buddy), given to each run as systemd\'s socket activation does (descriptors from 3 on, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES): "tcp:HOST:PORT", "tcp:[IPV6]:PORT", "tcp:PORT" (every address), "unix:PATH", or {Address, Name, Backlog, Mode}. Connections wait in the backlog while the service restarts or crashes, instead of being refused.',
  },
  {
    name: 'RestartMode',
    type: { kind: 'choice', words: RESTART_MODES },
    default: 'stop-start',
    description:
      'How "upk restart" and CronRestart replace a run. "stop-start": the run is stopped (as by "upk stop"), then a new one is started. "overlap": the new run is started beside the running one (on the same Listen sockets), and once it is ready the old run gets SIGTERM (the drain signal) and, after KillTimeout, SIGKILL; a new run that fails or is not ready within StartTimeout is stopped and the old one goes on serving. Not with Type oneshot or forking, PidFile or ProcessMatch. "upk restart --overlap" overlaps once, whatever this says.',
  },
  {
    name: 'ReadyFd',
    type: integer({ min: 3, max: 255, nullable: true }),
    default: null,
    description:
      "As s6's notification-fd: the service gets this descriptor open for writing, and is ready when it writes a newline to it. null: none.",
  },
  {
    name: 'ReadyLine',
    type: { kind: 'regex', nullable: true },
    default: null,
    description:
      "A regular expression (JavaScript syntax): the service is ready when a line of its output (stdout or stderr, the first 4 KiB of a longer line) matches it, as process-compose's ready_log_line. null: none.",
  },
  {
    name: 'StartTimeout',
    type: seconds({ min: 0, nullable: true }),
    default: null,
    defaultText: 'null: 90 for a service whose readiness is signalled (Type notify or forking, ReadyFd, ReadyLine), none otherwise',
    description:
      "As systemd's TimeoutStartSec: seconds a service with a signalled readiness (Type notify or forking, ReadyFd, ReadyLine) has to become ready; not ready in time is a failure (event start_timeout): it is stopped and the restart policy applies. 0: no limit. A service ready by MinUptime has no start timeout.",
  },
  {
    name: 'MaxRunTime',
    type: seconds({ min: 0, nullable: true }),
    default: null,
    description:
      'A run longer than this many seconds is stopped and recorded as timed out (event timed_out); the service is then wanted stopped. null or 0: no limit.',
  },
  {
    name: 'WatchdogSec',
    type: seconds({ min: 0, nullable: true }),
    default: null,
    description:
      "As systemd's WatchdogSec, with Type notify: once the service runs it must send WATCHDOG=1 on NOTIFY_SOCKET at least every this many seconds (it gets WATCHDOG_USEC, as from systemd); a silence that long is a failed health check (event unhealthy, check WatchdogSec) and HealthAction applies (restart by default). null or 0: no watchdog.",
  },
  {
    name: 'UserMaxRestarts',
    type: integer({ min: -1, nullable: true }),
    default: 10,
    defaultText: '10 (null means 10)',
    description:
      'At most this many starts within UserRestartWindow seconds; further starts are held until the oldest one leaves the window (a "runaway" hold, recorded as an event). -1 means no limit; null means the built-in 10.',
  },
  {
    name: 'UserRestartWindow',
    type: seconds({ min: 0, minExclusive: true, nullable: true }),
    default: 60,
    defaultText: '60 (null means 60)',
    description: 'The window, in seconds, over which UserMaxRestarts is counted. null means the built-in 60.',
  },
  {
    name: 'UserRateLimit',
    type: seconds({ min: 0, nullable: true }),
    default: 1,
    defaultText: '1 (null means 1)',
    description: 'Minimum seconds between two starts (start to start). null means the built-in 1.',
  },
  {
    name: 'RandomizeRateLimit',
    type: boolean,
    default: false,
    description: 'Add a uniformly random 0–50 % of UserRateLimit to each delay between starts.',
  },
  {
    name: 'SetUID',
    type: { kind: 'account', account: 'user' },
    default: null,
    defaultText: 'null (0 means the same)',
    description:
      'User to run the service as: a uid (integer ≥ 0) or a user name from /etc/passwd. 0 or null runs it as the user upkeeper runs as. Any other user needs upkeeper to run as root.',
  },
  {
    name: 'SetGID',
    type: { kind: 'account', account: 'group' },
    default: null,
    defaultText: 'null (0 means the same)',
    description:
      'Group to run the service as: a gid (integer ≥ 0) or a group name from /etc/group. 0 or null runs it with the group upkeeper runs as. Any other group needs upkeeper to run as root.',
  },
  {
    name: 'RingbufferSize',
    type: integer({ min: 4, max: 65536 }),
    default: 256,
    description: 'How many events the buddy keeps while no controller collects them.',
  },
  {
    name: 'ReconnectRetries',
    type: integer({ min: -1 }),
    default: 10,
    description: 'How many times the buddy retries reaching the controller when it has urgent events to report (-1 = forever).',
  },
  {
    name: 'JournalMaxEvents',
    type: integer({ min: 0 }),
    default: 100000,
    description:
      'Most events the buddy keeps on disk (the journal in its run directory) when its ring is full and no controller can be reached; beyond it, events are dropped and counted in an events_dropped event. About 200 bytes each on disk; 0: no journal.',
  },
  {
    name: 'SampleInterval',
    type: seconds({ min: 0, nullable: true }),
    default: null,
    description:
      "How often, in seconds, the buddy measures the CPU time and memory (RSS) of the service's whole process group, from /proc; 0: never; null: 60, or 10 when MaxMemory or MaxCPU is set. A poll also measures when the last measurement is 9 s old (so while a client subscribes to the service). The latest measurement is in the service's status; the controller keeps one record per minute for 7 days and one per hour for AuditMaxAge.",
  },
  {
    name: 'HealthCheck',
    type: { kind: 'probe', nullable: true },
    default: null,
    description:
      'A check run every HealthInterval while the service runs: "http://HOST:PORT/PATH" (or https://) is a GET that passes with a 2xx or 3xx answer (and HealthExpect in its body); "tcp://HOST:PORT" passes when a connection opens; anything else is a command that passes when it exits 0, run with the service\'s environment, working directory and user (a string is a shell command line, a list of strings the program and its arguments). null: none.',
  },
  {
    name: 'HealthInterval',
    type: seconds({ min: 0, minExclusive: true }),
    default: 30,
    description: 'Seconds from the end of one health check to the start of the next.',
  },
  {
    name: 'HealthTimeout',
    type: seconds({ min: 0, minExclusive: true }),
    default: 5,
    description:
      'Seconds a check (HealthCheck or ReadyCheck) may take; one that takes longer fails, and a command is killed with its process group.',
  },
  {
    name: 'HealthRetries',
    type: integer({ min: 1 }),
    default: 3,
    description: 'Failed health checks in a row (a line matching HealthFailLine counts as one) that make the service unhealthy.',
  },
  {
    name: 'HealthRecoveries',
    type: integer({ min: 1 }),
    default: 1,
    description: 'Passed health checks in a row that make an unhealthy service healthy again.',
  },
  {
    name: 'HealthStartPeriod',
    type: seconds({ min: 0 }),
    default: 0,
    description: 'Seconds after each start during which failed health checks do not count (they run, and a pass counts).',
  },
  {
    name: 'HealthAction',
    type: unwellAction,
    default: 'restart',
    description: `What is done with an unhealthy service: ${ACTION_WORDS}`,
  },
  {
    name: 'HealthExpect',
    type: { kind: 'text', nullable: true, nonEmpty: true },
    default: null,
    description:
      'Text the body of an HTTP check (HealthCheck or ReadyCheck) must contain to pass (its first 64 KiB are read). null: any body.',
  },
  {
    name: 'HealthFailLine',
    type: { kind: 'regex', nullable: true },
    default: null,
    description:
      'A regular expression (JavaScript syntax); each line of the service\'s stdout or stderr that matches it counts as a failed health check, e.g. "FATAL|out of memory". Not seen for a stream a pipe script reads.',
  },
  {
    name: 'ReadyCheck',
    type: { kind: 'probe', nullable: true },
    default: null,
    description:
      'A readiness probe, of the same forms as HealthCheck: while the service is starting it runs every ReadyCheckInterval, and the first pass makes it running (instead of MinUptime).',
  },
  {
    name: 'ReadyCheckInterval',
    type: seconds({ min: 0, minExclusive: true }),
    default: 1,
    description: 'Seconds from the end of one ReadyCheck to the start of the next.',
  },
  {
    name: 'MaxMemory',
    type: { kind: 'bytes', nullable: true },
    default: null,
    description:
      'Most memory (RSS) the service\'s whole process group may use, in bytes or with a unit ("512M", "2G"), as the buddy measures it every SampleInterval (which must not be 0). null: no limit.',
  },
  {
    name: 'MaxMemoryAction',
    type: unwellAction,
    default: 'restart',
    description: `What is done when MaxMemory is exceeded: ${ACTION_WORDS}`,
  },
  {
    name: 'MaxCPU',
    type: { kind: 'number', integer: false, min: 0, minExclusive: true, nullable: true },
    default: null,
    description:
      "Most CPU the service's whole process group may use, in percent of one core (200: two cores), averaged over the last MaxCPUWindow seconds of measurements (every SampleInterval, which must not be 0). null: no limit.",
  },
  {
    name: 'MaxCPUWindow',
    type: seconds({ min: 0, minExclusive: true }),
    default: 60,
    description:
      'Seconds of measurements MaxCPU is averaged over (or a duration such as "5m"): a burst shorter than it is forgiven, and a start is judged once this much has been measured.',
  },
  {
    name: 'MaxCPUAction',
    type: unwellAction,
    default: 'restart',
    description: `What is done when MaxCPU is exceeded: ${ACTION_WORDS}`,
  },
  {
    name: 'ActivityFile',
    type: { kind: 'path', nullable: true },
    default: null,
    description:
      "A file (or folder) the service must change at least every ActivityTimeout seconds while it runs (its modification time; a folder's changes when an entry is added, removed or renamed). Resolved like RedirectStdout.",
  },
  {
    name: 'ActivityTimeout',
    type: seconds({ min: 0 }),
    default: 0,
    description: "Seconds ActivityFile may stay unchanged (counted from the service's start or the file's last change); 0: not watched.",
  },
  {
    name: 'ActivityAction',
    type: unwellAction,
    default: 'restart',
    description: `What is done when ActivityFile stays unchanged longer than ActivityTimeout: ${ACTION_WORDS}`,
  },
  {
    name: 'LogMaxSize',
    type: integer({ min: 0 }),
    default: 10485760,
    description:
      "Size in bytes at which the service's stdout and stderr logs are rotated (log/stdout becomes log/stdout.1, and so on); 0: never.",
  },
  {
    name: 'LogKeep',
    type: integer({ min: 0, max: 100 }),
    default: 5,
    description: 'How many rotated log files are kept per stream (log/stdout.1 .. log/stdout.N); older ones are deleted.',
  },
  {
    name: 'LogTimestamps',
    type: boolean,
    default: false,
    description:
      'Begin every line the buddy writes to log/stdout and log/stderr (or the RedirectStdout/RedirectStderr file) with the time its first byte arrived, in ISO 8601 UTC with milliseconds, and a space, as s6-log, svlogd and "pm2 --time" do. "upk logs --timestamps" shows those times. Not for a stream a pipe script reads.',
  },
  {
    name: 'ExecStart',
    type: { kind: 'command', nullable: true },
    default: null,
    description:
      'The command that runs the service; replaces %(EXEC_START) in the scripts. Required when a script uses %(EXEC_START), as the default StartScript does. A string is a shell command line; a list of strings ["node", "server.js", "--port", "8080"] is the program and its arguments, each passed exactly as written (never re-parsed by a shell).',
  },
  {
    name: 'StartScript',
    type: { kind: 'script', nullable: false, substituted: true },
    default: '#!/bin/sh\nexec %(EXEC_START)\n',
    description:
      'Script that starts the service; the process it execs is the service. %(EXEC_START), %(EXEC_STOP) and %(EXEC_RELOAD) are replaced everywhere they occur.',
  },
  {
    name: 'ExecStop',
    type: { kind: 'text', nullable: true, nonEmpty: true },
    default: 'kill',
    description: 'The command that stops the service; replaces %(EXEC_STOP) in the scripts.',
  },
  {
    name: 'StopScript',
    type: { kind: 'script', nullable: false, substituted: true },
    default: '#!/bin/sh\nexec %(EXEC_STOP) $1\n',
    description:
      'Script run to stop the service; $1 is the pid of the service (also its process group). Placeholders are replaced as in StartScript.',
  },
  {
    name: 'ExecReload',
    type: { kind: 'text', nullable: true, nonEmpty: true },
    default: 'kill -HUP',
    description: 'The command that reloads the service; replaces %(EXEC_RELOAD) in the scripts.',
  },
  {
    name: 'ReloadScript',
    type: { kind: 'script', nullable: false, substituted: true },
    default: '#!/bin/sh\nexec %(EXEC_RELOAD) $1\n',
    description: 'Script run to reload the service; $1 is the pid of the service. Placeholders are replaced as in StartScript.',
  },
  {
    name: 'CustomActions',
    type: { kind: 'actions' },
    default: {},
    description:
      'Extra actions: action name → script text. At most 32, numbered 00..31 in config order. Names: 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit, not all digits, not start, stop, reload, pipe-stdout or pipe-stderr. Merged by name with ServiceDefaults (the service wins).',
  },
  {
    name: 'PipeStdoutScript',
    type: { kind: 'script', nullable: true },
    default: null,
    description: 'Script that receives the service\'s standard output on its standard input, e.g. "exec logger -t web".',
  },
  {
    name: 'PipeStderrScript',
    type: { kind: 'script', nullable: true },
    default: null,
    description: "Script that receives the service's standard error on its standard input.",
  },
  {
    name: 'RedirectStdout',
    type: { kind: 'path', nullable: true },
    default: null,
    description:
      "File the service's standard output goes to, instead of log/stdout in its run directory. Relative to the folder of the file it is written in; ~ is the home directory. When stdout is piped, only what the pipe script itself prints ends up here.",
  },
  {
    name: 'RedirectStderr',
    type: { kind: 'path', nullable: true },
    default: null,
    description: "File the service's standard error goes to, instead of log/stderr in its run directory. Resolved like RedirectStdout.",
  },
  {
    name: 'InitialState',
    type: { kind: 'state' },
    default: 'stopped',
    description:
      'The state a service gets when the controller first configures it: "running" (also up, start, run) or "stopped" (also down, stop), any letter case. Afterwards the state last asked for is kept.',
  },
  {
    name: 'UnconfigureOnFileRemoval',
    type: boolean,
    default: false,
    description:
      'When the file defining this service disappears, remove the service from the controller instead of keeping it until it is removed by hand.',
  },
  {
    name: 'PreferBuddyStateForStopped',
    type: boolean,
    default: false,
    description: `After a controller restart, if the buddy reports the service stopped but the controller's database wants it running, believe the buddy (record it as stopped) instead of starting it. ${PLANNED_RECONCILE}`,
  },
  {
    name: 'PreferBuddyStateForRunning',
    type: boolean,
    default: true,
    description: `After a controller restart, if the buddy reports the service running but the controller's database wants it stopped, believe the buddy (record it as running, leave it running). ${PLANNED_RECONCILE}`,
  },
  {
    name: 'Environment',
    type: { kind: 'environment' },
    default: {},
    description:
      'Environment variables for the service: name → value, or null to remove a variable it would inherit. Merged by name with ServiceDefaults (the service wins). Names are case-sensitive.',
  },
  {
    name: 'EnvironmentFile',
    type: { kind: 'envFiles' },
    default: [],
    description:
      'Files of KEY=VALUE lines (systemd\'s EnvironmentFile format: # comments, blank lines, single or double quotes, "export" tolerated): a path or a list of paths, read in order by the buddy at every start of the service, so that "upk restart" applies a change without a reload. Their variables win over Environment (as in systemd), later files over earlier ones. A path written with a leading "-" may be missing. A file that is missing (without "-"), cannot be read or has a bad line makes that start fail (spawn_failed, naming the file and line). Relative to the folder of the file it is written in; ~ is the home directory. A service\'s own value replaces that of ServiceDefaults.',
  },
  {
    name: 'WorkingDirectory',
    type: { kind: 'path', nullable: true },
    default: null,
    description:
      "The service's working directory; null means its run directory. Relative to the folder of the file it is written in; ~ is the home directory.",
  },
];

export const CONTROLLER_KEYS: readonly KeySpec[] = [
  {
    name: 'StateDir',
    type: { kind: 'path', nullable: true },
    default: undefined,
    defaultText: '$XDG_STATE_HOME/upkeeper (~/.local/state/upkeeper)',
    description: "The controller's state folder: its socket, lock and database. null means the default, $XDG_STATE_HOME/upkeeper.",
  },
  {
    name: 'SvcConfigPath',
    type: { kind: 'path', nullable: true },
    default: undefined,
    defaultText: 'upkeeper.d next to this file',
    description: 'Folder of the service files (*.conf). null means upkeeper.d in the folder of this file.',
  },
  {
    name: 'SvcRunPath',
    type: { kind: 'path', nullable: true },
    default: undefined,
    defaultText: '<StateDir>/run',
    description: "Folder holding each service's run directory (where its buddy runs). null means <StateDir>/run.",
  },
  {
    name: 'BuddyPollingInterval',
    type: seconds({ min: 0, minExclusive: true, max: 60 }),
    default: 0.5,
    description: 'How often, in seconds, the controller polls the buddies for events.',
  },
  {
    name: 'UpkBuddyPath',
    type: { kind: 'path', nullable: true },
    default: null,
    defaultText: 'null (the bundled buddy)',
    description: 'The buddy program (a JavaScript file run with node); null means the one bundled with upkeeper.',
  },
  {
    name: 'AuditMaxAge',
    type: seconds({ min: 0, minExclusive: true, nullable: true }),
    default: AUDIT_MAX_AGE_DEFAULT,
    defaultText: '7776000 (90 days; null: no limit)',
    description:
      'How long the audit database keeps what it records, in seconds (or a duration such as "90d"): events, service runs, resource samples, client requests and configuration changes older than this are deleted (hourly, and at controller start). null keeps everything for ever.',
  },
  {
    name: 'AuditMaxRecords',
    type: integer({ min: 1, nullable: true }),
    default: AUDIT_MAX_RECORDS_DEFAULT,
    defaultText: '1000000 (null: no limit)',
    description:
      'Most rows kept in each of the tables events, client_requests and config_changes; beyond it the oldest are deleted (and the service runs older than the oldest event kept). null: no limit.',
  },
  {
    name: 'OnEvent',
    type: { kind: 'hooks' },
    default: [],
    description:
      'Hooks: commands the controller runs for chosen event types, each {Name, Events, Services, Command, MinInterval, Timeout}, with the event as JSON on standard input and its main fields in UPK_* variables. Each runs at most once per event (also for events collected after a controller restart), at most once per MinInterval per service, and every run is recorded (upk hooks).',
  },
  {
    name: 'FleetDatabase',
    type: { kind: 'postgresUrl', nullable: true },
    default: null,
    defaultText: 'null (no export)',
    description:
      'A PostgreSQL database the controller exports its audit to, for the whole fleet (docs/fleet.md): a URL as libpq reads it, such as "postgresql://upkeeper@db.example.org/fleet?sslmode=verify-full&sslrootcert=/etc/upkeeper/ca.pem", never with a password (the password comes from PGPASSWORD or the password file, PGPASSFILE or ~/.pgpass). Every stored event is sent once, in batches, and again after any failure until PostgreSQL has it; the local database never waits for it. null: no export.',
  },
  {
    name: 'FleetHost',
    type: { kind: 'fleetHost', nullable: true },
    default: null,
    defaultText: "null (the machine's host name)",
    description:
      "This host's name in the fleet database (FleetDatabase), part of the key of every row it exports: give each host its own and keep it. A non-empty string of at most 255 characters, without control characters (U+0000–U+001F, U+007F–U+009F) or lone surrogates. null: the machine's host name.",
  },
  {
    name: 'ServiceDefaults',
    type: { kind: 'defaults' },
    default: {},
    description: 'Service keys applied to every service, under its own keys (all service keys except UUID, Name and Package).',
  },
];

/** The spec for a key written in any letter case, or undefined. */
export function findKey(table: readonly KeySpec[], written: string): KeySpec | undefined {
  const folded = written.toLowerCase();
  return table.find((spec) => spec.name.toLowerCase() === folded);
}
