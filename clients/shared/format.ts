// How the clients show a service's figures in few characters: durations, sizes, last exits, states.
import { plain, type ControllerProblem, type ExitInfo, type ServiceStatus, type StatusAtResult } from '../../libclient/index.js';

export { plain };

/** "1 service", "2 services": a count with its noun, singular or plural (the plural by adding "s" unless given). */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** 3d4h, 5m12s, 800ms. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  const units: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [size, name] of units) {
    if (rest >= size || (parts.length > 0 && parts.length < 2)) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      if (parts.length < 2 && (n > 0 || parts.length > 0)) parts.push(`${n}${name}`);
    }
  }
  return parts.join('') || '0s';
}

export function describeLastExit(exit: ExitInfo | null, now = Date.now()): string {
  if (!exit) return '-';
  const how = exit.signal ? exit.signal : exit.code !== null ? `code ${exit.code}` : 'unknown';
  return `${how}, ${duration(now - Date.parse(exit.at))} ago`;
}

/** A state shown with a `!` when it is not what is wanted; `unsupervised` when no buddy can be started for it. */
export function stateCell(s: ServiceStatus): string {
  if (s.unsupervised) return 'unsupervised!';
  const state = (inDesiredState(s) ? s.state : `${s.state}!`) + (s.previous ? ' +old' : '');
  return s.health?.status === 'unhealthy' ? `${state} (unhealthy)` : state;
}

/** An overlap restart under way, in words (`upk status`, uptop's detail): the old run beside the new one; null otherwise. */
export function previousLine(s: ServiceStatus): string | null {
  const p = s.previous;
  if (!p) return null;
  const pid = p.pid === null ? 'what the old run left' : `the old run (pid ${p.pid})`;
  return p.draining ? `overlap restart: ${pid} drains` : `overlap restart: ${pid} serves until the new run is ready`;
}

/** A service's health in words (`upk status`, uptop's detail), or null without a health check. */
export function healthLine(s: ServiceStatus): string | null {
  const h = s.health;
  if (!h) return null;
  const failures = h.failures > 0 ? `, ${h.failures} failed check${h.failures === 1 ? '' : 's'} in a row` : '';
  const last = h.lastOutput && h.status !== 'healthy' ? `: ${plain(h.lastOutput)}` : '';
  return `health: ${h.status}${failures}${last}`;
}

/**
 * When the time asked about is before the oldest event kept (retention deleted what is older), the
 * statuses then are guessed from what is left, not known: says so; else null. (A controller from
 * before `historyFrom` does not say: null.)
 */
export function beforeHistory(past: Pick<StatusAtResult, 'at' | 'historyFrom'>): string | null {
  const from = past.historyFrom;
  if (typeof from !== 'string' || Date.parse(past.at) >= Date.parse(from)) return null;
  return `${past.at} is before the history kept, which begins at ${from}: the statuses then are not known, only guessed`;
}

/** What is wrong with the controller, a line each (`upk list`, `upk controller status`). */
export function problemLines(problems: ControllerProblem[]): string[] {
  return problems.map((p) => `! ${p.message} (since ${p.since})`);
}

/** One service's missing supervision in words, or null. */
export function unsupervisedLine(s: ServiceStatus): string | null {
  const u = s.unsupervised;
  return u ? `! ${s.name}: unsupervised since ${u.since} (${u.attempts} failed buddy launches; still trying): ${u.reason}` : null;
}

/** Wanted running: running, or a scheduled job between its runs (its schedule is on). */
export function inDesiredState(s: ServiceStatus): boolean {
  return s.desired === 'running' ? s.state === 'running' || s.state === 'scheduled' : s.state === 'stopped';
}

/** When a Schedule or CronRestart is due next: "in 4m12s (2026-11-21 03:00:00 UTC)". */
export function nextRunCell(iso: string, now = Date.now()): string {
  return `in ${duration(Date.parse(iso) - now)} (${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC)`;
}

/** 512 → "512B", 45613056 → "43.5M", 3.2e9 → "3.0G" (binary units, as top prints). */
export function bytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(v < 100 ? 1 : 0)}${units[i]}`;
}
