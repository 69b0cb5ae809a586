// A host's controller through the user's own ssh: `ssh … HOST upk bridge`, its stdin and stdout one duplex stream of bytes.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { ExitCode } from '../schema/exit-codes.js';

/** How to reach a host: ssh's destination, its configuration file, and the remote command that runs upk. */
export interface SshTarget {
  /** `[user@]host`, or an alias of the ssh configuration. */
  host: string;
  /** ssh's configuration file (`ssh -F FILE`); default: ssh's own (~/.ssh/config, /etc/ssh/ssh_config). */
  sshConfig?: string | undefined;
  /** The command that runs upk on the host (default `upk`), as its login shell reads it. */
  remoteUpk?: string | undefined;
}

/** The remote command's default, found on the host by its login shell's PATH. */
export const REMOTE_UPK = 'upk';
/** The most of ssh's standard error kept, for the error that explains a failure. */
const STDERR_KEPT = 4096;
/** After the channel closed, how long to wait for ssh's exit status before explaining without it. */
const EXIT_WAIT_MS = 2000;
/** The most of the first bytes the host sent that the error of a host not speaking the protocol shows. */
const HEAD_SHOWN = 48;

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A host as ssh takes it, or BAD_REQUEST: not empty, no leading `-` (ssh would read an option), no
 * whitespace or control character (nothing but one destination reaches ssh's argument vector).
 */
export function checkHost(host: string): string {
  if (host === '' || host.startsWith('-') || /\s/.test(host) || CONTROL.test(host) || host.startsWith('@') || host.endsWith('@')) {
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      `host: expected [user@]host (an ssh destination or alias: no leading "-", no spaces or control characters), got ${JSON.stringify(host)}`,
    );
  }
  return host;
}

/** The remote command, or BAD_REQUEST: one line, not empty (it is a command line of the host's shell, as rsync's --rsync-path is). */
function checkRemoteUpk(command: string): string {
  if (command.trim() === '' || CONTROL.test(command)) {
    throw new UpkError(ErrorCode.BAD_REQUEST, `remote upk: expected a command on one line, got ${JSON.stringify(command)}`);
  }
  return command;
}

/**
 * ssh's argument vector: no pseudo-terminal, never a password prompt (BatchMode), a connect timeout,
 * the configuration file if any, `--`, the host, then the remote command `upk bridge`.
 */
export function sshArgs(target: SshTarget, timeoutMs: number): string[] {
  const host = checkHost(target.host);
  const remote = checkRemoteUpk(target.remoteUpk ?? REMOTE_UPK);
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return [
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${seconds}`,
    '-o',
    'ServerAliveInterval=15',
    ...(target.sshConfig === undefined ? [] : ['-F', target.sshConfig]),
    '--',
    host,
    remote,
    'bridge',
  ];
}

/** How ssh ended: its exit code or signal, what it said on standard error, or why it could not start. */
export interface SshExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  spawnError?: Error;
}

/**
 * The ssh process as one duplex stream: what is written goes to its standard input, what it writes
 * on standard output is read. Closed when ssh has exited and its output was read; destroying it ends ssh.
 */
export class SshChannel extends Duplex {
  bytesWritten = 0;
  /** How ssh ended, once it did. */
  readonly exited: Promise<SshExit>;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';
  /** The first bytes read from ssh (HEAD_SHOWN at most), and how many were read in all. */
  private head = Buffer.alloc(0);
  private received = 0;

  constructor(
    readonly target: SshTarget,
    timeoutMs: number,
    env: NodeJS.ProcessEnv,
  ) {
    super({ allowHalfOpen: true });
    const child = spawn('ssh', sshArgs(target, timeoutMs), { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child = child;
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => (spawnError = err));
      child.once('close', (code, signal) =>
        resolve({ code, signal, stderr: this.stderr, ...(spawnError === undefined ? {} : { spawnError }) }),
      );
    });
    child.stdin.on('error', () => undefined); // EPIPE after ssh ended: its exit says why
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-STDERR_KEPT)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (this.head.length < HEAD_SHOWN) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_SHOWN - this.head.length)]);
      this.received += chunk.length;
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stdout.on('end', () => this.push(null));
    void this.exited.then(() => {
      if (this.readableEnded || this.destroyed) this.destroy();
      else {
        this.once('end', () => this.destroy());
        this.push(null); // ssh that could not start had no output to end
      }
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    if (this.child.stdin.destroyed) return done();
    this.child.stdin.write(chunk, () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.child.stdin.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    done(err);
  }

  /**
   * Why the connection failed before the controller answered. Bytes that came but made no answer
   * (random bytes, a banner of the host's shell): PROTOCOL_ERROR naming them, ssh ended. A TIMEOUT ends
   * ssh and says which host did not answer. Else from how ssh ended (sshFailure).
   */
  async explain(cause: unknown, timeoutMs: number): Promise<unknown> {
    const host = this.target.host;
    const local = !(cause instanceof UpkError) || cause.code === ErrorCode.INTERRUPTED || cause.code === ErrorCode.TIMEOUT;
    if (this.received > 0) {
      await this.endSsh(); // what came was the answer (an error of the controller), or was not the protocol
      return local ? notTheProtocol(this.target, this.head, this.received, cause) : cause;
    }
    if (cause instanceof UpkError && cause.code === ErrorCode.TIMEOUT) {
      this.destroy();
      return new UpkError(ErrorCode.TIMEOUT, `${host}: no answer through ssh within ${timeoutMs} ms`, {
        details: { host },
        cause,
      });
    }
    const exit = await this.exitWithin(EXIT_WAIT_MS);
    this.destroy();
    return exit === null ? cause : sshFailure(this.target, exit, cause);
  }

  /** End ssh now, and wait (a moment at most) until it has exited. */
  private async endSsh(): Promise<void> {
    this.destroy();
    await this.exitWithin(EXIT_WAIT_MS);
  }

  /** How ssh ended, or null when it has not within `ms`. */
  private async exitWithin(ms: number): Promise<SshExit | null> {
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([this.exited, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
    clearTimeout(timer);
    return exit;
  }
}

/** Bytes as a quoted string: printable ASCII as it is, `\n` `\r` `\t` `\\` `\"`, any other byte `\xHH`. */
function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"`;
}

/**
 * PROTOCOL_ERROR: the remote command wrote something that is not the client protocol's answer (not
 * upkeeper's upk, or the host's shell printed something first). Names the host and the first bytes.
 */
function notTheProtocol(target: SshTarget, head: Buffer, received: number, cause: unknown): UpkError {
  const host = target.host;
  const remote = target.remoteUpk ?? REMOTE_UPK;
  const got = `${escapeBytes(head)}${received > head.length ? '…' : ''}, ${received} byte${received === 1 ? '' : 's'}`;
  return new UpkError(
    ErrorCode.PROTOCOL_ERROR,
    `${host}: the remote upk does not speak the upkeeper protocol (got ${got}): check that ${JSON.stringify(`${remote} bridge`)} runs upkeeper's upk there, and that the host's shell prints nothing before a command (its .bashrc, say)`,
    { details: { host, sshExit: null, stage: 'remote-upk' }, cause },
  );
}

/** The last lines of a program's standard error, on one line, `upk: ` taken off. */
function said(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim().replace(/^upk: /, ''))
    .filter((l) => l !== '' && !l.startsWith('Warning: Permanently added'));
  return lines.slice(-3).join('; ');
}

