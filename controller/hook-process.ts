// One run of a hook's command: a process group of its own, the event as JSON on standard input, the
// last bytes of its output kept; the whole group killed when it outlives its timeout, and what is left
// of it when the program ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { formatDuration } from '../schema/durations.js';
import type { Clock, Timer } from '../system/clock.js';
import { signalGroup } from '../system/process-group.js';

/** The most of a run's output kept (stdout and stderr as they came): the end of it. */
export const HOOK_OUTPUT_MAX = 4096;
/** After the SIGTERM of a timeout, the group's SIGKILL. */
export const HOOK_KILL_AFTER_MS = 2000;
/**
 * Once the program exited, how long its output may take to drain (a process it left behind may hold
 * the pipe); and how long after it what it left in its group is killed, so that a child it started
 * with setsid just before it exited has left the group by then.
 */
const DRAIN_MS = 500;

export interface HookCommand {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Written to its standard input, which is then closed. */
  input: string;
  timeoutMs: number;
}

export interface HookProcessEnd {
  outcome: 'ok' | 'failed' | 'timed_out';
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  output: string;
}

export interface HookProcess {
  /** Null when it could not be started. */
  pid: number | null;
  done: Promise<HookProcessEnd>;
  /** SIGKILL to the whole group (the controller stops). */
  kill(): void;
}

/** Start `cmd`; `done` settles once it ended (never rejects). */
export function runHookProcess(cmd: HookCommand, clock: Clock): HookProcess {
  let child: ChildProcess;
  const program = cmd.argv[0] ?? '';
  try {
    child = spawn(program, cmd.argv.slice(1), { cwd: cmd.cwd, env: cmd.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    return { pid: null, done: Promise.resolve(notStarted(program, err)), kill: () => undefined };
  }
  const pid = child.pid ?? null;
  const output = new OutputTail(HOOK_OUTPUT_MAX);
  const timers: Timer[] = [];
  let timedOut = false;
  let exitedAt: number | null = null;
  const done = new Promise<HookProcessEnd>((resolve) => {
    let settled = false;
    const finish = (end: HookProcessEnd): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) t.clear();
      child.stdout?.destroy();
      child.stderr?.destroy();
      // A run ends with its program: what it left in its group (a timed-out run's too) goes with it, as
      // systemd's KillMode=control-group; a hook that means to leave something running starts it with
      // setsid, which takes a moment: `setsid prog &` then exit would else lose the race.
      const wait = timedOut || exitedAt === null ? 0 : exitedAt + DRAIN_MS - clock.now();
      if (pid !== null && wait > 0) clock.setTimeout(() => signalGroup(pid, 'SIGKILL'), wait);
      else if (pid !== null) signalGroup(pid, 'SIGKILL');
      resolve(end);
    };
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const ended = (): void => {
      if (exit === null) return;
      const { code, signal } = exit;
      const outcome = timedOut ? 'timed_out' : code === 0 ? 'ok' : 'failed';
      const reason = timedOut ? `still running after its Timeout of ${formatDuration(cmd.timeoutMs)}: killed` : null;
      finish({ outcome, reason, exitCode: code, signal, output: output.text() });
    };
    child.on('error', (err) => {
      if (child.pid === undefined) finish(notStarted(program, err)); // (other errors: a failed kill, nothing to do)
    });
    child.stdout?.on('data', (chunk: Buffer) => output.add(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.add(chunk));
    child.stdin?.on('error', () => undefined); // a hook that does not read its input
    child.stdin?.end(cmd.input);
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      exitedAt = clock.now();
      timers.push(clock.setTimeout(ended, DRAIN_MS));
    });
    child.on('close', ended);
    if (pid !== null) {
      timers.push(
        clock.setTimeout(() => {
          timedOut = true;
          signalGroup(pid, 'SIGTERM');
          timers.push(clock.setTimeout(() => signalGroup(pid, 'SIGKILL'), HOOK_KILL_AFTER_MS));
        }, cmd.timeoutMs),
      );
    }
  });
  return { pid, done, kill: () => void (pid !== null && signalGroup(pid, 'SIGKILL')) };
}

function notStarted(program: string, err: unknown): HookProcessEnd {
  return { outcome: 'failed', reason: `cannot run ${program}: ${(err as Error).message}`, exitCode: null, signal: null, output: '' };
}

/** The last `max` bytes of what was added. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.max) this.compact();
  }

  text(): string {
    this.compact();
    // A cut may fall inside a character: its remains are dropped.
    return Buffer.concat(this.chunks)
      .toString('utf8')
      .replace(/^\uFFFD+/, '');
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > this.max ? all.subarray(all.length - this.max) : all;
    this.chunks = [kept];
    this.size = kept.length;
  }
}
