// Reads buddy.json and turns it into the policies the machine and runtime use.
import { readFileSync } from 'node:fs';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { BuddyStatus } from '../schema/records.js';
import { processAlive } from '../system/process-group.js';
import type { MachinePolicy } from './machine.js';

/** Fields added after settings version 1 first shipped, for a buddy.json an older controller wrote. */
const LATER_FIELDS: Pick<
  BuddySettings,
  'journalMaxEvents' | 'controllerEndpoint' | 'logMaxSize' | 'logKeep' | 'sampleInterval' | 'logTimestamps' | 'environmentFiles'
> = {
  sampleInterval: 0,
  journalMaxEvents: 100_000,
  controllerEndpoint: null,
  logMaxSize: 0,
  logKeep: 5,
  logTimestamps: false,
  environmentFiles: [],
};

export function readSettings(path: string): BuddySettings {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as BuddySettings;
  if (raw.settingsVersion !== 1 || typeof raw.service !== 'string' || typeof raw.uuid !== 'string') {
    throw new Error(`${path}: not a buddy settings file of version 1`);
  }
  return { ...LATER_FIELDS, ...raw };
}

/** The status a previous buddy of this service left in the run directory, or null. */
export function previousStatus(statusFile: string, uuid: string): BuddyStatus | null {
  try {
    const previous = JSON.parse(readFileSync(statusFile, 'utf8')) as BuddyStatus;
    return previous.uuid === uuid ? previous : null;
  } catch {
    return null;
  }
}

/**
 * True when the service a previous buddy supervised still runs: a pid whose start time proves it is
 * the same process (never a reused pid).
 */
export function serviceSurvives(previous: BuddyStatus | null): previous is BuddyStatus & { pid: number } {
  if (!previous || typeof previous.pid !== 'number' || typeof previous.pidStartTime !== 'number') return false;
  return processAlive(previous.pid, previous.pidStartTime);
}

export function policyOf(s: BuddySettings): MachinePolicy {
  return {
    killTimeoutMs: Math.round(s.killTimeout * 1000),
    maxConsecutiveFailures: s.maxConsecutiveFailures,
    minUptimeMs: Math.round(s.minUptime * 1000),
    rateLimitMs: Math.round(s.userRateLimit * 1000),
    randomize: s.randomizeRateLimit,
    maxRestarts: s.userMaxRestarts,
    windowMs: Math.round(s.userRestartWindow * 1000),
  };
}
