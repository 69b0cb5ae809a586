// uptop --host and upk serve --host through a real sshd on 127.0.0.1 (test/helpers/sshd.ts): uptop in
// tmux shows the host's services, named in its header, and reconnects through ssh after the host's
// controller restarts; upk serve answers the API and streams the events of the host's controller.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Sandbox } from '../helpers/sandbox.js';
import { UPK, sleep } from '../helpers/sandbox.js';
import { SSHD, TestSshd, alphaAndBeta } from '../helpers/sshd.js';
import { Tmux } from '../helpers/tmux.js';
import { spawn } from 'node:child_process';

const UPTOP = fileURLToPath(new URL('../../clients/uptop/main.js', import.meta.url));
const skip = existsSync(SSHD) ? false : `${SSHD} is missing (apt-get install openssh-server)`;

/** One request on a Unix socket: its status and body. */
function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('uptop and upk serve through ssh', { timeout: 120_000, skip }, () => {
  let sshd: TestSshd;
  let alpha: Sandbox;
  let beta: Sandbox;

  before(async () => {
    sshd = new TestSshd();
    ({ alpha, beta } = alphaAndBeta());
    await Promise.all([alpha.startController(), beta.startController(), sshd.start()]);
    sshd.writeAliases({ alpha: { config: alpha.configFile }, beta: { config: beta.configFile } });
    await alpha.waitForState('web', 'running');
    await beta.waitForState('db', 'running');
  });

  after(async () => {
    await Promise.all([alpha.cleanup(), beta.cleanup()]);
    await sshd.stop();
  });

  it("uptop --host shows the host's services, names it, and reconnects through ssh", async () => {
    const term = new Tmux(alpha.dir, 'remote');
    try {
      // The options given on the command line; beta's controller is this machine's (UPKEEPER_CONFIG): not shown.
      term.start([process.execPath, UPTOP, '--host', 'alpha', '--ssh-config', sshd.sshConfig, '--remote-upk', sshd.remoteUpk], {
        UPKEEPER_CONFIG: beta.configFile,
      });
      const screen = await term.waitFor("alpha's service", (s) => /^web +running/m.test(s), 30_000);
      assert.match(screen, /^uptop alpha {2}controller \d+ up/m);
      assert.doesNotMatch(screen, /^db /m);
      const pid = (await (await alpha.client()).controllerStatus()).pid;
      const restart = await alpha.upk(['controller', 'restart']);
      assert.equal(restart.code, 0, restart.stderr);
      const again = await term.waitFor(
        'the new controller, through ssh again',
        (s) => new RegExp(`^uptop alpha {2}controller (?!${pid} )\\d+ up`, 'm').test(s) && /^web +running/m.test(s),
        30_000,
      );
      assert.match(again, /the controller is back/);
    } finally {
      term.kill();
    }
    // The host from the environment (UPKEEPER_HOST, UPKEEPER_SSH_CONFIG, UPKEEPER_REMOTE_UPK), as libclient reads it.
    const env = new Tmux(alpha.dir, 'env');
    try {
      env.start([process.execPath, UPTOP], {
        UPKEEPER_HOST: 'beta',
        UPKEEPER_SSH_CONFIG: sshd.sshConfig,
        UPKEEPER_REMOTE_UPK: sshd.remoteUpk,
      });
      const screen = await env.waitFor("beta's service", (s) => /^db +running/m.test(s), 30_000);
      assert.match(screen, /^uptop beta {2}/m);
    } finally {
      env.kill();
    }
    // A host that ssh would read as an option: refused before any terminal is drawn (no tmux needed).
    const bad = spawnSync(process.execPath, [UPTOP, '--host', '-oProxyCommand=x'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /uptop: host: expected \[user@\]host .*got "-oProxyCommand=x"/);
  });

  it("upk serve --host serves the host's controller: the API, the event stream, and refuses what reads files", async () => {
    const socket = join(sshd.dir, 'api.sock');
    const proc = spawn(process.execPath, [UPK, '--host', 'alpha', 'serve', '--socket', socket], {
      env: sshd.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    try {
      for (let i = 0; !out.includes('\n'); i++) {
        assert.ok(i < 200 && proc.exitCode === null, `upk serve did not start: ${err}`);
        await sleep(50);
      }
      assert.match(out, /^upk serve: listening on unix:.*api\.sock; serving the controller of alpha, through ssh$/m);

      const services = await get(socket, '/api/services');
      assert.equal(services.status, 200, services.body);
      assert.deepEqual(
        (JSON.parse(services.body) as { services: { name: string }[] }).services.map((s) => s.name),
        ['web'],
      );

      // The live stream: an event of alpha's web (stopped by upk on alpha) comes through it.
      const messages: { event: string; data: string }[] = [];
      let buffer = '';
      const stream = request({ socketPath: socket, path: '/api/stream?service=web', headers: { accept: 'text/event-stream' } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let at: number;
          while ((at = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event !== undefined && data !== undefined) messages.push({ event, data });
          }
        });
      });
      stream.on('error', () => undefined);
      stream.end();
      await alpha.waitFor('the stream began', () => messages.some((m) => m.event === 'status'), 30_000);
      const stop = await alpha.upk(['stop', 'web']);
      assert.equal(stop.code, 0, stop.stderr);
      const stopped = await alpha.waitFor(
        "alpha's event through the stream",
        () =>
          messages.find((m) => {
            if (m.event !== 'event') return false;
            const e = JSON.parse(m.data) as { service: string; type: string };
            return e.service === 'web' && e.type === 'stopped';
          }),
        30_000,
      );
      assert.ok(stopped);
      stream.destroy();
      const start = await alpha.upk(['start', 'web']);
      assert.equal(start.code, 0, start.stderr);

      // What reads the controller machine's files is refused before anything is sent.
      const follow = await get(socket, '/api/services/web/logs/stream');
      assert.equal(follow.status, 400, follow.body);
      assert.match(follow.body, /not through ssh \(alpha\)/);
      const check = await get(socket, '/api/config/check');
      assert.equal(check.status, 400, check.body);
      const metrics = await get(socket, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^upkeeper_controller_up 1$/m);
      assert.doesNotMatch(metrics.body, /^upkeeper_controller_memory_bytes /m); // a pid of another machine
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
  });
});
