// The policy the machine runs by, from the buddy's settings (seconds become milliseconds).
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { MachinePolicy } from './machine.js';

export function policyOf(s: BuddySettings): MachinePolicy {
  return {
    killTimeoutMs: Math.round(s.killTimeout * 1000),
    maxConsecutiveFailures: s.maxConsecutiveFailures,
    minUptimeMs: Math.round(s.minUptime * 1000),
    rateLimitMs: Math.round(s.userRateLimit * 1000),
    randomize: s.randomizeRateLimit,
    maxRestarts: s.userMaxRestarts,
    windowMs: Math.round(s.userRestartWindow * 1000),
    // (Readiness keys come with the next step: MinUptime until then.)
    readiness: s.readyCheck !== null ? 'signal' : 'uptime',
    startTimeoutMs: 0,
    maxRunTimeMs: 0,
  };
}
