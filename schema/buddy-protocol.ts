// The controller↔buddy protocol: JSON frames (see codec.ts), request ids, one definition for both ends.
import type { AdoptionSettings, HealthSettings, ReadinessSettings, ScheduleSettings } from './config/types.js';
import { HELLO_DEADLINE_MS, type Handshake, type NotificationValidators, type Validators } from './rpc.js';
import type { EnvFileRef } from './env-file.js';
import { EVENT_TYPE_NAMES, USAGE_RECORD, type ActionResult, type BuddyEvent, type BuddyStatus } from './records.js';
import { SERVICE_ID_PATTERN, UUID_RE } from './config/names.js';
import { asObject, bad, int, optBool, optInt, str, type Obj } from './validate.js';

export const BUDDY_PROTOCOL = 1;
export const BUDDY_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Most events one poll answer carries; the controller polls again at once when `more` is set. */
export const POLL_BATCH = 512;
/** Most bytes of events (as JSON) one poll answer or delivery carries, well within the frame limit. */
export const BATCH_MAX_BYTES = 1024 * 1024;

/** The longest prefix of `events` within BATCH_MAX_BYTES (at least one event). */
export function fitBatch(events: BuddyEvent[]): BuddyEvent[] {
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    bytes += JSON.stringify(events[i]).length;
    if (bytes > BATCH_MAX_BYTES && i > 0) return events.slice(0, i);
  }
  return events;
}

/** buddy.json: everything the buddy needs, written by the controller (the health checks and limits too). */
export interface BuddySettings extends HealthSettings, ReadinessSettings, ScheduleSettings, AdoptionSettings {
  settingsVersion: 1;
  service: string;
  uuid: string;
  /** Seconds: the stop script's grace before SIGTERM to the group; SIGKILL after as long again. <0: never SIGKILL. */
  killTimeout: number;
  /** Failures in a row before giving up; <0 never gives up, 0 never restarts automatically. */
  maxConsecutiveFailures: number;
  /** More than this many starts within userRestartWindow seconds holds further starts (<0: no limit). */
  userMaxRestarts: number;
  userRestartWindow: number;
  /** Seconds between two starts. */
  userRateLimit: number;
  randomizeRateLimit: boolean;
  /** Seconds a run must last to count as a success (resets the failure count, completes a start). */
  minUptime: number;
  ringbufferSize: number;
  /** Tries to reach the controller's buddy endpoint before giving up for now (-1: forever). */
  reconnectRetries: number;
  /** Events kept on disk at most when the ring overflows (0: none). */
  journalMaxEvents: number;
  /** The controller's endpoint for buddies (StateDir/buddies.sock), or null. */
  controllerEndpoint: string | null;
  /** Rotation of the service's output files: size in bytes (0: never) and rotated files kept. */
  logMaxSize: number;
  logKeep: number;
  /** Begin every line written to the output files with the time it arrived (ISO 8601 UTC) and a space. */
  logTimestamps: boolean;
  /** Seconds between two measurements of the service's CPU time and memory (0: none). */
  sampleInterval: number;
  /** Custom action names in config order: scripts/<name>, linked as actions/00.. */
  customActions: string[];
  /**
   * The program and arguments scripts/start would exec (the default StartScript, every word of ExecStart
   * literal to /bin/sh): a start without Listen execs them directly. null: scripts/start is run.
   */
  startCommand: string[] | null;
  /**
   * The signal scripts/stop would send the service's pid (the default StopScript with ExecStop `kill`):
   * the buddy sends it itself at a stop. null: scripts/stop is run.
   */
  stopSignal: 'SIGTERM' | null;
  pipeStdout: boolean;
  pipeStderr: boolean;
  /** Absolute paths the service's output goes to instead of log/stdout and log/stderr. */
  redirectStdout: string | null;
  redirectStderr: string | null;
  /** The service's whole environment (the buddy itself runs with a clean one). */
  environment: Record<string, string>;
  /** EnvironmentFile: read at every start of the service, in order; their variables win over `environment`. */
  environmentFiles: EnvFileRef[];
  workingDirectory: string;
  uid: number | null;
  gid: number | null;
}

export interface BuddyHello {
  protocol: number;
  instance: string;
  pid: number;
  version: string;
  status: BuddyStatus;
}

