// The policy the machine runs by, from the buddy's settings (seconds become milliseconds).
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { MachinePolicy } from './machine.js';
import { overlapRefused } from '../schema/restart-mode.js';

/** StartTimeout's default for a service whose readiness is signalled: systemd's TimeoutStartSec. */
export const START_TIMEOUT_DEFAULT = 90;

/**
 * The service says itself when it is ready (ReadyFd, Type notify, ReadyLine), rather than by MinUptime;
 * Type forking is ready once its start script has exited (unless one of the others says it).
 */
export function signalled(s: BuddySettings): boolean {
  if (s.serviceType === 'oneshot') return false; // a job runs to its end: nothing makes it "ready"
  return s.serviceType === 'notify' || s.serviceType === 'forking' || s.readyFd !== null || s.readyLine !== null || s.readyCheck != null;
}

export function policyOf(s: BuddySettings): MachinePolicy {
  const signal = signalled(s);
  return {
    killTimeoutMs: Math.round(s.killTimeout * 1000),
    maxConsecutiveFailures: s.maxConsecutiveFailures,
    minUptimeMs: Math.round(s.minUptime * 1000),
    rateLimitMs: Math.round(s.userRateLimit * 1000),
    randomize: s.randomizeRateLimit,
    maxRestarts: s.userMaxRestarts,
    windowMs: Math.round(s.userRestartWindow * 1000),
    readiness: signal ? 'signal' : 'uptime',
    // (MinUptime readiness has no start timeout: the uptime timer always ends the start.)
    startTimeoutMs: signal ? Math.round((s.startTimeout ?? START_TIMEOUT_DEFAULT) * 1000) : 0,
    maxRunTimeMs: Math.round((s.maxRunTime ?? 0) * 1000),
    job: s.serviceType === 'oneshot' ? { scheduled: s.schedule !== null, overlap: s.scheduleOverlap === 'queue' ? 'queue' : 'skip' } : null,
    overlap: s.restartMode === 'overlap' && overlapRefused(s) === null,
  };
}
