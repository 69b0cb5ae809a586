// The systemd unit that starts the controller at login or at boot (`upk startup`): where it goes and what it says.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { homeDir } from '../schema/config/paths.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { upkeeperVersion } from '../schema/version.js';
import { CONTROLLER_PROGRAM } from './controller-process.js';
import { readControllerConfig, type DiscoveryOptions } from './discovery.js';

export interface StartupUnitOptions extends DiscoveryOptions {
  /**
   * Write a system unit (`/etc/systemd/system/upkeeper-NAME.service`, `User=NAME`) instead of a user
   * unit. Its configuration is `config`, or else NAME's default file: `$UPKEEPER_CONFIG` is not read.
   */
  systemUser?: string;
  /** The node program ExecStart runs (default: this one, `process.execPath`). */
  node?: string;
}

export interface StartupUnit {
  /** `upkeeper.service`, or `upkeeper-NAME.service` for a system unit. */
  name: string;
  /** Where the unit file goes. */
  file: string;
  /** `user`: the user's own systemd (`systemctl --user`); `system`: the machine's. */
  scope: 'user' | 'system';
  /** The user the controller runs as. */
  user: string;
  /** The controller configuration ExecStart names, or null: the default settings (no file exists yet). */
  configFile: string | null;
  /** Options for connect() and startController() that reach the controller this unit runs. */
  discovery: DiscoveryOptions;
  /** The unit file's text. */
  text: string;
}

/** Unit names, user names and the like: what `User=` and a unit's name accept without escaping. */
const USER_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

/** Where the unit goes and its name, without reading any configuration (for `upk unstartup`). */
export function startupUnitFile(options: Pick<StartupUnitOptions, 'systemUser' | 'env'> = {}): {
  name: string;
  file: string;
  scope: 'user' | 'system';
} {
  if (options.systemUser !== undefined) {
    checkUserName(options.systemUser);
    const name = `upkeeper-${options.systemUser}.service`;
    return { name, file: join('/etc/systemd/system', name), scope: 'system' };
  }
  const env = options.env ?? process.env;
  const xdg = env['XDG_CONFIG_HOME'];
  const configHome = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homeDir(env), '.config');
  return { name: 'upkeeper.service', file: join(configHome, 'systemd', 'user', 'upkeeper.service'), scope: 'user' };
}

/**
 * The unit that runs `upk-controller` in the foreground for a configuration. It stops the controller
 * alone (`KillMode=process`): the buddies and services run on, as after `upk controller stop`.
 * Throws CONFIG_INVALID when the controller file has problems, BAD_REQUEST for a user that does not
 * exist or a path systemd cannot hold.
 */
export function startupUnit(options: StartupUnitOptions = {}): StartupUnit {
  const where = startupUnitFile(options);
  const system = options.systemUser;
  const account = system === undefined ? null : lookUpUser(system);
  // A system unit's controller sees HOME (systemd sets it from User=) and nothing of root's shell.
  const discovery: DiscoveryOptions =
    account === null
      ? { ...(options.config === undefined ? {} : { config: options.config }), env: options.env ?? process.env }
      : { ...(options.config === undefined ? {} : { config: options.config }), env: { HOME: account.home } };
  const config = readControllerConfig(discovery);
  const env = options.env ?? process.env;
  const node = options.node ?? process.execPath;
  const exec = [node, CONTROLLER_PROGRAM, ...(config.file ? ['--config', config.file] : [])];
  const environment: [string, string][] = [];
  if (env['PATH']) environment.push(['PATH', env['PATH']]);
  if (account === null) {
    // The controller resolves its default paths as upk does here; the user's systemd may not set these.
    for (const name of ['XDG_CONFIG_HOME', 'XDG_STATE_HOME']) {
      const value = env[name];
      if (value !== undefined && isAbsolute(value)) environment.push([name, value]);
    }
  }
  const configWords = config.file ?? 'default settings';
  const lines = [
    `# ${where.file}: written by \`upk startup\` (upkeeper ${upkeeperVersion()}); \`upk unstartup\` removes it.`,
    '# Runs the upkeeper controller in the foreground. Stopping this unit stops the controller alone',
    '# (KillMode=process): the buddies and services run on, as after `upk controller stop`;',
    '# `upk shutdown` stops them all.',
    '[Unit]',
    `Description=${specifiers(`upkeeper controller (${configWords})`)}`,
    ...(account === null ? [] : ['After=network.target']),
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec.map(execWord).join(' ')}`,
    ...environment.map(([k, v]) => `Environment=${quoted(`${k}=${v}`)}`),
    ...(account === null ? [] : [`User=${account.name}`]),
    'KillMode=process',
    'Restart=on-failure',
    'RestartSec=2',
    '# Not again after exit 2 (bad command line), 7 (the configuration has errors) or 9 (another',
    '# controller runs for this StateDir): a restart would fail the same way.',
    'RestartPreventExitStatus=2 7 9',
    'SyslogIdentifier=upk-controller',
    '',
    '[Install]',
    `WantedBy=${account === null ? 'default.target' : 'multi-user.target'}`,
    '',
  ];
  return {
    ...where,
    user: account?.name ?? currentUser(),
    configFile: config.file,
    discovery,
    text: lines.join('\n'),
  };
}

function checkUserName(name: string): void {
  if (!USER_NAME_RE.test(name)) {
    throw new UpkError(ErrorCode.BAD_REQUEST, `${JSON.stringify(name)} is not a user name (letters, digits, "_", "." and "-", at most 32)`);
  }
}

/** The user's account from /etc/passwd, or else from `getent passwd` (users of NSS: LDAP and the like). */
function lookUpUser(name: string): { name: string; home: string } {
  checkUserName(name);
  const fromLine = (line: string): { name: string; home: string } | null => {
    const fields = line.split(':');
    return fields[0] === name && fields.length >= 7 && fields[5] ? { name, home: fields[5] } : null;
  };
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const found = fromLine(line);
      if (found) return found;
    }
  } catch {
    /* no /etc/passwd: ask getent */
  }
  try {
    const found = fromLine(
      execFileSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    if (found) return found;
  } catch {
    /* not found, or no getent */
  }
  throw new UpkError(ErrorCode.BAD_REQUEST, `no user named ${JSON.stringify(name)} on this machine`);
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}

/** No line breaks or other control characters: systemd reads a unit line by line. */
function checkText(text: string): void {
  if (/[\x00-\x1f\x7f]/.test(text)) {
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      `${JSON.stringify(text)}: a systemd unit cannot hold a control character (a line break, say)`,
    );
  }
}

/** `%` starts a specifier in most settings of a unit: written `%%`. */
function specifiers(text: string): string {
  checkText(text);
  return text.replace(/%/g, '%%');
}

/** A double-quoted value, as Environment= reads it. */
function quoted(text: string): string {
  return `"${specifiers(text).replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** One word of ExecStart: `$` would expand a variable (`$$` is a `$`), quotes around anything unusual. */
function execWord(word: string): string {
  const escaped = specifiers(word).replace(/\$/g, () => '$$');
  return /^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped) ? escaped : `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
