// The files the service's output goes to, attacked: a symbolic link, a FIFO or a directory at a
// RedirectStdout path, a log file deleted under a running buddy, an environment file with a NUL byte.
// The buddy never writes through a link nor blocks, records output_failed/output_resumed, begins a
// deleted file anew, and still exits on a shutdown.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';

const TICKER = `sh -c 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done'`;

describe('output files', { timeout: 120_000 }, () => {
  let box: Sandbox;
  const victim = (): string => box.file('victim');
  const events = (service: string, type: string): Record<string, unknown>[] =>
    box
      .events(service)
      .filter((e) => e.type === type)
      .map((e) => JSON.parse(e.detail ?? 'null') as Record<string, unknown>);

  before(async () => {
    box = new Sandbox('outfiles');
    writeFileSync(box.file('victim'), 'precious\n', { mode: 0o600 });
    mkdirSync(box.file('logs'));
    symlinkSync(box.file('victim'), box.file('logs/linked.log'));
    execFileSync('mkfifo', [box.file('logs/fifo.log')]);
    execFileSync('mkfifo', [box.file('logs/piped.fifo')]);
    mkdirSync(box.file('logs/dir.log'));
    writeFileSync(box.file('nul.env'), 'PLAIN=1\nSECRET=s3cr3t\u0000tail\n');
    box.writeServices({
      linked: { ExecStart: TICKER, RedirectStdout: box.file('logs/linked.log'), MinUptime: 0.1, InitialState: 'running' },
      fifo: { ExecStart: TICKER, RedirectStdout: box.file('logs/fifo.log'), MinUptime: 0.1, InitialState: 'running' },
      dir: { ExecStart: TICKER, RedirectStdout: box.file('logs/dir.log'), MinUptime: 0.1, InitialState: 'running' },
      rotating: {
        ExecStart: TICKER,
        RedirectStdout: box.file('logs/rotating.log'),
        LogMaxSize: 300,
        LogKeep: 1,
        MinUptime: 0.1,
        InitialState: 'running',
      },
      // (An ExecStop of its own: the default one is a signal the buddy sends, and no stop script would run.)
      plain: { ExecStart: TICKER, ExecStop: 'kill -s TERM', MinUptime: 0.1, InitialState: 'running' },
      // 200 KB at once, more than a FIFO holds, then a marker: blocked, it never writes the marker.
      piped: {
        ExecStart: `sh -c 'head -c 200000 /dev/zero | tr "\\\\0" x; echo; touch ${box.file('piped-done')}; exec sleep 1000'`,
        PipeStdoutScript: 'exec cat',
        RedirectStdout: box.file('logs/piped.fifo'),
        MinUptime: 0.1,
        InitialState: 'running',
      },
      devnull: {
        ExecStart: TICKER,
        RedirectStdout: '/dev/null',
        RedirectStderr: '/dev/null',
        LogMaxSize: 100,
        LogKeep: 1,
        MinUptime: 0.1,
        InitialState: 'running',
      },
      nul: { ExecStart: 'sleep 1000', EnvironmentFile: box.file('nul.env'), MinUptime: 0.1 },
    });
    await box.startController();
    for (const s of ['linked', 'fifo', 'dir', 'rotating', 'plain', 'devnull', 'piped']) await box.waitForState(s, 'running', 15_000);
  });
  after(() => box.cleanup());

  it('upk check-config names each output path the buddy would refuse, and the NUL line without its value', async () => {
    const r = await box.upk(['check-config']);
    assert.notEqual(r.code, 0, r.stdout);
    const text = r.stdout + r.stderr;
    assert.match(text, /linked\.RedirectStdout: .*linked\.log is a symbolic link/);
    assert.match(text, /fifo\.RedirectStdout: .*fifo\.log is a FIFO/);
    assert.match(text, /dir\.RedirectStdout: .*dir\.log is a directory/);
    assert.match(text, /nul\.env:2: nul\.EnvironmentFile: the value holds a NUL byte/);
    assert.doesNotMatch(text, /s3cr3t/);
    assert.doesNotMatch(text, /rotating|plain/);
  });

  it('a symbolic link, a FIFO or a directory at the path: the service runs, its output is lost and told once, nothing is written through the link', async () => {
    for (const s of ['linked', 'fifo', 'dir']) {
      const failed = events(s, 'output_failed');
      assert.equal(failed.length, 1, `${s}: ${JSON.stringify(failed)}`);
      assert.equal(failed[0]!.stream, 'stdout');
    }
    assert.match(String(events('linked', 'output_failed')[0]!.error), /symbolic link/);
    assert.equal(readFileSync(victim(), 'utf8'), 'precious\n');
    // The path made usable: within about a second the output goes there again, and that is told.
    unlinkSync(box.file('logs/linked.log'));
    await box.waitFor('output_resumed', () => events('linked', 'output_resumed').length === 1, 10_000);
    assert.ok(Number(events('linked', 'output_resumed')[0]!.lostBytes) > 0);
    await box.waitFor('lines in the file', () => /tick \d+\n/.test(readFileSync(box.file('logs/linked.log'), 'utf8')), 5000);
    assert.equal(readFileSync(victim(), 'utf8'), 'precious\n');
    const c = await box.client();
    const why = (await c.events({ service: 'linked', types: ['output_failed'] }))[0]!;
    assert.equal(why.type, 'output_failed');
  });

  it('a link planted at the path while the buddy rotates is never written through', async () => {
    // The attack of a service that can write to its log folder: keep replacing the file by a link.
    const planter = execFileSync('sh', [
      '-c',
      `(end=$(( $(date +%s) + 4 )); while [ $(date +%s) -lt $end ]; do ln -sf ${victim()} ${box.file('logs/rotating.log')} 2>/dev/null; done) >/dev/null 2>&1 & echo $!`,
    ])
      .toString()
      .trim();
    await box.waitFor('the planter to end', () => !alive(Number(planter)), 10_000);
    assert.equal(readFileSync(victim(), 'utf8'), 'precious\n');
    rmSync(box.file('logs/rotating.log'), { force: true });
    await box.waitFor(
      'the log begun again',
      () => existsSync(box.file('logs/rotating.log')) && readFileSync(box.file('logs/rotating.log'), 'utf8').includes('tick'),
      10_000,
    );
  });

  it('a pipe program whose output file is refused: the service never blocks, the output is told lost, the program starts once the path is fixed', async () => {
    await box.waitFor('the service to write all it had', () => existsSync(box.file('piped-done')), 10_000);
    await box.waitFor('output_failed', () => events('piped', 'output_failed').length === 1, 5000);
    assert.match(String(events('piped', 'output_failed')[0]!.error), /piped\.fifo: ENXIO \(a FIFO no one reads/);
    unlinkSync(box.file('logs/piped.fifo'));
    await box.waitFor('output_resumed', () => events('piped', 'output_resumed').length === 1, 10_000);
    assert.ok(Number(events('piped', 'output_resumed')[0]!.lostBytes) >= 200_000);
  });

  it('/dev/null takes the output, and is never rotated (never renamed, whatever LogMaxSize says)', async () => {
    await sleep(1000); // 20 lines, far past LogMaxSize 100
    assert.ok(statSync('/dev/null').isCharacterDevice());
    assert.ok(!existsSync('/dev/null.1'));
    assert.deepEqual(events('devnull', 'output_failed'), []);
  });

  it('log/stdout deleted under a running buddy is begun anew within about a second', async () => {
    const log = join(box.runDir('plain'), 'log', 'stdout');
    unlinkSync(log);
    await box.waitFor('a new log/stdout', () => existsSync(log) && /tick \d+\n/.test(readFileSync(log, 'utf8')), 5000);
  });

  it('log/ deleted under a running buddy: a stop still works (its script runs, its output is kept), and log/ is made again', async () => {
    const [before] = await (await box.client()).status('plain');
    rmSync(join(box.runDir('plain'), 'log'), { recursive: true, force: true });
    const r = await box.upk(['stop', 'plain']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(alive(before!.pid!), false);
    assert.match(readFileSync(join(box.runDir('plain'), 'log', 'actions'), 'utf8'), /stop \(pid \d+\) exited with code 0/);
    const again = await box.upk(['start', 'plain']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    // A reconfigure of its output takes the FIFO over from the channel before, not by its name: the
    // service, started into the FIFO whose name was deleted, still reaches log/stdout.
    const conf = join(box.servicesDir, 'services.conf');
    const services = JSON.parse(readFileSync(conf, 'utf8')) as Record<string, Record<string, unknown>>;
    services.plain!.LogMaxSize = 1_000_000;
    writeFileSync(conf, JSON.stringify(services));
    assert.equal((await box.upk(['reload-config'])).code, 0);
    const stdout = join(box.runDir('plain'), 'log', 'stdout');
    const size = (): number => (existsSync(stdout) ? statSync(stdout).size : 0);
    await sleep(300);
    const sizeThen = size();
    await box.waitFor('output after the reconfigure', () => size() > sizeThen + 20, 5000);
  });

  it('a symbolic link in the folder part of the path, in a folder of another user: refused, nothing written through it', async (t) => {
    if (process.getuid!() !== 0) return t.skip('needs root, to give a folder to another user');
    // The attack of a service run as nobody whose log folder is nobody's: its sub-folder made a link to a root-only folder.
    mkdirSync(box.file('nobodys/logs'), { recursive: true });
    mkdirSync(box.file('rootonly'), { mode: 0o700 });
    writeFileSync(box.file('rootonly/app.log'), 'ROOT ORIGINAL\n');
    rmSync(box.file('nobodys/logs'), { recursive: true });
    symlinkSync(box.file('rootonly'), box.file('nobodys/logs'));
    execFileSync('chown', ['-h', '-R', 'nobody', box.file('nobodys')]);
    const conf = { ExecStart: TICKER, RedirectStdout: box.file('nobodys/logs/app.log'), MinUptime: 0.1, InitialState: 'running' };
    writeFileSync(join(box.servicesDir, 'planted.conf'), JSON.stringify({ planted: conf }));
    assert.equal((await box.upk(['reload-config'])).code, 0);
    await box.waitForState('planted', 'running');
    await box.waitFor('output_failed', () => events('planted', 'output_failed').length === 1, 5000);
    assert.match(
      String(events('planted', 'output_failed')[0]!.error),
      /nobodys\/logs is a symbolic link of user \d+ in a folder of user \d+/,
    );
    await sleep(500);
    assert.equal(readFileSync(box.file('rootonly/app.log'), 'utf8'), 'ROOT ORIGINAL\n');
    const check = await box.upk(['check-config']);
    assert.match(check.stdout + check.stderr, /planted\.RedirectStdout: .*nobodys\/logs is a symbolic link/);
    assert.equal((await box.upk(['stop', 'planted'])).code, 0);
  });

  it('a start with a NUL byte in an environment file fails naming the file and line, never the value', async () => {
    const r = await box.upk(['start', 'nul']);
    assert.notEqual(r.code, 0);
    const failed = events('nul', 'spawn_failed');
    assert.ok(failed.length > 0);
    assert.match(String(failed[0]!.error), /nul\.env:2: the value holds a NUL byte/);
    assert.doesNotMatch(
      JSON.stringify(box.events('nul')) + r.stdout + r.stderr + readFileSync(join(box.stateDir, 'controller.log'), 'utf8'),
      /s3cr3t/,
    );
  });

  it('after all that, every buddy exits on a shutdown', async () => {
    const c = await box.client();
    const buddies = (await c.list()).map((s) => s.buddyPid).filter((p): p is number => typeof p === 'number');
    assert.ok(buddies.length >= 5, JSON.stringify(buddies));
    const r = await box.upk(['shutdown']);
    assert.equal(r.code, 0, r.stderr);
    await box.waitFor('every buddy to exit', () => buddies.every((p) => !alive(p)), 15_000);
    for (const s of ['linked', 'fifo', 'dir', 'rotating']) {
      assert.doesNotMatch(readFileSync(join(box.runDir(s), 'log', 'buddy'), 'utf8'), /unhandled|uncaught/, s);
    }
  });
});
