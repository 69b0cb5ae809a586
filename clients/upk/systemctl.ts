// systemctl for upk startup and unstartup: run with an argument vector, never through a shell.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Scope = 'user' | 'system';

export interface Ran {
  ok: boolean;
  /** What went wrong, in one line (systemctl's own words), when not ok. */
  why: string;
  stdout: string;
}

/** The environment for systemctl: `--user` finds the user's bus through XDG_RUNTIME_DIR, which `su` and `sudo` leave unset. */
function environment(scope: Scope): NodeJS.ProcessEnv {
  const env = { ...process.env };
  const uid = process.getuid?.();
  if (scope === 'user' && !env.XDG_RUNTIME_DIR && uid !== undefined && existsSync(`/run/user/${uid}/bus`))
    env.XDG_RUNTIME_DIR = `/run/user/${uid}`;
  return env;
}

/** `systemctl [--user] ARGS…`. */
export function systemctl(scope: Scope, args: string[], timeoutMs = 60_000): Promise<Ran> {
  const argv = scope === 'user' ? ['--user', ...args] : args;
  return new Promise((resolve) => {
    execFile('systemctl', argv, { env: environment(scope), timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, why: '', stdout });
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const why =
        e.code === 'ENOENT'
          ? 'there is no systemctl program on the PATH'
          : e.killed
            ? `no answer within ${timeoutMs / 1000} s`
            : (stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${String(e.code)}`);
      resolve({ ok: false, why: `systemctl ${argv.join(' ')}: ${why}`, stdout });
    });
  });
}

/** Whether a systemd manager answers: the user's own (`systemctl --user`) or the machine's. */
export async function managerReachable(scope: Scope): Promise<Ran> {
  return systemctl(scope, ['show-environment'], 10_000);
}

/** The unit's main process (0 when it does not run). */
export async function mainPid(scope: Scope, unit: string): Promise<number> {
  const r = await systemctl(scope, ['show', '--property=MainPID', '--value', unit], 10_000);
  const pid = Number(r.stdout.trim());
  return r.ok && Number.isInteger(pid) ? pid : 0;
}

/** True when this machine was booted with systemd (sd_booted(3): /run/systemd/system exists). */
export function bootedWithSystemd(): boolean {
  return existsSync('/run/systemd/system');
}

/** True when `loginctl enable-linger USER` is in force: the user's systemd starts at boot and stays after the last logout. */
export function lingers(user: string): boolean {
  return existsSync(`/var/lib/systemd/linger/${user}`);
}
