// A throwaway sshd on 127.0.0.1 for the tests of `upk --host`: its own host key, a user key, and an
// ssh_config of aliases (`Host alpha` …), each alias reaching a different upkeeper home (SetEnv UPKEEPER_CONFIG).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Sandbox, UPK, killEverythingUnder } from './sandbox.js';

export const SSHD = '/usr/sbin/sshd';

/** A port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** What an alias of the ssh_config reaches: this sshd with these upkeeper settings, or another port. */
export interface Alias {
  /** The controller configuration the host's `upk bridge` reads (UPKEEPER_CONFIG). */
  config?: string;
  /** Another port of 127.0.0.1 (a closed one: a host down). */
  port?: number;
}

export class TestSshd {
  readonly dir: string;
  readonly sshConfig: string;
  /** The remote command that runs this checkout's upk on the "host" (--remote-upk). */
  readonly remoteUpk: string;
  private child: ChildProcess | null = null;
  port = 0;
  private log = '';

  constructor() {
    const root = process.env.UPK_TEST_ROOT ?? tmpdir();
    this.dir = mkdtempSync(join(root, 'sshd-'));
    chmodSync(this.dir, 0o700);
    this.sshConfig = join(this.dir, 'ssh_config');
    this.remoteUpk = join(this.dir, 'upk');
    writeFileSync(this.remoteUpk, `#!/bin/sh\nexec ${process.execPath} ${UPK} "$@"\n`, { mode: 0o755 });
    for (const key of ['host_key', 'user_key']) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'upkeeper-test', '-f', join(this.dir, key)]);
    }
    writeFileSync(join(this.dir, 'authorized_keys'), readFileSync(join(this.dir, 'user_key.pub')), { mode: 0o600 });
    writeFileSync(join(this.dir, 'known_hosts'), `upkeeper-test-sshd ${readFileSync(join(this.dir, 'host_key.pub'), 'utf8')}`);
  }

  /** Start sshd and wait until it accepts connections. */
  async start(): Promise<void> {
    this.port = await freePort();
    const config = join(this.dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(this.dir, 'host_key')}`,
        `PidFile ${join(this.dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        `AllowUsers ${userInfo().username}`,
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'PermitRootLogin prohibit-password',
        'AcceptEnv UPKEEPER_*',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    // Run as root, sshd needs its privilege separation folder (systemd's ssh.service makes it).
    if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    // Its marker in the environment: every process of sshd (each connection's too) is found and killed by it.
    const child = spawn(SSHD, ['-D', '-e', '-f', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, UPK_SSHD_DIR: this.dir },
    });
    this.child = child;
    child.stderr.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Write the ssh_config: one `Host` block per alias. */
  writeAliases(aliases: Record<string, Alias>): void {
    const blocks = Object.entries(aliases).map(([name, a]) =>
      [
        `Host ${name}`,
        '  HostName 127.0.0.1',
        `  Port ${a.port ?? this.port}`,
        `  User ${userInfo().username}`,
        `  IdentityFile ${join(this.dir, 'user_key')}`,
        '  IdentitiesOnly yes',
        '  HostKeyAlias upkeeper-test-sshd',
        `  UserKnownHostsFile ${join(this.dir, 'known_hosts')}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  LogLevel ERROR',
        ...(a.config === undefined ? [] : [`  SetEnv UPKEEPER_CONFIG=${a.config}`]),
      ].join('\n'),
    );
    writeFileSync(this.sshConfig, blocks.join('\n\n') + '\n');
  }

  /** The environment for a local upk reaching these hosts: the ssh_config and the remote upk, no local configuration. */
  get env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, UPKEEPER_SSH_CONFIG: this.sshConfig, UPKEEPER_REMOTE_UPK: this.remoteUpk };
    delete env.UPKEEPER_CONFIG;
    delete env.UPKEEPER_HOST;
    return env;
  }

  /** Stop sshd and every session it still serves, and remove its folder. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    killEverythingUnder(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A TCP server that accepts and never says a word (ssh waits for its banner): a host that hangs. */
export function silentServer(): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    const held: Socket[] = [];
    const server = createServer((s) => held.push(s));
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => {
          for (const s of held) s.destroy();
          server.close();
        },
      }),
    );
  });
}

/** The two homes the fleet tests reach through ssh: `alpha` runs `web`, `beta` runs `db` (controllers not started yet). */
export function alphaAndBeta(): { alpha: Sandbox; beta: Sandbox } {
  const alpha = new Sandbox('alpha');
  alpha.writeServices({ web: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } });
  const beta = new Sandbox('beta');
  beta.writeServices({ db: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } });
  return { alpha, beta };
}
