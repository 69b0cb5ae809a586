// Reads buddy.json and turns it into the policies the machine and runtime use.
import { readFileSync } from 'node:fs';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { BuddyStatus } from '../schema/records.js';
import { processAlive } from '../system/process-group.js';
import type { MachinePolicy } from './machine.js';

export function readSettings(path: string): BuddySettings {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as BuddySettings;
  if (raw.settingsVersion !== 1 || typeof raw.service !== 'string' || typeof raw.uuid !== 'string') {
    throw new Error(`${path}: not a buddy settings file of version 1`);
  }
  return raw;
}

/**
 * The status a previous buddy left in the run directory, when the service it supervised still runs:
 * same service, and a pid whose start time proves it is the same process (never a reused pid).
 */
export function survivingService(statusFile: string, uuid: string): BuddyStatus | null {
  let previous: BuddyStatus;
  try {
    previous = JSON.parse(readFileSync(statusFile, 'utf8')) as BuddyStatus;
  } catch {
    return null;
  }
  if (previous.uuid !== uuid || typeof previous.pid !== 'number' || typeof previous.pidStartTime !== 'number') return null;
  return processAlive(previous.pid, previous.pidStartTime) ? previous : null;
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
