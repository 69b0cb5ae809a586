// Finds a service's process that the buddy did not start: the one its PidFile names, or the one process
// of its user whose command line matches ProcessMatch. Taken over instead of a second copy started;
// never a reused pid: a pid file written before the process it names started is stale.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdoptionSettings } from '../schema/config/types.js';
import { HELPER_TAG } from '../schema/programs.js';
import { selfAndAncestors } from '../system/marked-processes.js';
import { processFacts, startedAtMs, userProcesses, type ProcessFacts } from '../system/user-processes.js';

/**
 * How much later than its pid file's last write a process may seem to have started and still be the
 * one the file names: the start time counts in ticks of 10 ms, the file's time in the kernel's coarse
 * clock, and the two clocks are lined up through /proc/uptime (10 ms).
 */
export const PIDFILE_SLACK_MS = 100;
/** Linux's largest pid (PID_MAX_LIMIT). */
const PID_MAX = 4_194_304;
/** A pid file's first bytes are all that is read of it. */
const PIDFILE_READ_BYTES = 64;

export type Lookup =
  /** The service's process, to take over. */
  | { kind: 'found'; pid: number; startTime: number; startedAt: number; how: 'pidfile' | 'match' }
  /** Nothing of the service runs (why, in words): a start goes on. */
  | { kind: 'none'; why: string }
  /** Something runs that cannot be told apart (several matches): neither taken over nor started beside. */
  | { kind: 'refused'; why: string };

/** A pid on the first line of a pid file's text (blanks around it allowed), or null. */
export function parsePid(text: string): number | null {
  const m = /^[ \t]*(\d{1,7})[ \t]*(?:\r?\n|$)/.exec(text);
  if (!m) return null;
  const pid = Number(m[1]);
  return pid >= 1 && pid <= PID_MAX ? pid : null;
}

/** What proves that the process a pid file names is the service's. */
export interface PidProof {
  file: string;
  /** When the file was last written (ms). */
  writtenAt: number;
  /** The service's user. */
  uid: number;
  /** ProcessMatch, when set: the process's command line must match it. */
  match: RegExp | null;
  /** Type forking: the start script's start time (ticks); the process must have started since. */
  notBefore?: number;
}

/**
 * Null when `proc` (what /proc shows of `pid`, null when nothing lives there) is the process the pid
 * file names; else why it is not, in words (never quoting the file).
 */
export function judgeNamed(proof: PidProof, pid: number, proc: (ProcessFacts & { startedAt: number }) | null): string | null {
  const names = `${proof.file} names pid ${pid}`;
  if (!proc) return `${names}, which does not run`;
  if (proc.uid !== proof.uid) return `${names}, a process of user ${proc.uid}, not of the service's user ${proof.uid}`;
  if (proc.startedAt > proof.writtenAt + PIDFILE_SLACK_MS)
    return `${names}, which started at ${iso(proc.startedAt)}, after the file was written (${iso(proof.writtenAt)}): a stale pid file, the pid is another process's now`;
  if (proof.notBefore !== undefined && proc.startTime < proof.notBefore) return `${names}, which ran before the start script did`;
  if (proof.match && !proof.match.test(proc.cmdline))
    return `${names}, whose command line ${JSON.stringify(cut(proc.cmdline))} does not match ProcessMatch ${JSON.stringify(proof.match.source)}`;
  return null;
}

/** What the processes matching ProcessMatch mean: exactly one is the service's. */
export function judgeMatches(source: string, uid: number, matches: readonly (ProcessFacts & { startedAt: number })[]): Lookup {
  const which = `ProcessMatch ${JSON.stringify(source)}`;
  if (matches.length === 0) return { kind: 'none', why: `${which} matches no process of user ${uid}` };
  if (matches.length > 1) {
    const pids = matches.map((m) => m.pid).sort((a, b) => a - b);
    return {
      kind: 'refused',
      why: `${which} matches ${pids.length} processes of user ${uid} (pids ${pids.join(', ')}): none is taken over, and no other is started`,
    };
  }
  const [m] = matches as [ProcessFacts & { startedAt: number }];
  return { kind: 'found', pid: m.pid, startTime: m.startTime, startedAt: m.startedAt, how: 'match' };
}

/** The service's process as PidFile, then ProcessMatch, find it now. */
export function findRunning(s: AdoptionSettings, uid: number): Lookup {
  const match = compile(s.processMatch);
  if (typeof match === 'string') return { kind: 'none', why: match };
  const reasons: string[] = [];
  if (s.pidFile !== null) {
    const named = readPidFile(s.pidFile, uid);
    if ('why' in named) reasons.push(named.why);
    else if (isUpkeeperOrInit(named.pid)) reasons.push(notTaken(s.pidFile, named.pid));
    else {
      const proc = living(named.pid);
      const why = notAService(proc)
        ? notTaken(s.pidFile, named.pid)
        : judgeNamed({ file: s.pidFile, writtenAt: named.writtenAt, uid, match }, named.pid, proc);
      if (why === null && proc)
        return { kind: 'found', pid: proc.pid, startTime: proc.startTime, startedAt: proc.startedAt, how: 'pidfile' };
      if (why !== null) reasons.push(why);
    }
  }
  if (match !== null && s.processMatch !== null) {
    const matches = userProcesses(uid)
      .filter((p) => match.test(p.cmdline) && !upkeepersProgram(p.cmdline))
      .map((p) => ({ ...p, startedAt: startedAtMs(p.startTime) }));
    const outcome = judgeMatches(s.processMatch, uid, matches);
    if (outcome.kind !== 'none') return outcome;
    reasons.push(outcome.why);
  }
  return { kind: 'none', why: reasons.length > 0 ? reasons.join('; ') : 'neither PidFile nor ProcessMatch is set' };
}