export interface PollResult {
  events: BuddyEvent[];
  /** True when more events wait than one answer carries. */
  more: boolean;
  status: BuddyStatus;
}

/** The outcome of start, stop, restart and shutdown: known when the buddy answers. */
export interface CommandOutcome {
  ok: boolean;
  message: string;
  status: BuddyStatus;
}

/**
 * The params of start, stop, restart and shutdown. `resume` (a start only): the controller's
 * reconciliation asks for the desired state again, as after a new buddy: a scheduled job's schedule
 * goes on, and it is not run now.
 */
export interface CommandParams {
  controller?: boolean;
  resume?: boolean;
  /** A restart only: `upk restart --overlap` (the new run beside the old, which drains once it is ready). */
  overlap?: boolean;
}

export interface BuddyMethods {
  hello: { params: { protocol: number }; result: BuddyHello };
  /** Acknowledge events up to `ack` (committed), then return what is pending. */
  poll: { params: { ack?: number; max?: number }; result: PollResult };
  ack: { params: { seq: number }; result: null };
  /** `controller`: a controller sends it on a user's behalf (the `desired` event then says `by: controller`). */
  start: { params: CommandParams; result: CommandOutcome };
  stop: { params: CommandParams; result: CommandOutcome };
  restart: { params: CommandParams; result: CommandOutcome };
  /**
   * Take over the service's process that runs without upkeeper (PidFile, ProcessMatch), as a start that
   * never starts one: when none is found, `ok` is false and nothing changes.
   */
  attach: { params: CommandParams; result: CommandOutcome };
  reload: { params: Record<string, never>; result: ActionResult };
  action: { params: { action: string }; result: ActionResult };
  signal: { params: { signal: string; group?: boolean }; result: { pid: number } };
  /** Stop the service, then exit once every event is acknowledged (at most 5 s after the stop). */
  shutdown: { params: CommandParams; result: CommandOutcome };
  /** Re-read buddy.json: policy and output destinations apply at once, the environment from the next start. */
  reconfigure: { params: Record<string, never>; result: BuddyStatus };
}

/** What a buddy takes first on its socket: `hello`, within HELLO_DEADLINE_MS. */
export const BUDDY_HANDSHAKE: Handshake<keyof BuddyMethods> = { method: 'hello', deadlineMs: HELLO_DEADLINE_MS };

const none = (p: unknown): Record<string, never> => {
  asObject(p);
  return {};
};

const command = (p: unknown): CommandParams => {
  const o = asObject(p);
  const controller = optBool(o, 'controller');
  const resume = optBool(o, 'resume');
  const overlap = optBool(o, 'overlap');
  return {
    ...(controller === undefined ? {} : { controller }),
    ...(resume === undefined ? {} : { resume }),
    ...(overlap === undefined ? {} : { overlap }),
  };
};

export const buddyValidators: Validators<BuddyMethods> = {
  hello: (p) => ({ protocol: int(asObject(p), 'protocol', 0) }),
  poll: (p) => {
    const o = asObject(p);
    const out: { ack?: number; max?: number } = {};
    const ack = optInt(o, 'ack', 0);
    const max = optInt(o, 'max', 1);
    if (ack !== undefined) out.ack = ack;
    if (max !== undefined) out.max = max;
    return out;
  },
  ack: (p) => ({ seq: int(asObject(p), 'seq', 0) }),
  start: command,
  stop: command,
  restart: command,
  attach: command,
  reload: none,
  action: (p) => ({ action: str(asObject(p), 'action') }),
  signal: (p) => {
    const o = asObject(p);
    const group = optBool(o, 'group');
    return group === undefined ? { signal: str(o, 'signal') } : { signal: str(o, 'signal'), group };
  },
  shutdown: command,
  reconfigure: none,
};

/** Who a buddy is, when it reaches the controller on its own. */
export interface BuddyIdentity {
  instance: string;
  uuid: string;
  service: string;
  pid: number;
  started: string;
}

/**
 * What a buddy may ask of the controller on StateDir/buddies.sock: its last resort when its ring is
 * 75 % full and no controller collected it, or when it is exiting with events not yet stored.
 * `hello` first, as on every socket.
 */
export interface ControllerBuddyMethods {
  hello: { params: { protocol: number }; result: { protocol: number } };
  /**
   * Store these events (oldest first, this buddy's, seq increasing, the first one at most one past
   * what is stored for this buddy); the answer acknowledges them up to `ack`.
   */
  deliver: { params: { buddy: BuddyIdentity; events: BuddyEvent[] }; result: { ack: number } };
}

