// The controller↔buddy protocol: JSON frames (see codec.ts), request ids, one definition for both ends.
import type { Validators } from './rpc.js';
import type { ActionResult, BuddyEvent, BuddyStatus } from './records.js';
import { asObject, bad, optBool, optInt, str } from './validate.js';

export const BUDDY_PROTOCOL = 1;
export const BUDDY_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Most events one poll answer carries; the controller polls again at once when `more` is set. */
export const POLL_BATCH = 512;

/** buddy.json: everything the buddy needs, written by the controller. */
export interface BuddySettings {
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
  /** Seconds between two measurements of the service's CPU time and memory (0: none). */
  sampleInterval: number;
  /** Custom action names in config order: scripts/<name>, linked as actions/00.. */
  customActions: string[];
  pipeStdout: boolean;
  pipeStderr: boolean;
  /** Absolute paths the service's output goes to instead of log/stdout and log/stderr. */
  redirectStdout: string | null;
  redirectStderr: string | null;
  /** The service's whole environment (the buddy itself runs with a clean one). */
  environment: Record<string, string>;
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

export interface BuddyMethods {
  hello: { params: { protocol: number }; result: BuddyHello };
  /** Acknowledge events up to `ack` (committed), then return what is pending. */
  poll: { params: { ack?: number; max?: number }; result: PollResult };
  ack: { params: { seq: number }; result: null };
  start: { params: Record<string, never>; result: CommandOutcome };
  stop: { params: Record<string, never>; result: CommandOutcome };
  restart: { params: Record<string, never>; result: CommandOutcome };
  reload: { params: Record<string, never>; result: ActionResult };
  action: { params: { action: string }; result: ActionResult };
  signal: { params: { signal: string; group?: boolean }; result: { pid: number } };
  /** Stop the service, then exit once every event is acknowledged (at most 5 s after the stop). */
  shutdown: { params: Record<string, never>; result: CommandOutcome };
  /** Re-read buddy.json: policy and output destinations apply at once, the environment from the next start. */
  reconfigure: { params: Record<string, never>; result: BuddyStatus };
}

const none = (p: unknown): Record<string, never> => {
  asObject(p);
  return {};
};

export const buddyValidators: Validators<BuddyMethods> = {
  hello: (p) => ({ protocol: optInt(asObject(p), 'protocol', 0) ?? 0 }),
  poll: (p) => {
    const o = asObject(p);
    const out: { ack?: number; max?: number } = {};
    const ack = optInt(o, 'ack', 0);
    const max = optInt(o, 'max', 1);
    if (ack !== undefined) out.ack = ack;
    if (max !== undefined) out.max = max;
    return out;
  },
  ack: (p) => ({ seq: optInt(asObject(p), 'seq', 0) ?? 0 }),
  start: none,
  stop: none,
  restart: none,
  reload: none,
  action: (p) => ({ action: str(asObject(p), 'action') }),
  signal: (p) => {
    const o = asObject(p);
    const group = optBool(o, 'group');
    return group === undefined ? { signal: str(o, 'signal') } : { signal: str(o, 'signal'), group };
  },
  shutdown: none,
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
 */
export interface ControllerBuddyMethods {
  /** Store these events (oldest first, this buddy's); the answer acknowledges them up to `ack`. */
  deliver: { params: { buddy: BuddyIdentity; events: BuddyEvent[] }; result: { ack: number } };
}

export const controllerBuddyValidators: Validators<ControllerBuddyMethods> = {
  deliver: (p) => {
    const o = asObject(p);
    const b = asObject(o.buddy, 'buddy');
    if (!Array.isArray(o.events)) bad('events must be a list');
    for (const e of o.events as unknown[]) {
      const ev = asObject(e, 'event');
      if (typeof ev.seq !== 'number' || typeof ev.time !== 'number' || typeof ev.type !== 'string') bad('each event needs seq, time and type');
    }
    return {
      buddy: { instance: str(b, 'instance'), uuid: str(b, 'uuid'), service: str(b, 'service'), pid: optInt(b, 'pid', 0) ?? 0, started: str(b, 'started') },
      events: o.events as BuddyEvent[],
    };
  },
};

/** Notifications a buddy sends unasked: `events` says there is something to collect (up to `seq`). */
export interface BuddyNotifications {
  events: { seq: number };
}
export const EVENTS_NOTIFICATION = 'events' satisfies keyof BuddyNotifications;
