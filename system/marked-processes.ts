// Finds the processes of one user that carry an environment marker (NAME=value) wherever they are:
// what a service left behind after leaving its process group (setsid, a double fork) is found by it.
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { groupAlive, signalGroup, statFields } from './process-group.js';

/** A service's processes: the ones of user `uid` whose environment holds `NAME=value`. */
export interface Marker {
  uid: number;
  /** `NAME=value\0`, the bytes looked for in /proc/PID/environ. */
  entry: Buffer;
}

export function markerOf(name: string, value: string, uid: number): Marker {
  return { uid, entry: Buffer.from(`${name}=${value}\0`) };
}

/** True when the NUL-separated environment block `env` holds `entry` (`NAME=value\0`) as a whole variable. */
export function environHas(env: Buffer, entry: Buffer): boolean {
  for (let at = env.indexOf(entry); at >= 0; at = env.indexOf(entry, at + 1)) {
    if (at === 0 || env[at - 1] === 0) return true;
  }
  return false;
}

/**
 * A moment of the kernel's pid allocation: the last pid handed out (in our pid namespace), the tasks
 * (processes and threads) forked since boot, and the tasks that exist. Every process created after
 * that moment has a pid after `last`, counting on in a circle, for as long as the pids handed out
 * since have not gone round the whole circle.
 */
export interface PidMark {
  last: number;
  forks: number;
  tasks: number;
}

/** Pids up to 300 are never handed out again after boot (RESERVED_PIDS). */
const RESERVED_PIDS = 300;

/** The pid allocation now, from /proc/loadavg and /proc/stat; null if they cannot be read. */
export function pidMarkNow(): PidMark | null {
  // /proc/loadavg: "0.00 0.01 0.05 RUNNING/TASKS LAST_PID"
  const m = /(\d+)\/(\d+) (\d+)/.exec(readText('/proc/loadavg'));
  const forks = /^processes (\d+)$/m.exec(readText('/proc/stat'));
  if (!m || !forks) return null;
  return { last: Number(m[3]), forks: Number(forks[1]), tasks: Number(m[2]) };
}

/**
 * Which pids were handed out between `since` and `now`, or null when that cannot be told (they
 * may have gone round the whole circle: look everywhere). The cursor moves over a pid either to hand
 * it out (at most `now.forks - since.forks` times, a count of every fork on the machine) or to skip
 * it while in use; a pid in use then is a task's pid, process group or session, at most three per
 * task that existed at `since` (later ones were counted as forks).
 */
export function pidsBetween(since: PidMark, now: PidMark, pidMax: number): ((pid: number) => boolean) | null {
  if (now.forks - since.forks + 3 * since.tasks >= pidMax - RESERVED_PIDS) return null;
  const { last: from } = since;
  const { last: to } = now;
  return from <= to ? (pid) => pid > from && pid <= to : (pid) => pid > from || pid <= to;
}

export interface ScanOptions {
  /** Leave out the members of these process groups (the group's own signal reaches them, or they are spared). */
  outside?: number | readonly number[] | null;
  /** Stop at the first process found. */
  first?: boolean;
  /** Look only at the pids handed out after this moment (when that can be told). */
  since?: PidMark | null;
}

/**
 * Pids of the living processes of `marker.uid` whose environment holds the marker, never this
 * process or its ancestors.
 *
 * Cost: a readdir of /proc; with `since`, only the pids handed out since (in a crash loop, a handful)
 * go further. Then, when this process runs as root, a stat of /proc/PID (its owner is the process's
 * effective user); the environment (one open, one read) only of processes of the marker's user.
 * Without root the open itself is that filter: only our own user's environments can be read. A
 * zombie's environment reads empty, so zombies never match.
 */
export function markedProcesses(marker: Marker, options: ScanOptions = {}): number[] {
  const found: number[] = [];
  const me = process.getuid?.() ?? 0;
  if (me !== 0 && marker.uid !== me) return found; // another user's environment cannot be read
  const probe = options.since ? pidsToProbe(options.since) : null;
  let entries: Iterable<string>;
  let inWindow: ((pid: number) => boolean) | null = null;
  if (probe) entries = probe;
  else {
    try {
      entries = readdirSync('/proc');
    } catch {
      return found;
    }
    // Read after the listing: every pid listed is handed out before this moment.
    if (options.since) inWindow = pidWindow(options.since)?.inWindow ?? null;
  }
  let spared: Set<number> | null = null;
  const outside = options.outside == null ? [] : typeof options.outside === 'number' ? [options.outside] : options.outside;
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (inWindow && !inWindow(pid)) continue;
    if (me === 0 && ownerOf(name) !== marker.uid) continue;
    const env = readProc(`/proc/${name}/environ`);
    if (!env || !environHas(env, marker.entry)) continue;
    // A pid probed directly may be a thread's (/proc lists only processes): its process is the one.
    if (probe && !leadsThreadGroup(name)) continue;
    spared ??= selfAndAncestors();
    if (spared.has(pid)) continue;
    if (outside.length > 0) {
      const f = statFields(name);
      if (!f || outside.includes(Number(f[2]))) continue;
    }
    found.push(pid);
    if (options.first) break;
  }
  return found;
}

