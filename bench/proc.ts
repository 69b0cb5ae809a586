// Reads what the kernel knows about a process: memory (smaps_rollup), CPU ticks (stat), and who mentions a path.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessMemory {
  pssKb: number;
  rssKb: number;
}

/** PSS and RSS of a process in kB, or null when it is gone. */
export function readMemory(pid: number): ProcessMemory | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { pssKb: field('Pss'), rssKb: field('Rss') };
}

/** utime + stime of a process (fields 14 and 15 of /proc/PID/stat), in clock ticks; null when it is gone. */
export function readCpuTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[14 - 3]) + Number(rest[15 - 3]);
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, asked once), 100 when getconf is not available. */
export function clockTicksPerSecond(): number {
  clockTicks ??= askClockTicks();
  return clockTicks;
}

function askClockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export interface FoundProcess {
  pid: number;
  cmdline: string;
}

/** Processes (other than this one) whose command line, environment or working directory mentions `path`. */
export function processesMentioning(path: string): FoundProcess[] {
  const found: FoundProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = readOr(`/proc/${pid}/cmdline`).replaceAll('\0', ' ').trim();
    if (cmdline.includes(path) || readOr(`/proc/${pid}/environ`).includes(path) || isInside(cwdOf(pid), path)) {
      found.push({ pid, cmdline });
    }
  }
  return found;
}

const isInside = (file: string, dir: string): boolean => file === dir || file.startsWith(`${dir}/`);

function readOr(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return ''; // gone, or not ours
  }
}

function cwdOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}
