// upk --host and libclient's connect({ host }) through a real sshd on 127.0.0.1: three "hosts" (aliases of
// one ssh_config, each reaching its own upkeeper home), a host down, one that hangs, a remote upk that
// speaks no protocol, a controller that hangs, and upk list --hosts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, UpkError, connect, type ServiceStatus } from '../../libclient/index.js';
import { Sandbox, UPK, processesUnder, run, type RunResult } from '../helpers/sandbox.js';
import { SSHD, TestSshd, alphaAndBeta, freePort, silentServer } from '../helpers/sshd.js';

const skip = existsSync(SSHD) ? false : `${SSHD} is missing (apt-get install openssh-server)`;

describe('fleet through ssh', { timeout: 120_000, skip }, () => {
  let sshd: TestSshd;
  let alpha: Sandbox;
  let beta: Sandbox;
  let idle: Sandbox;
  let frozen: Sandbox;
  let stuck: { port: number; close(): void };
  const upk = (args: string[]): Promise<RunResult> => run(process.execPath, [UPK, ...args], sshd.env, 60_000);

  before(async () => {
    sshd = new TestSshd();
    ({ alpha, beta } = alphaAndBeta());
    idle = new Sandbox('idle'); // its controller never runs
    frozen = new Sandbox('frozen'); // its controller is stopped (SIGSTOP) by a test: it accepts and never answers
    stuck = await silentServer();
    await Promise.all([alpha.startController(), beta.startController(), frozen.startController(), sshd.start()]);
    sshd.writeAliases({
      alpha: { config: alpha.configFile },
      beta: { config: beta.configFile },
      idle: { config: idle.configFile },
      frozen: { config: frozen.configFile },
      down: { port: await freePort() },
      stuck: { port: stuck.port },
    });
    await alpha.waitForState('web', 'running');
    await beta.waitForState('db', 'running');
  });

  after(async () => {
    stuck.close();
    await Promise.all([alpha.cleanup(), beta.cleanup(), idle.cleanup(), frozen.cleanup()]);
    await sshd.stop();
  });

  it('runs list and status --json against each host, as upk does on the host', async () => {
    const a = await upk(['--host', 'alpha', 'list']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^NAME\s+STATE/m);
    assert.match(a.stdout, /^web\s+running/m);
    assert.doesNotMatch(a.stdout, /\bdb\b/);
    const b = await upk(['-H', 'beta', 'status', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const statuses = JSON.parse(b.stdout) as ServiceStatus[];
    assert.deepEqual(
      statuses.map((s) => [s.name, s.state]),
      [['db', 'running']],
    );
    const local = await beta.upk(['status', '--json']);
    assert.deepEqual(
      (JSON.parse(local.stdout) as ServiceStatus[]).map((s) => s.pid),
      statuses.map((s) => s.pid),
    );
  });

  it('stops and starts a service of a host, with the same exit codes', async () => {
    const stop = await upk(['--host', 'alpha', 'stop', 'web']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^web: ok/m);
    await alpha.waitForState('web', 'stopped');
    const status = await upk(['--host', 'alpha', 'status', 'web']);
    assert.equal(status.code, 0, status.stderr); // stopped and wanted down: in its desired state
    const start = await upk(['--host', 'alpha', 'start', 'web']);
    assert.equal(start.code, 0, start.stderr);
    await alpha.waitForState('web', 'running');
    const unknown = await upk(['--host', 'alpha', 'status', 'nosuch']);
    const here = await alpha.upk(['status', 'nosuch']);
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stderr, here.stderr);
  });

  it('says clearly when a host, its upk or its controller cannot be reached', async () => {
    const down = await upk(['--host', 'down', 'list']);
    assert.equal(down.code, 3, down.stderr);
    assert.match(down.stderr, /^upk: cannot reach down through ssh: .*Connection refused/m);
    const noUpk = await upk(['--host', 'alpha', '--remote-upk', '/nonexistent/upk', 'list']);
    assert.equal(noUpk.code, 3, noUpk.stderr);
    assert.match(noUpk.stderr, /^upk: alpha: cannot run "\/nonexistent\/upk" there/m);
    const idleList = await upk(['--host', 'idle', 'list', '--json']);
    assert.equal(idleList.code, 3, idleList.stderr);
    assert.match(idleList.stderr, /^upk: idle: the controller is not running/m);
    const bad = await upk(['--host', '-oProxyCommand=touch /tmp/x', 'list']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /host: expected \[user@\]host/);
    const local = await upk(['--host', 'alpha', 'check-config']);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /check-config works on this machine's files and processes, not through ssh/);
  });

  it('lists several hosts in one table, a host down or hanging an error row', async () => {
    const started = Date.now();
    const r = await upk(['list', '--hosts', 'alpha,down,beta,stuck', '--host-timeout', '10']);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.equal(r.code, 8, r.stderr); // the worst: stuck's TIMEOUT (8) over down's 3
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^HOST\s+NAME\s+STATE/);
    assert.match(r.stdout, /^alpha\s+web\s+running/m);
    assert.match(r.stdout, /^beta\s+db\s+running/m);
    assert.match(r.stdout, /^down\s+-\s+error/m);
    assert.match(r.stdout, /^stuck\s+-\s+error/m);
    assert.match(r.stdout, /^cannot reach down through ssh: /m); // the host named once
    assert.match(r.stdout, /^stuck: no answer (through ssh )?within 10000 ms$/m);
    const json = await upk(['list', '--hosts', 'alpha,down', '--json']);
    const hosts = JSON.parse(json.stdout) as { host: string; services?: ServiceStatus[]; error?: { code: string } }[];
    assert.deepEqual(
      hosts[0]?.services?.map((s) => s.name),
      ['web'],
    );
    assert.equal(hosts[1]?.error?.code, 'CONTROLLER_NOT_RUNNING');
  });

  it('connects libclient to a host: connect({ host })', async () => {
    const options = { host: 'beta', sshConfig: sshd.sshConfig, remoteUpk: sshd.remoteUpk, env: sshd.env };
    const client = await connect(options);
    try {
      assert.equal(client.host, 'beta');
      assert.deepEqual(
        (await client.list()).map((s) => s.name),
        ['db'],
      );
      const sub = await client.subscribe({ services: ['db'] });
      const first = await sub[Symbol.asyncIterator]().next();
      assert.equal(first.done, false);
      sub.close();
      assert.throws(
        () => client.followLogs('db'),
        (e: unknown) => e instanceof UpkError && e.code === ErrorCode.BAD_REQUEST,
      );
    } finally {
      client.close();
    }
    await assert.rejects(
      connect({ ...options, host: '-F/etc/passwd' }),
      (e: unknown) => e instanceof UpkError && e.code === ErrorCode.BAD_REQUEST,
    );
  });

  /** A remote upk script in the sshd's folder; its processes (ssh's command line, the host's) carry its path (UPK_TEST_TAG). */
  const remoteScript = (name: string, body: string): string => {
    const file = join(sshd.dir, name);
    writeFileSync(file, `#!/bin/sh\nexport UPK_TEST_TAG=${file}\n${body}\n`, { mode: 0o755 });
    return file;
  };
  const cmdline = (pid: number): string[] => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    } catch {
      return []; // gone
    }
  };
  /** Wait until no process of a remote script's sessions (ssh here, its command there) is left. */
  const gone = (script: string): Promise<true> =>
    alpha.waitFor(`no process of ${script} left`, () => processesUnder(script).length === 0 || undefined, 8000);

  it('says that a remote upk which prints something else does not speak the protocol, and ends ssh', async () => {
    const garbage = remoteScript('garbage-upk', 'head -c 3000 /dev/urandom\nexec cat >/dev/null');
    const r = await upk(['--host', 'alpha', '--remote-upk', garbage, 'list']);
    assert.equal(r.code, 1, r.stderr); // PROTOCOL_ERROR
    assert.match(
      r.stderr,
      /^upk: alpha: the remote upk does not speak the upkeeper protocol \(got "[^\n]*\\x[0-9a-f]{2}[^\n]*…, 3000 bytes\)/m,
    );
    assert.doesNotMatch(r.stderr, /ssh failed/);
    await gone(garbage);
    // libclient: the same error, and its ssh ended (the remote `cat` ends when ssh's channel does)
    await assert.rejects(
      connect({ host: 'alpha', sshConfig: sshd.sshConfig, remoteUpk: garbage, env: sshd.env }),
      (e: unknown) =>
        e instanceof UpkError && e.code === ErrorCode.PROTOCOL_ERROR && /^alpha: the remote upk does not speak/.test(e.message),
    );
    await gone(garbage);
    // A banner of the host's shell before the real upk: shown as text
    const banner = remoteScript('banner-upk', `echo 'Welcome to "alpha"'\nexec ${sshd.remoteUpk} "$@"`);
    const b = await upk(['--host', 'alpha', '--remote-upk', banner, 'list']);
    assert.equal(b.code, 1, b.stderr);
    assert.match(
      b.stderr,
      /^upk: alpha: the remote upk does not speak the upkeeper protocol \(got "Welcome to \\"alpha\\"\\n[^\n]*\d+ bytes\)/m,
    );
    await gone(banner);
  });

  it('leaves no upk bridge on the host when the client times out or is interrupted (the controller there hangs)', async () => {
    const wrapper = remoteScript('frozen-upk', `exec ${sshd.remoteUpk} "$@"`);
    const env = { ...sshd.env, UPKEEPER_REMOTE_UPK: wrapper };
    const { pid } = (await frozen.client()).controller;
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await run(process.execPath, [UPK, 'list', '--hosts', 'frozen', '--host-timeout', '2'], env, 60_000);
      assert.equal(r.code, 8, r.stderr);
      assert.match(r.stdout, /^frozen: no answer within 2000 ms$/m); // the host named once
      await gone(wrapper);
      // upk interrupted while it waits: its ssh's input ends, and so does the bridge there
      const child = spawn(process.execPath, [UPK, '--host', 'frozen', 'list'], { env, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await alpha.waitFor('the bridge running on the host', () =>
        processesUnder(wrapper).some((p) => {
          const cmd = cmdline(p);
          return cmd[0] === process.execPath && cmd.includes('bridge');
        }),
      );
      child.kill('SIGINT');
      await exited;
      await gone(wrapper);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