/**
 * Type forking, once the start script (started at `scriptStart` ticks, spawned at `spawnedAt` ms) has
 * exited 0: the process its PidFile names. `wait`: the file may still be written (missing, empty,
 * or older than this start); otherwise what it names is final.
 */
export function forkedProcess(
  s: AdoptionSettings,
  uid: number,
  scriptStart: number,
  spawnedAt: number,
): { pid: number; startTime: number; startedAt: number } | { why: string; wait: boolean } {
  const file = s.pidFile;
  if (file === null) return { why: 'PidFile is not set', wait: false };
  const match = compile(s.processMatch);
  if (typeof match === 'string') return { why: match, wait: false };
  const named = readPidFile(file, uid);
  if ('why' in named) return { why: named.why, wait: named.wait };
  if (named.writtenAt + PIDFILE_SLACK_MS < spawnedAt)
    return { why: `${file} was last written at ${iso(named.writtenAt)}, before this start: not written by it`, wait: true };
  if (isUpkeeperOrInit(named.pid)) return { why: notTaken(file, named.pid), wait: false };
  const proc = living(named.pid);
  if (notAService(proc)) return { why: notTaken(file, named.pid), wait: false };
  // In the middle of its execve (the daemon the start script forked, starting its program): look again.
  if (proc?.cmdline === '') return { why: `${file} names pid ${named.pid}, which is starting its program`, wait: true };
  const why = judgeNamed({ file, writtenAt: named.writtenAt, uid, match, notBefore: scriptStart }, named.pid, proc);
  if (why !== null || !proc) return { why: why ?? `${file} names pid ${named.pid}, which does not run`, wait: false };
  return { pid: proc.pid, startTime: proc.startTime, startedAt: proc.startedAt };
}

/**
 * Never taken over whatever a pid file says: init (as a group, -1 is every process there is) and the
 * buddy and its ancestors (the controller), which a stop would signal.
 */
function isUpkeeperOrInit(pid: number): boolean {
  return pid === 1 || selfAndAncestors().has(pid);
}

/** The directory upkeeper's programs are in (dist/): buddy/, controller/, clients/. */
const PROGRAMS = `${dirname(dirname(fileURLToPath(import.meta.url)))}${sep}`;

/**
 * A command line that runs one of upkeeper's programs (another service's buddy, whose run directory
 * holds its service's name; a controller; upk itself): never a service's process.
 */
export function upkeepersProgram(cmdline: string): boolean {
  return cmdline.includes(PROGRAMS) || cmdline.includes(HELPER_TAG);
}

/** Never a service's process: a kernel thread (it never ends) or one of upkeeper's programs. */
const notAService = (proc: ProcessFacts | null): boolean => proc !== null && (proc.kernelThread || upkeepersProgram(proc.cmdline));

const notTaken = (file: string, pid: number): string =>
  `${file} names pid ${pid}, init, a kernel thread or upkeeper's own: never taken over`;

function living(pid: number): (ProcessFacts & { startedAt: number }) | null {
  const proc = processFacts(pid);
  return proc ? { ...proc, startedAt: startedAtMs(proc.startTime) } : null;
}

/** O_NONBLOCK: a FIFO put where the pid file should be never holds the buddy up. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * The pid a pid file names and when it was last written; or why not (`wait`: it may yet be written).
 * Only a file of root or of the service's user is believed (as systemd): another user could otherwise
 * name any process of the service's user, for the next stop to kill.
 */
function readPidFile(file: string, uid: number): { pid: number; writtenAt: number } | { why: string; wait: boolean } {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? { why: `${file} does not exist`, wait: true }
      : { why: `${file} cannot be read: ${(err as Error).message}`, wait: false };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { why: `${file} is not a regular file`, wait: false };
    if (stat.uid !== 0 && stat.uid !== uid)
      return { why: `${file} belongs to uid ${stat.uid}, neither root nor the service's user: not believed`, wait: false };
    const bytes = Buffer.alloc(PIDFILE_READ_BYTES);
    const n = readSync(fd, bytes, 0, bytes.length, 0);
    const pid = parsePid(bytes.subarray(0, n).toString('latin1'));
    // (An empty file is one being written.)
    if (pid === null) return { why: `${file} holds no pid on its first line`, wait: n === 0 };
    return { pid, writtenAt: stat.mtimeMs };
  } catch (err) {
    return { why: `${file} cannot be read: ${(err as Error).message}`, wait: false };
  } finally {
    closeSync(fd);
  }
}

/** ProcessMatch compiled (the configuration checked it); a message when it cannot be. */
function compile(source: string | null): RegExp | null | string {
  if (source === null) return null;
  try {
    return new RegExp(source);
  } catch (err) {
    return `ProcessMatch ${JSON.stringify(source)} is not a regular expression: ${(err as Error).message}`;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
const cut = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text);
