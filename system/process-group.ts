// Facts about processes from /proc and kill(2): is anything of a process group still alive, and when did a pid start.
import { readdirSync, readFileSync } from 'node:fs';

/** Fields of /proc/PID/stat after the command name: index 0 is field 3 (state). */
export function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Start time of a process in clock ticks after boot (field 22), or null if it does not exist. */
export function processStartTime(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[19]) : null;
}

/** True when a process is alive (not a zombie) — and, if `startTime` is given, is that same process. */
export function processAlive(pid: number, startTime?: number | null): boolean {
  const f = statFields(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X') return false;
  return startTime === undefined || startTime === null || Number(f[19]) === startTime;
}

/**
 * True while any process of group `pgid` is alive. kill(-pgid, 0) answers quickly when the group
 * is empty; when it succeeds, zombies (orphans not yet reaped by init) must not count, so the
 * members are looked up in /proc.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const f = statFields(name);
    if (f && Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
  }
  return false;
}

/** Send a signal to a whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when the process a record names still runs: a pid whose start time proves it is the same
 * process (never a reused pid). For the status a previous buddy left (BuddyStatus).
 */
export function survives<T extends { pid: number | null; pidStartTime: number | null }>(
  record: T | null,
): record is T & { pid: number; pidStartTime: number } {
  if (!record || typeof record.pid !== 'number' || typeof record.pidStartTime !== 'number') return false;
  return processAlive(record.pid, record.pidStartTime);
}
