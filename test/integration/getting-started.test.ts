// A new user's first steps: the package carries the programs (npm pack), npm start says what to type
// next and stops on Ctrl-C as the controller does, and "the controller is not running" names the
// configuration it used and the command that starts one.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, ErrorCode, UpkError } from '../../libclient/index.js';
import { alive, run, Sandbox, UPK } from '../helpers/sandbox.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const START = join(ROOT, 'examples', 'start.mjs');

describe('getting started', { timeout: 90_000 }, () => {
  const box = new Sandbox('started');
  after(() => box.cleanup());

  it('npm pack carries dist/ with every program of package.json bin, and examples/start.mjs', (t) => {
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    if (pack.error) return t.skip(`npm cannot be run here: ${pack.error.message}`);
    assert.equal(pack.status, 0, pack.stderr);
    const files = new Set((JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    assert.deepEqual(Object.keys(pkg.bin).sort(), ['upk', 'upk-buddy', 'upk-controller', 'uptop']);
    for (const program of Object.values(pkg.bin)) assert.ok(files.has(program), `the package lacks ${program}`);
    for (const f of ['dist/libclient/index.js', 'schema/migrations/001_initial.sql', 'examples/start.mjs', 'examples/upkeeper.conf'])
      assert.ok(files.has(f), `the package lacks ${f}`);
    assert.equal(pkg.scripts.start, 'node examples/start.mjs');
  });

  it('npm start prints the export and two commands, runs the controller in the foreground, and Ctrl-C stops it alone', async () => {
    box.writeServices({ keep: { ExecStart: 'sleep 1000', InitialState: 'running' } });
    const child = spawn(process.execPath, [START, box.configFile], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await box.waitFor('the controller to answer', async () => ((await connect({ config: box.configFile })).close(), true), 20_000);
      const keep = await box.waitForState('keep', 'running', 20_000);
      assert.match(out, new RegExp(`^upkeeper: a controller in the foreground for ${box.configFile}$`, 'm'));
      assert.match(out, new RegExp(`^ {2}export UPKEEPER_CONFIG=${box.configFile}$`, 'm'));
      assert.match(out, /^ {2}npx upk list +#/m);
      assert.match(out, /^ {2}npx upk shutdown +#/m);
      const status = await (await box.client()).controllerStatus();
      assert.equal(status.pid, child.pid, 'the controller runs in the process npm start started');
      child.kill('SIGINT');
      assert.equal(await exited, 0, out);
      assert.ok(alive(keep.pid!) && alive(keep.buddyPid!), 'the service and its buddy run on');
      assert.match(out, /SIGINT: stopping the controller \(services keep running\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('"the controller is not running" names the configuration and the command that starts one', async () => {
    const res = await box.upk(['--config', box.configFile, 'status']);
    assert.equal(res.code, 3);
    assert.deepEqual(res.stderr.trim().split('\n'), [
      `upk: the controller is not running: no answer on ${join(box.stateDir, 'controller.sock')} (configuration: ${box.configFile})`,
      `upk: start one with: upk --config ${box.configFile} controller start`,
    ]);
    // Through $UPKEEPER_CONFIG as well: the hint names the file, so it works from any shell.
    assert.match((await box.upk(['list'])).stderr, new RegExp(`start one with: upk --config ${box.configFile} controller start`));

    const home = box.file('home');
    const defaults = await run(process.execPath, [UPK, 'list'], { PATH: process.env.PATH, HOME: home }, 30_000);
    assert.equal(defaults.code, 3);
    assert.deepEqual(defaults.stderr.trim().split('\n'), [
      `upk: the controller is not running: no answer on ${home}/.local/state/upkeeper/controller.sock (configuration: the default settings, no file found at ${home}/.config/upkeeper/upkeeper.conf)`,
      'upk: start one with: upk controller start',
    ]);

    const stop = await box.upk(['controller', 'stop']);
    assert.equal(stop.code, 3);
    assert.doesNotMatch(stop.stderr, /start one/, 'no controller to stop needs no start');

    await assert.rejects(connect({ config: box.configFile }), (err: unknown) => {
      assert.ok(err instanceof UpkError && err.code === ErrorCode.CONTROLLER_NOT_RUNNING);
      assert.deepEqual(err.details, { socket: join(box.stateDir, 'controller.sock'), configFile: box.configFile });
      return true;
    });
    await box.startController(); // so that the cleanup's upk shutdown stops the service npm start left running
  });
});
