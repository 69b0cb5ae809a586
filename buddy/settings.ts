// Reads buddy.json and turns it into the policies the machine and runtime use.
import { readFileSync } from 'node:fs';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { MachinePolicy } from './machine.js';

export function readSettings(path: string): BuddySettings {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as BuddySettings;
  if (raw.settingsVersion !== 1 || typeof raw.service !== 'string' || typeof raw.uuid !== 'string') {
    throw new Error(`${path}: not a buddy settings file of version 1`);
  }
  return raw;
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
