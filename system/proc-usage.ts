// What a process costs, from /proc: CPU ticks, resident memory, and who its children are.
import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from './process-group.js';

/** Clock ticks per second of the times in /proc/PID/stat (USER_HZ: 100 on every Linux Node runs on). */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** True for a zombie: it exited, and its parent has not reaped it yet (its times are final). */
  zombie: boolean;
  /** Start time in clock ticks after boot: with the pid, names one process for good. */
  startTime: number;
  /** utime + stime + cutime + cstime: CPU used by the process and by the children it reaped, in ticks. */
  ticks: number;
  /** Resident memory in bytes. */
  rss: number;
}

let pageSize: number | null = null;

/** The page size, learned once from this process: VmRSS (KiB) over the rss field (pages), rounded to a power of two. */
function bytesPerPage(): number {
  if (pageSize !== null) return pageSize;
  pageSize = 4096;
  try {
    const pages = Number(statFields('self')?.[21]);
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]);
    if (pages > 0 && kb > 0) pageSize = 2 ** Math.round(Math.log2((kb * 1024) / pages));
  } catch {
    /* keep 4096 */
  }
  return pageSize;
}

/** One process's /proc/PID/stat, or null when it no longer exists. */
export function readProcStat(pid: number): ProcStat | null {
  const f = statFields(pid);
  if (!f) return null;
  // Fields after the command name, from field 3: state(0) ppid(1) pgrp(2) … utime(11) stime(12) cutime(13) cstime(14) … starttime(19) vsize(20) rss(21)
  return {
    pid,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    zombie: f[0] === 'Z' || f[0] === 'X',
    startTime: Number(f[19]),
    ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    rss: Number(f[21]) * bytesPerPage(),
  };
}

/** The pids a process has forked that still exist (every thread's children). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      if (text) for (const c of text.split(' ')) out.push(Number(c));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** Clock ticks since boot now (from /proc/uptime), to tell processes born since a moment from older ones. */
export function bootTicksNow(): number {
  try {
    return Math.floor(Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * CLOCK_TICKS_PER_SECOND);
  } catch {
    return 0;
  }
}
