// Path rules of the config files: home and XDG defaults, `~` expansion, resolution against a file's folder.
import os from 'node:os';
import path from 'node:path';

/** The home directory: env.HOME when set, else the account's home from the OS. */
export function homeDir(env: NodeJS.ProcessEnv): string {
  const home = env['HOME'];
  return home !== undefined && home !== '' ? home : os.homedir();
}

/** An XDG base directory: the variable when it holds an absolute path (as the XDG spec requires), else ~/<fallback>. */
export function xdgDir(env: NodeJS.ProcessEnv, variable: 'XDG_CONFIG_HOME' | 'XDG_STATE_HOME', fallback: string): string {
  const value = env[variable];
  if (value !== undefined && path.isAbsolute(value)) return path.normalize(value);
  return path.join(homeDir(env), fallback);
}

/** $XDG_CONFIG_HOME/upkeeper/upkeeper.conf */
export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  return path.join(xdgDir(env, 'XDG_CONFIG_HOME', '.config'), 'upkeeper', 'upkeeper.conf');
}

/** $XDG_STATE_HOME/upkeeper */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  return path.join(xdgDir(env, 'XDG_STATE_HOME', path.join('.local', 'state')), 'upkeeper');
}

export type PathResult = { path: string } | { message: string };

/**
 * Expand a leading `~` or `~/` to the home directory, then resolve against baseDir (the folder of the
 * file the path is written in). The result is absolute and normalised. `~user` is not supported.
 */
export function resolvePath(written: string, baseDir: string, env: NodeJS.ProcessEnv): PathResult {
  if (written === '') return { message: 'expected a path, got ""' };
  if (written.includes('\0')) return { message: 'a path cannot contain a NUL character' };
  let expanded = written;
  if (written === '~' || written.startsWith('~/')) expanded = path.join(homeDir(env), written.slice(1));
  else if (written.startsWith('~')) {
    return { message: `${JSON.stringify(written)}: "~user" is not supported; write the full path or "~/…" for your own home` };
  }
  return { path: path.resolve(baseDir, expanded) };
}
