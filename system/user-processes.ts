// The processes of one user as /proc shows them: who owns a pid, its command line, when it started
// by the wall clock. What PidFile and ProcessMatch find a service's process by (buddy/find-running.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { ownerOf, selfAndAncestors } from './marked-processes.js';
import { bootTicksNow, CLOCK_TICKS_PER_SECOND } from './proc-usage.js';
import { statFields } from './process-group.js';

/** A living process: its pid, start time (clock ticks after boot) and owner. */
export interface ProcessFacts {
  pid: number;
  startTime: number;
  /** The owner of /proc/PID: the process's effective user. */
  uid: number;
  /**
   * /proc/PID/cmdline with its NULs as spaces (the trailing one dropped); "" for a kernel thread, and
   * for a moment in the middle of an execve, before the new program's arguments are in place.
   */
  cmdline: string;
  /** A kernel thread (PF_KTHREAD in /proc/PID/stat's flags): never a service's process. */
  kernelThread: boolean;
}

/** PF_KTHREAD, in the flags of /proc/PID/stat (field 9). */
const PF_KTHREAD = 0x00200000;

/** The process `pid` when it lives (not a zombie), or null. */
export function processFacts(pid: number): ProcessFacts | null {
  const f = statFields(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X') return null;
  const uid = ownerOf(pid);
  const cmdline = commandLine(pid);
  if (uid === null || cmdline === null) return null;
  return { pid, startTime: Number(f[19]), uid, cmdline, kernelThread: (Number(f[6]) & PF_KTHREAD) !== 0 };
}

/**
 * The living processes of user `uid` that have a command line, never init, this process or its
 * ancestors (the buddy and the controller that started it).
 */
export function userProcesses(uid: number): ProcessFacts[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const spared = selfAndAncestors();
  const out: ProcessFacts[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    // Nor init: a group of 1 to signal is kill(-1), every process there is.
    if (pid === 1 || spared.has(pid) || ownerOf(pid) !== uid) continue;
    const facts = processFacts(pid);
    if (facts && facts.uid === uid && facts.cmdline !== '') out.push(facts);
  }
  return out;
}

/** A command line as ps shows it: the NULs between the arguments as spaces. */
export function commandLineText(raw: string): string {
  return raw.replace(/\0+$/, '').replace(/\0/g, ' ');
}

/** When a process started by the wall clock (ms), from its start time in clock ticks after boot. */
export function startedAtMs(startTime: number, now = Date.now()): number {
  const ticks = bootTicksNow(); // (0: /proc/uptime unreadable)
  return ticks === 0 ? now : now - ((ticks - startTime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

function commandLine(pid: number): string | null {
  try {
    return commandLineText(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return null;
  }
}
