// Starts a script from the run directory: directly, or through an inherited descriptor for a
// service that runs as another user (who cannot reach the 0700 run directory).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, constants, openSync, realpathSync, statSync } from 'node:fs';

/** How a script starts: its environment and working directory, and the user and group it runs as. */
export interface SpawnContext {
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}

/** What the buddy uses of a script it started: its pid and how it ends (a unit test fakes it). */
export interface ScriptChild {
  readonly pid?: number | undefined;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
}

/** How scripts are started: spawnScript, or a unit test's fake. */
export type SpawnScript = (script: string, args: string[], stdio: StdioOptions, ctx: SpawnContext, direct?: boolean) => ScriptChild;

/**
 * Spawn `script` in its own session and process group. With a uid or gid to switch to, the buddy
 * opens the script itself and passes it as the descriptor after those of `stdio` (3 unless ReadyFd
 * takes it); the child execs /proc/self/fd/N, which needs execute permission on the script but no
 * search permission on the directories above it. `direct`: `script` is the service's own program (a
 * name PATH finds, or a path), exec'd as a start script would exec it.
 */
export function spawnScript(script: string, args: string[], stdio: StdioOptions, ctx: SpawnContext, direct = false): ChildProcess {
  const switching = !direct && (ctx.uid !== undefined || ctx.gid !== undefined);
  const fd = switching ? openSync(script, constants.O_RDONLY) : -1;
  const base: unknown[] = Array.isArray(stdio) ? stdio : [stdio, stdio, stdio];
  const at = Math.max(3, base.length);
  try {
    return hidingValues(() =>
      spawn(switching ? `/proc/self/fd/${at}` : script, args, {
        detached: true, // setsid(): the pid is also the process group and the session
        stdio: switching ? ([...base, ...Array<string>(at - base.length).fill('ignore'), fd] as StdioOptions) : stdio,
        env: direct ? withPwd(ctx.env, ctx.cwd) : ctx.env,
        cwd: ctx.cwd,
        argv0: script,
        ...(ctx.uid === undefined ? {} : { uid: ctx.uid }),
        ...(ctx.gid === undefined ? {} : { gid: ctx.gid }),
      }),
    );
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * The environment as /bin/sh passes it on: it exports PWD, kept when it names the working directory,
 * else the directory's real path (a service that reads $PWD must not get the controller's).
 */
function withPwd(env: Record<string, string>, cwd: string): Record<string, string> {
  const same = (a: string, b: string): boolean => {
    try {
      const [x, y] = [statSync(a), statSync(b)];
      return x.dev === y.dev && x.ino === y.ino;
    } catch {
      return false;
    }
  };
  if (env.PWD?.startsWith('/') && same(env.PWD, cwd)) return env;
  try {
    return { ...env, PWD: realpathSync(cwd) };
  } catch {
    return { ...env, PWD: cwd }; // (the spawn says what is wrong with the directory)
  }
}

/**
 * Node refuses an argument or environment value it cannot pass (a NUL byte) with a message that
 * quotes the value, often a secret from an environment file: keep the name, drop the value.
 */
function hidingValues(run: () => ChildProcess): ChildProcess {
  try {
    return run();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.code.startsWith('ERR_INVALID_ARG')) throw new Error(e.message.replace(/\. Received [\s\S]*$/, ''));
    throw err;
  }
}
