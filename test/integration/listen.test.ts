// Listen with real programs: sockets opened before the first start and held by a holder for the
// service's whole life, given to each run as systemd's socket activation gives them; connections made
// while no run accepts wait in the backlog (a crash, a restart), the sockets outlive a buddy's SIGKILL,
// and a port already taken is a clear start failure.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { BuddyStatus } from '../../schema/records.js';
import { freePort } from '../helpers/net.js';
import { Sandbox, alive } from '../helpers/sandbox.js';

/** An HTTP server on the socket it is given (fd 3): answers its pid and what socket activation told it; DELAY ms before it accepts. */
const SERVER = `
const http = require('http');
const env = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'].map((k) => k + '=' + process.env[k]).join(' ');
const server = http.createServer((req, res) => res.end(process.pid + ' ' + env + '\\n'));
setTimeout(() => server.listen({ fd: 3 }), Number(process.env.DELAY || 0));
`;

/** GET / on a TCP port or a Unix socket: the body, or the error's code. */
function get(where: { port: number } | { socketPath: string }, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ ...where, host: '127.0.0.1', path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
    req.end();
  });
}

describe('Listen', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let port = 0;
  let nobodyPort = 0;
  let busyPort = 0;
  let frozenPort = 0;
  let strayPort = 0;
  let perlPort = 0;
  let busy: Server;
  /** Holders a test stopped with SIGSTOP, killed at the end whatever happened. */
  const frozen: number[] = [];
  const unixPath = (): string => box.file('web.sock');
  const status = async (name: string) => (await (await box.client()).status(name))[0]!;
  /** The pid of the process that holds a service's sockets, from its buddy's status file. */
  const holderOf = (name: string): number => (JSON.parse(readFileSync(`${box.runDir(name)}/status`, 'utf8')) as BuddyStatus).listen!.holder;

  before(async () => {
    box = new Sandbox('listen');
    writeFileSync(box.file('server.js'), SERVER);
    port = await freePort();
    nobodyPort = await freePort();
    frozenPort = await freePort();
    strayPort = await freePort();
    perlPort = await freePort();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
    const server = [process.execPath, box.file('server.js')];
    box.writeServices({
      web: {
        ExecStart: server,
        Listen: [`tcp:127.0.0.1:${port}`],
        Environment: { DELAY: '1500' },
        MinUptime: 0.1,
        UserRateLimit: 0.1,
        InitialState: 'running',
      },
      unixweb: {
        ExecStart: server,
        Listen: [{ Address: `unix:${box.file('web.sock')}`, Mode: '0660', Name: 'http' }],
        MinUptime: 0.1,
        InitialState: 'running',
      },
      // Run as nobody: the sockets are taken as the buddy's user, then the user is switched.
      ...(process.getuid?.() === 0
        ? {
            asnobody: {
              ExecStart: [process.execPath, '-e', SERVER],
              Listen: [`tcp:127.0.0.1:${nobodyPort}`],
              SetUID: 'nobody',
              WorkingDirectory: '/',
              MinUptime: 0.1,
              InitialState: 'running',
            },
          }
        : {}),
      frozen: { ExecStart: server, Listen: [`tcp:127.0.0.1:${frozenPort}`], MinUptime: 0.1, InitialState: 'running' },
      // PERL* variables would change how the Perl on the way runs (PERL5OPT loads a module that is not there).
      perlenv: {
        ExecStart: [
          process.execPath,
          '-e',
          `require('http').createServer((q, s) => s.end(JSON.stringify(Object.keys(process.env).filter((k) => /PERL/.test(k)).sort().map((k) => k + '=' + process.env[k])))).listen({ fd: 3 })`,
        ],
        Listen: [`tcp:127.0.0.1:${perlPort}`],
        Environment: { PERL5OPT: '-MNo::Such::Module', PERL_SECRET: 's3cret' },
        MinUptime: 0.1,
        InitialState: 'running',
      },
      strayed: {
        ExecStart: server,
        Listen: [`tcp:127.0.0.1:${strayPort}`],
        MinUptime: 0.1,
        UserRateLimit: 1,
        InitialState: 'running',
      },
      taken: { ExecStart: server, Listen: [`tcp:127.0.0.1:${busyPort}`], UserRateLimit: 5, InitialState: 'running' },
    });
    await box.startController();
  });
  after(async () => {
    for (const pid of frozen) if (alive(pid)) process.kill(pid, 'SIGKILL');
    busy.close();
    await box.cleanup();
  });

  it('a run gets its socket as fd 3 with LISTEN_FDS, LISTEN_PID (its own pid) and LISTEN_FDNAMES', async () => {
    const s = await box.waitForState('web', 'running');
    const body = await get({ port });
    assert.equal(body, `${s.pid} LISTEN_FDS=1 LISTEN_PID=${s.pid} LISTEN_FDNAMES=web`);
  });

  it('a connection made while the service crashed waits in the backlog and is answered by the next run', async () => {
    const before = await box.waitForState('web', 'running');
    process.kill(before.pid!, 'SIGKILL');
    // Made at once: no run accepts for a while (the restart, then DELAY), and nothing is refused.
    const answers = await Promise.all([get({ port }), get({ port }), get({ port })]);
    const after = await status('web');
    assert.notEqual(after.pid, before.pid);
    for (const a of answers) assert.match(a, new RegExp(`^${after.pid} `), `answered by the new run: ${a}`);
  });

  it('a connection made during upk restart, between the runs, is answered too', async () => {
    const before = await box.waitForState('web', 'running');
    const c = await box.client();
    const restarting = c.restart('web');
    await box.waitFor('the old run gone', () => !alive(before.pid!));
    const answer = get({ port });
    await restarting;
    const after = await status('web');
    assert.match(await answer, new RegExp(`^${after.pid} `));
  });

  it('the sockets outlive a buddy killed with SIGKILL: the new buddy takes over their holder', async () => {
    const before = await box.waitForState('web', 'running');
    const holder = holderOf('web');
    process.kill(before.buddyPid!, 'SIGKILL');
    await box.waitFor('a new buddy', async () => {
      const s = await status('web');
      return s.buddyPid !== before.buddyPid && s.state === 'running' ? s : undefined;
    });
    assert.ok(alive(holder), 'the holder lives on');
    // The next run, started by the new buddy, gets the same socket: a connection waits for it.
    process.kill(before.pid!, 'SIGKILL');
    const answer = await get({ port });
    const after = await status('web');
    assert.notEqual(after.pid, before.pid);
    assert.match(answer, new RegExp(`^${after.pid} `));
    assert.equal(holderOf('web'), holder, 'the same holder');
  });

  it("the service's PERL* variables reach it unchanged, and do not change the Perl that hands it the sockets", async () => {
    await box.waitForState('perlenv', 'running');
    assert.equal(await get({ port: perlPort }), JSON.stringify(['PERL5OPT=-MNo::Such::Module', 'PERL_SECRET=s3cret']));
  });

  it('a Unix socket with its Mode and Name', async () => {
    const s = await box.waitForState('unixweb', 'running');
    assert.equal(statSync(unixPath()).mode & 0o777, 0o660);
    assert.equal(await get({ socketPath: unixPath() }), `${s.pid} LISTEN_FDS=1 LISTEN_PID=${s.pid} LISTEN_FDNAMES=http`);
  });

  it('a service run as another user (SetUID) gets the sockets too', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    const s = await box.waitForState('asnobody', 'running');
    assert.equal(await get({ port: nobodyPort }), `${s.pid} LISTEN_FDS=1 LISTEN_PID=${s.pid} LISTEN_FDNAMES=asnobody`);
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))?.[1];
    assert.equal(uid, '65534', 'runs as nobody');
  });

  it('an address already in use: the start fails, saying which and why', async () => {
    const failed = await box.waitFor('a spawn_failed', () => box.events('taken').find((e) => e.type === 'spawn_failed'));
    assert.equal(JSON.parse(failed.detail!).error, `Listen tcp:127.0.0.1:${busyPort}: Address already in use`);
  });

  it('upk status tells the addresses and their holder; a stop closes the sockets (refused), a start opens them again', async () => {
    const s = await box.waitForState('web', 'running');
    const holder = holderOf('web');
    const shown = await box.upk(['status', 'web']);
    assert.match(shown.stdout, new RegExp(`^web: listening on tcp:127\\.0\\.0\\.1:${port} \\(held by pid ${holder}\\)$`, 'm'));
    const c = await box.client();
    await c.stop('web');
    await box.waitFor('the holder gone', () => !alive(holder));
    assert.match(await get({ port }), /^error ECONNREFUSED$/, 'stopped: refused, not left waiting');
    await c.start('web');
    const after = await status('web');
    assert.notEqual(after.pid, s.pid);
    assert.match(await get({ port }), new RegExp(`^${after.pid} `));
    assert.notEqual(holderOf('web'), holder, 'a new holder');
  });

  it('a holder stopped with SIGSTOP still lets go at a stop: it ends, and connections are refused', async () => {
    await box.waitForState('frozen', 'running');
    const holder = holderOf('frozen');
    frozen.push(holder);
    process.kill(holder, 'SIGSTOP');
    await (await box.client()).stop('frozen');
    await box.waitFor('the stopped holder gone', () => !alive(holder), 5000);
    assert.match(await get({ port: frozenPort }, 2000), /^error ECONNREFUSED$/);
  });

  it('a holder no buddy knows of (its listen record lost) ends on its own: a later start binds the address again', async () => {
    const before = await box.waitForState('strayed', 'running');
    const holder = holderOf('strayed');
    frozen.push(holder);
    writeFileSync(`${box.runDir('strayed')}/listen`, 'garbage');
    process.kill(before.buddyPid!, 'SIGKILL');
    await box.waitFor('a new buddy', async () => {
      const s = await status('strayed');
      return s.buddyPid !== before.buddyPid && s.state === 'running' ? s : undefined;
    });
    // The next start needs a holder: the stray one, still bound, is in the way until it leaves.
    process.kill(before.pid!, 'SIGKILL');
    await box.waitFor('the stray holder gone', () => !alive(holder), 15_000);
    const after = await box.waitFor(
      'a new run',
      async () => {
        const s = await status('strayed');
        return s.state === 'running' && s.pid !== before.pid ? s : undefined;
      },
      15_000,
    );
    assert.match(await get({ port: strayPort }), new RegExp(`^${after.pid} `));
  });

  it('a changed Listen takes effect at the next start: the old address is let go, the new one held', async () => {
    const other = await freePort();
    const services = JSON.parse(readFileSync(`${box.servicesDir}/services.conf`, 'utf8')) as Record<string, Record<string, unknown>>;
    services.web!.Listen = [`tcp:127.0.0.1:${other}`];
    writeFileSync(`${box.servicesDir}/services.conf`, JSON.stringify(services));
    const reload = await box.upk(['reload-config', '--restart']);
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);
    assert.match(reload.stdout, /web: changed: Listen; Listen takes effect at its next start/);
    const s = await box.waitForState('web', 'running');
    assert.match(await get({ port: other }), new RegExp(`^${s.pid} `));
    assert.match(await get({ port }), /^error ECONNREFUSED$/, 'the old address is let go');
  });

  it('a shutdown lets go of the sockets: the holders end and the Unix socket file is gone', async () => {
    const holders = ['web', 'unixweb'].map(holderOf);
    const res = await box.upk(['shutdown']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    await box.waitFor('the holders gone', () => holders.every((pid) => !alive(pid)));
    await box.waitFor('the socket file gone', () => {
      try {
        statSync(unixPath());
        return false;
      } catch {
        return true;
      }
    });
  });
});