/** Most events one delivery may carry. */
export const DELIVER_MAX_EVENTS = POLL_BATCH;
const SERVICE_ID_RE = new RegExp(SERVICE_ID_PATTERN);
const RECORD_TYPES: ReadonlySet<string> = new Set([...EVENT_TYPE_NAMES, USAGE_RECORD]);
const USAGE_FIELDS = ['from', 'to', 'cpuMs', 'rssKb', 'rssMaxKb', 'processes', 'samples'] as const;

const intOrNull = (v: unknown): boolean => v === undefined || v === null || (Number.isInteger(v) && (v as number) >= 0);

/** One event as a buddy sends it, checked field by field. */
function checkEvent(value: unknown, index: number): BuddyEvent {
  const at = `events[${index}]`;
  const e = asObject(value, at);
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) bad(`${at}.seq must be an integer ≥ 1`);
  if (typeof e.time !== 'number' || !Number.isFinite(e.time) || e.time < 0) bad(`${at}.time must be milliseconds since the epoch`);
  if (typeof e.type !== 'string' || !RECORD_TYPES.has(e.type)) bad(`${at}.type: unknown event type ${JSON.stringify(e.type)}`);
  if (!intOrNull(e.pid)) bad(`${at}.pid must be a pid or null`);
  if (!intOrNull(e.code)) bad(`${at}.code must be an exit code or null`);
  if (e.signal !== undefined && e.signal !== null && typeof e.signal !== 'string') bad(`${at}.signal must be a string or null`);
  if (e.detail !== undefined && e.detail !== null) asObject(e.detail, `${at}.detail`);
  if (e.type === USAGE_RECORD) {
    const d = (e.detail ?? {}) as Obj;
    for (const k of USAGE_FIELDS) if (typeof d[k] !== 'number' || !Number.isFinite(d[k])) bad(`${at}.detail.${k} must be a number`);
  }
  return e as unknown as BuddyEvent;
}

/** What the controller takes first on its endpoint for buddies: `hello`, within HELLO_DEADLINE_MS. */
export const ENDPOINT_HANDSHAKE: Handshake<keyof ControllerBuddyMethods> = { method: 'hello', deadlineMs: HELLO_DEADLINE_MS };

export const controllerBuddyValidators: Validators<ControllerBuddyMethods> = {
  hello: (p) => ({ protocol: int(asObject(p), 'protocol', 0) }),
  deliver: (p) => {
    const o = asObject(p);
    const b = asObject(o.buddy, 'buddy');
    const buddy: BuddyIdentity = {
      instance: str(b, 'instance'),
      uuid: str(b, 'uuid'),
      service: str(b, 'service'),
      pid: int(b, 'pid', 1),
      started: str(b, 'started'),
    };
    if (!UUID_RE.test(buddy.instance)) bad('buddy.instance must be a UUID');
    if (!UUID_RE.test(buddy.uuid)) bad('buddy.uuid must be a UUID');
    if (!SERVICE_ID_RE.test(buddy.service)) bad(`buddy.service: ${JSON.stringify(buddy.service)} is no service id`);
    if (buddy.pid < 1) bad('buddy.pid must be a pid');
    if (!/^\d{4}-\d\d-\d\dT/.test(buddy.started) || Number.isNaN(Date.parse(buddy.started))) bad('buddy.started must be an ISO 8601 time');
    if (!Array.isArray(o.events)) bad('events must be a list');
    if (o.events.length > DELIVER_MAX_EVENTS) bad(`at most ${DELIVER_MAX_EVENTS} events at once`);
    const events = (o.events as unknown[]).map(checkEvent);
    for (let i = 1; i < events.length; i++)
      if (events[i]!.seq <= events[i - 1]!.seq) bad(`events[${i}].seq must be larger than the one before`);
    return { buddy, events };
  },
};

/** Notifications a buddy sends unasked: `events` says there is something to collect (up to `seq`). */
export interface BuddyNotifications {
  events: { seq: number };
}

/** Each notification checked where it arrives (the controller). */
export const buddyNotificationValidators: NotificationValidators<BuddyNotifications> = {
  events: (p) => ({ seq: int(asObject(p), 'seq', 0) }),
};