/**
 * Whether a process carries the marker that was not among the pids handed out since `since` (true too
 * when that cannot be told): one older than the moment. A whole scan.
 */
export function markedBefore(marker: Marker, since: PidMark): boolean {
  const found = markedProcesses(marker);
  if (found.length === 0) return false;
  const recent = pidWindow(since)?.inWindow;
  return found.some((pid) => !recent?.(pid));
}

/** At most this many pids handed out since a mark are looked at one by one instead of listing /proc. */
const PROBE_MAX = 256;

/** The window of pids handed out since `since` until now, and how many it holds; null when that cannot be told. */
function pidWindow(since: PidMark): { inWindow: (pid: number) => boolean; now: PidMark; pidMax: number; count: number } | null {
  const now = pidMarkNow();
  const pidMax = now ? Number(readText('/proc/sys/kernel/pid_max')) : 0;
  const inWindow = now && pidMax > 0 ? pidsBetween(since, now, pidMax) : null;
  if (!inWindow || !now || since.last >= pidMax) return null; // (pid_max lowered since: look everywhere)
  // Past pid_max - 1 the kernel goes on from RESERVED_PIDS.
  const count = now.last >= since.last ? now.last - since.last : pidMax - 1 - since.last + (now.last - RESERVED_PIDS + 1);
  return { inWindow, now, pidMax, count };
}

/**
 * When few pids were handed out since `since` (a crash loop, the moment after an exit), those pids,
 * cheaper to look at one by one than a listing of every process on the machine (a failed open for
 * each pid not in use); null otherwise.
 */
function pidsToProbe(since: PidMark): string[] | null {
  // Read before the probe: every pid handed out up to this moment is looked at.
  const w = pidWindow(since);
  if (!w || w.count < 0 || w.count > PROBE_MAX) return null;
  const probe: string[] = [];
  for (let pid = since.last; pid !== w.now.last && probe.length < w.count;) {
    pid = pid + 1 >= w.pidMax ? RESERVED_PIDS : pid + 1;
    probe.push(String(pid));
  }
  return probe;
}

/** True when `pid` is a process (its thread group's leader), not another thread of one. */
function leadsThreadGroup(pid: string): boolean {
  const status = readProc(`/proc/${pid}/status`);
  return (status && /^Tgid:\s*(\d+)$/m.exec(status.toString('latin1')))?.[1] === pid;
}

/**
 * True while anything of a service lives: a member of its group `pgid`, or a marked process (with
 * `since`, one among the pids handed out since then) outside group `spare` when one is given.
 */
export function serviceAlive(pgid: number, marker: Marker, since: PidMark | null = null, spare: number | null = null): boolean {
  return groupAlive(pgid) || markedProcesses(marker, { first: true, since, outside: spare }).length > 0;
}

/**
 * Send `signal` to group `pgid` and to every marked process outside it (looked for everywhere), but
 * never to group `spare`. `group`: the group still existed; `escaped`: the pids outside it that were signalled.
 */
export function signalService(
  pgid: number,
  marker: Marker,
  signal: NodeJS.Signals,
  spare: number | null = null,
): { group: boolean; escaped: number[] } {
  const group = signalGroup(pgid, signal);
  const escaped: number[] = [];
  for (const pid of markedProcesses(marker, { outside: spare === null ? pgid : [pgid, spare] })) {
    try {
      process.kill(pid, signal);
      escaped.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return { group, escaped };
}

/** One buffer for every file read here (most are a few KiB); it grows for a larger one. */
let block = Buffer.allocUnsafe(16 * 1024);

/**
 * A file of /proc, whole, in the shared buffer (valid until the next read), or null if it cannot be
 * read. The kernel fills a read of these files as far as they go, so a read shorter than asked is
 * the end.
 */
function readProc(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null; // gone, or another user's environment (without root)
  }
  try {
    let length = 0;
    for (;;) {
      length += readSync(fd, block, length, block.length - length, null);
      if (length < block.length) return block.subarray(0, length);
      const larger = Buffer.allocUnsafe(block.length * 2);
      block.copy(larger, 0, 0, length);
      block = larger;
    }
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const readText = (path: string): string => readProc(path)?.toString('latin1') ?? '';

/** The user a process runs as (the owner of /proc/PID: its effective user), or null when it is gone. */
export function ownerOf(pid: number | string): number | null {
  try {
    return statSync(`/proc/${pid}`, { throwIfNoEntry: false })?.uid ?? null;
  } catch {
    return null;
  }
}

/** This process and its ancestors: never signalled, whatever their environment says. */
export function selfAndAncestors(): Set<number> {
  const out = new Set<number>([process.pid]);
  for (let pid = process.ppid; pid > 1 && !out.has(pid);) {
    out.add(pid);
    pid = Number(statFields(pid)?.[1] ?? 0);
  }
  return out;
}
