// Custom actions, reload and signals; where the service's output goes.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

describe('actions, signals and output', { timeout: 90_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('actions');
    box.writeServices({
      app: {
        ExecStart: `sh -c 'trap "echo got HUP" HUP; trap "echo got USR1" USR1; echo hello out; echo hello err >&2; while :; do sleep 0.05; done'`,
        MinUptime: 0.1,
        InitialState: 'running',
        CustomActions: {
          greet: 'echo "greeting $1"; echo "to stderr" >&2; exit 3',
          ok: 'echo fine',
        },
      },
      redirected: {
        ExecStart: `sh -c 'echo to the file; exec sleep 1000'`,
        RedirectStdout: './redirected.out',
        MinUptime: 0.1,
        InitialState: 'running',
      },
      hupless: { ExecStart: 'sleep 1000', MinUptime: 0.1, InitialState: 'running' },
      piped: {
        ExecStart: `sh -c 'echo one; echo two; exec sleep 1000'`,
        PipeStdoutScript: 'exec sed -u s/^/piped:/',
        MinUptime: 0.1,
        InitialState: 'running',
      },
    });
    await box.startController();
    await box.waitForState('app', 'running');
  });
  after(() => box.cleanup());

  it('a custom action reports its output and exit status, by name and by number', async () => {
    const c = await box.client();
    const [app] = await c.status('app');
    const r = await c.action('app', 'greet');
    assert.equal(r.code, 3);
    assert.equal(r.signal, null);
    assert.match(r.output, new RegExp(`greeting ${app!.pid}`), 'the service pid is $1');
    assert.match(r.output, /to stderr/);
    const byNumber = await c.action('app', '01');
    assert.equal(byNumber.action, 'ok');
    assert.equal(byNumber.code, 0);
    const log = readFileSync(join(box.runDir('app'), 'log', 'actions'), 'utf8');
    assert.match(log, /greeting \d+/);
    assert.match(log, /greet \(pid \d+\) exited with code 3/);
    const finished = box.events('app').filter((e) => e.type === 'action_finished');
    assert.ok(finished.some((e) => e.code === 3 && JSON.parse(e.detail!).action === 'greet'));
    const cli = await box.upk(['action', 'app', 'greet']);
    assert.equal(cli.code, 5);
    assert.match(cli.stdout, /greeting/);
    const missing = await box.upk(['action', 'app', 'nope']);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /no action "nope".*00 greet, 01 ok/);
  });

  it('actions/ links number the custom actions in config order', () => {
    const dir = join(box.runDir('app'), 'actions');
    assert.equal(readlinkSync(join(dir, '00')), '../scripts/greet');
    assert.equal(readlinkSync(join(dir, '01')), '../scripts/ok');
    assert.equal(readlinkSync(join(dir, 'start')), '../scripts/start');
  });

  it('reload runs the reload script (kill -HUP $1 by default)', async () => {
    const c = await box.client();
    const [r] = await c.reload('app');
    assert.equal(r!.ok, true, r!.message);
    await box.waitFor('the HUP line', () => readFileSync(join(box.runDir('app'), 'log', 'stdout'), 'utf8').includes('got HUP'));
  });

  it('a reload that kills the service says so and fails (the pid shown is not taken for the reloaded one)', async () => {
    const c = await box.client();
    const [before] = await box.waitForState('hupless', 'running').then(() => c.status('hupless')); // sleep dies of SIGHUP
    const res = await box.upk(['reload', 'hupless']);
    assert.equal(res.code, 5, res.stdout + res.stderr);
    assert.match(
      res.stdout + res.stderr,
      new RegExp(
        `reload done, but the process ${before!.pid} was killed by SIGHUP, and was started again \\(pid \\d+\\): it does not reload on this signal`,
      ),
    );
    await box.waitForState('hupless', 'running');
  });

  it('signal sends to the service', async () => {
    const res = await box.upk(['signal', 'app', 'USR1']);
    assert.equal(res.code, 0, res.stderr);
    await box.waitFor('the USR1 line', () => readFileSync(join(box.runDir('app'), 'log', 'stdout'), 'utf8').includes('got USR1'));
    const bad = await box.upk(['signal', 'app', 'NOTASIGNAL']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown signal/);
  });

  it("the service's stdout and stderr land in log/stdout and log/stderr", async () => {
    const out = readFileSync(join(box.runDir('app'), 'log', 'stdout'), 'utf8');
    const err = readFileSync(join(box.runDir('app'), 'log', 'stderr'), 'utf8');
    assert.match(out, /^hello out$/m);
    assert.match(err, /^hello err$/m);
    assert.doesNotMatch(out, /hello err/);
  });

  it('RedirectStdout and PipeStdoutScript', async () => {
    await box.waitFor('the redirected line', () => {
      try {
        return readFileSync(box.file('services/redirected.out'), 'utf8').includes('to the file');
      } catch {
        return false;
      }
    });
    await box.waitFor(
      'the piped lines',
      () => readFileSync(join(box.runDir('piped'), 'log', 'stdout'), 'utf8') === 'piped:one\npiped:two\n',
    );
  });

  it('upk logs: the last lines of each stream, from the files the output lands in', async () => {
    const both = await box.upk(['logs', 'app']);
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /^== stdout: .*\/log\/stdout\nhello out\ngot HUP\ngot USR1\n== stderr: .*\/log\/stderr\nhello err\n$/);
    assert.equal((await box.upk(['logs', 'app', '-n', '1', '--stdout'])).stdout, 'got USR1\n');
    const redirected = await box.upk(['logs', 'redirected', '--stdout']);
    assert.equal(redirected.stdout, 'to the file\n');
    const piped = await (await box.client()).logs('piped', { lines: 1 });
    assert.deepEqual(piped.stdout.lines, ['piped:two']);
    assert.equal((await box.upk(['logs', 'nosuch'])).code, 4);
    // `all` (and several names) print each line after its service and stream (issue 11: `upk logs [NAME…|all]`).
    const all = await box.upk(['logs', 'all', '-n', '1', '--stdout']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^app +stdout \| got USR1$/m);
    assert.match(all.stdout, /^redirected +stdout \| to the file$/m);
    assert.equal((await box.upk(['logs', 'app', '--stdout', '--stderr'])).code, 2);
  });
});

describe('SetUID and SetGID', { timeout: 60_000, skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  it("a service runs as another user, with that user's group and no supplementary groups", async () => {
    const box = new Sandbox('setuid');
    try {
      box.writeServices({ asnobody: { ExecStart: 'sleep 1000', SetUID: 'nobody', InitialState: 'running', MinUptime: 0.1 } });
      await box.startController();
      const s = await box.waitForState('asnobody', 'running');
      const status = readFileSync(`/proc/${s.pid}/status`, 'utf8');
      const nobody = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('nobody:'))!
        .split(':');
      assert.match(status, new RegExp(`^Uid:\\s+${nobody[2]}\\s`, 'm'));
      assert.match(status, new RegExp(`^Gid:\\s+${nobody[3]}\\s`, 'm'));
      assert.match(status, /^Groups:\s*$/m, "root's supplementary groups are dropped");
      const [stopped] = await (await box.client()).stop('asnobody');
      assert.equal(stopped!.ok, true, stopped!.message);
    } finally {
      await box.cleanup();
    }
  });
});
