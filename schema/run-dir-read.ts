// Readers of the run directory's contract, shared by the buddy and the controller: buddy.json (the
// settings a controller wrote for its buddy) and `status` (what a buddy last wrote of itself), each
// checked for its shape, so that a damaged or foreign file is an error naming the file and the field,
// never a record with holes.
import { readFileSync } from 'node:fs';
import type { BuddySettings } from './buddy-protocol.js';
import type { AdoptionSettings, HealthSettings, ReadinessSettings, ScheduleSettings } from './config/types.js';
import type { BuddyStatus } from './records.js';

/** Health checks and limits (issue 13): off in a buddy.json written before them. */
export const HEALTH_FIELDS = {
  healthCheck: null,
  healthInterval: 30,
  healthTimeout: 5,
  healthRetries: 3,
  healthRecoveries: 1,
  healthStartPeriod: 0,
  healthAction: 'restart',
  healthExpect: null,
  healthFailLine: null,
  readyCheck: null,
  readyCheckInterval: 1,
  maxMemory: null,
  maxMemoryAction: 'restart',
  maxCpu: null,
  maxCpuWindow: 60,
  maxCpuAction: 'restart',
  activityFile: null,
  activityTimeout: 0,
  activityAction: 'restart',
} as const satisfies HealthSettings;

/** Readiness (issue 13): MinUptime alone in a buddy.json written before it. */
export const READINESS_FIELDS = {
  serviceType: 'simple',
  readyFd: null,
  readyLine: null,
  startTimeout: null,
  watchdogSec: null,
  maxRunTime: null,
  listen: [],
  restartMode: 'stop-start',
} as const satisfies ReadinessSettings;

/** Jobs (issue 14): none in a buddy.json written before them. */
export const SCHEDULE_FIELDS = { schedule: null, scheduleOverlap: 'skip', cronRestart: null } as const satisfies ScheduleSettings;
/** PidFile and ProcessMatch (issue 14): none in a buddy.json written before them. */
export const ADOPTION_FIELDS = { pidFile: null, processMatch: null } as const satisfies AdoptionSettings;

/** Fields added after settings version 1 first shipped, for a buddy.json an older controller wrote. */
const LATER_FIELDS: Pick<
  BuddySettings,
  | 'journalMaxEvents'
  | 'controllerEndpoint'
  | 'logMaxSize'
  | 'logKeep'
  | 'sampleInterval'
  | 'logTimestamps'
  | 'environmentFiles'
  | 'startCommand'
  | 'stopSignal'
> &
  typeof HEALTH_FIELDS &
  typeof READINESS_FIELDS &
  typeof SCHEDULE_FIELDS &
  typeof ADOPTION_FIELDS = {
  sampleInterval: 0,
  ...HEALTH_FIELDS,
  journalMaxEvents: 100_000,
  controllerEndpoint: null,
  logMaxSize: 0,
  logKeep: 5,
  logTimestamps: false,
  environmentFiles: [],
  startCommand: null,
  stopSignal: null,
  ...READINESS_FIELDS,
  ...SCHEDULE_FIELDS,
  ...ADOPTION_FIELDS,
};

type Kind = 'string' | 'number' | 'boolean' | 'string?' | 'number?' | 'strings' | 'strings?' | 'object' | 'list';
/** The type of every field of BuddySettings (after LATER_FIELDS are filled in). */
const SETTINGS_FIELDS: Record<keyof BuddySettings, Kind> = {
  settingsVersion: 'number',
  service: 'string',
  uuid: 'string',
  killTimeout: 'number',
  maxConsecutiveFailures: 'number',
  userMaxRestarts: 'number',
  userRestartWindow: 'number',
  userRateLimit: 'number',
  randomizeRateLimit: 'boolean',
  minUptime: 'number',
  serviceType: 'string',
  readyFd: 'number?',
  readyLine: 'string?',
  startTimeout: 'number?',
  watchdogSec: 'number?',
  maxRunTime: 'number?',
  listen: 'list',
  restartMode: 'string',
  schedule: 'string?',
  scheduleOverlap: 'string',
  cronRestart: 'string?',
  pidFile: 'string?',
  processMatch: 'string?',
  ringbufferSize: 'number',
  reconnectRetries: 'number',
  journalMaxEvents: 'number',
  controllerEndpoint: 'string?',
  logMaxSize: 'number',
  logKeep: 'number',
  logTimestamps: 'boolean',
  sampleInterval: 'number',
  healthCheck: 'string?',
  healthInterval: 'number',
  healthTimeout: 'number',
  healthRetries: 'number',
  healthRecoveries: 'number',
  healthStartPeriod: 'number',
  healthAction: 'string',
  healthExpect: 'string?',
  healthFailLine: 'string?',
  readyCheck: 'string?',
  readyCheckInterval: 'number',
  maxMemory: 'number?',
  maxMemoryAction: 'string',
  maxCpu: 'number?',
  maxCpuWindow: 'number',
  maxCpuAction: 'string',
  activityFile: 'string?',
  activityTimeout: 'number',
  activityAction: 'string',
  customActions: 'strings',
  startCommand: 'strings?',
  stopSignal: 'string?',
  pipeStdout: 'boolean',
  pipeStderr: 'boolean',
  redirectStdout: 'string?',
  redirectStderr: 'string?',
  environment: 'object',
  environmentFiles: 'list',
  workingDirectory: 'string',
  uid: 'number?',
  gid: 'number?',
};

function fits(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string?':
      return value === null || typeof value === 'string';
    case 'number?':
      return value === null || (typeof value === 'number' && Number.isFinite(value));
    case 'strings':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'strings?':
      return value === null || (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string'));
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'list':
      return Array.isArray(value);
  }
}

/** buddy.json, checked field by field; throws an Error naming the file and the first bad field. */
export function readSettings(path: string): BuddySettings {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  if (raw === null || typeof raw !== 'object' || raw.settingsVersion !== 1)
    throw new Error(`${path}: not a buddy settings file of version 1`);
  const settings = { ...LATER_FIELDS, ...raw } as Record<string, unknown>;
  for (const [field, kind] of Object.entries(SETTINGS_FIELDS)) {
    if (!fits(settings[field], kind))
      throw new Error(`${path}: ${field}: expected ${kind.replace('?', ' or null')}, got ${JSON.stringify(settings[field]) ?? 'nothing'}`);
  }
  return settings as unknown as BuddySettings;
}

/**
 * The status a previous buddy of this service left in the run directory, or null: none, unreadable,
 * of another service (uuid), or without the fields a survivor is judged by.
 */
export function previousStatus(statusFile: string, uuid: string): BuddyStatus | null {
  try {
    const previous = JSON.parse(readFileSync(statusFile, 'utf8')) as Record<string, unknown>;
    if (previous === null || typeof previous !== 'object' || previous.uuid !== uuid) return null;
    if (!fits(previous.pid, 'number?') || !fits(previous.pidStartTime, 'number?') || typeof previous.state !== 'string') return null;
    return previous as unknown as BuddyStatus;
  } catch {
    return null;
  }
}