/**
 * The error of a connection through ssh that ended before the controller answered, by how ssh ended
 * (docs/fleet.md, "When a host cannot be reached"):
 * - ssh could not start, or ended with 255 (its own failure: the host unknown or unreachable, its key
 *   refused, no key logged in): CONTROLLER_NOT_RUNNING, or TIMEOUT when the connection timed out;
 * - 127 or 126 (the remote shell found no upk to run): CONTROLLER_NOT_RUNNING;
 * - `upk bridge`'s own exit code (3: the controller there is not running; 7: its configuration is
 *   invalid; 8): the same code; 2 (an upk without `bridge`) or any other: PROTOCOL_ERROR.
 * `details`: `{host, sshExit, stage}`, stage `ssh`, `remote-upk` or `bridge`.
 */
export function sshFailure(target: SshTarget, exit: SshExit, cause?: unknown): UpkError {
  const host = target.host;
  const words = said(exit.stderr);
  const make = (code: ErrorCode, stage: string, message: string): UpkError =>
    new UpkError(code, message, { details: { host, sshExit: exit.code, stage }, cause });
  if (exit.spawnError !== undefined) {
    return make(ErrorCode.CONTROLLER_NOT_RUNNING, 'ssh', `cannot reach ${host}: ssh could not run (${exit.spawnError.message})`);
  }
  if (exit.code === 255 || exit.code === null) {
    const why = words || (exit.signal ? `ssh ended by ${exit.signal}` : 'ssh failed');
    const hint = /host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(why)
      ? ' (its host key is not known, or changed: check it, then log in once with ssh to accept it)'
      : /permission denied/i.test(why)
        ? ' (ssh runs in batch mode: a key or agent must log in without a password)'
        : '';
    const timedOut = /timed out/i.test(why);
    return make(timedOut ? ErrorCode.TIMEOUT : ErrorCode.CONTROLLER_NOT_RUNNING, 'ssh', `cannot reach ${host} through ssh: ${why}${hint}`);
  }
  const remote = target.remoteUpk ?? REMOTE_UPK;
  if (exit.code === 127 || exit.code === 126) {
    return make(
      ErrorCode.CONTROLLER_NOT_RUNNING,
      'remote-upk',
      `${host}: cannot run ${JSON.stringify(remote)} there${words ? ` (${words})` : ''}: install upkeeper on it, or name the command with --remote-upk or UPKEEPER_REMOTE_UPK`,
    );
  }
  const code =
    exit.code === ExitCode.CONTROLLER_NOT_RUNNING
      ? ErrorCode.CONTROLLER_NOT_RUNNING
      : exit.code === ExitCode.CONFIG_INVALID
        ? ErrorCode.CONFIG_INVALID
        : exit.code === ExitCode.TIMEOUT
          ? ErrorCode.TIMEOUT
          : ErrorCode.PROTOCOL_ERROR;
  const older =
    exit.code === ExitCode.USAGE && /unknown command/i.test(words)
      ? ': the upk there is older than `upk bridge`: upgrade upkeeper on it'
      : '';
  return make(code, 'bridge', `${host}: ${words || `${remote} bridge ended with exit ${exit.code}`}${older}`);
}
