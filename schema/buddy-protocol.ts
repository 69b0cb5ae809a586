// The controller↔buddy protocol: JSON frames (see codec.ts), request ids, one definition for both ends.
import type { Validators } from './rpc.js';
import type { ActionResult, BuddyEvent, BuddyStatus } from './records.js';
import { asObject, optBool, optInt, str } from './validate.js';

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
  reconnectRetries: number;
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

/** Notifications a buddy sends unasked: `events` says there is something to collect (up to `seq`). */
export interface BuddyNotifications {
  events: { seq: number };
}
export const EVENTS_NOTIFICATION = 'events' satisfies keyof BuddyNotifications;
