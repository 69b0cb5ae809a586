// Log files that already existed with mode 0666 are made 0600 when upkeeper opens them; a Redirect file keeps its owner's mode.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8).padStart(4, '0');

/** Create `file` (and its folder) with mode 0666, as an older version or another umask could have left it. */
function worldWritable(file: string): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(file, 'old line\n');
  chmodSync(file, 0o666);
}

describe('log file modes', { timeout: 60_000 }, () => {
  let box: Sandbox;
  let umask: number;
  const plainLog = (name: string): string => join(box.runDir('plain'), 'log', name);
  const pipedLog = (name: string): string => join(box.runDir('piped'), 'log', name);

  before(async () => {
    umask = process.umask(0); // files created anew must come out 0600 too, whatever the umask
    box = new Sandbox('logmodes');
    box.writeServices({
      plain: {
        ExecStart: `sh -c 'echo out; echo err >&2; exec sleep 1000'`,
        MinUptime: 0.1,
        InitialState: 'running',
        LogKeep: 2,
        CustomActions: { hello: 'echo hello' },
      },
      piped: {
        ExecStart: `sh -c 'echo one; exec sleep 1000'`,
        PipeStdoutScript: 'exec sed -u s/^/piped:/',
        MinUptime: 0.1,
        InitialState: 'running',
      },
      redirected: {
        ExecStart: `sh -c 'echo to the file; exec sleep 1000'`,
        RedirectStdout: './redirected.out',
        MinUptime: 0.1,
        InitialState: 'running',
      },
    });
    worldWritable(join(box.stateDir, 'controller.log'));
    for (const name of ['stdout', 'stderr', 'stdout.1', 'stderr.2', 'actions', 'buddy']) worldWritable(plainLog(name));
    for (const name of ['stdout', 'buddy']) worldWritable(pipedLog(name));
    worldWritable(join(box.servicesDir, 'redirected.out'));
    await box.startController();
    for (const s of ['plain', 'piped', 'redirected']) await box.waitForState(s, 'running');
  });
  after(async () => {
    await box.cleanup();
    process.umask(umask);
  });

  it("the controller log, the output, rotated, action and buddy logs, and the pipe program's files are 0600", async () => {
    const c = await box.client();
    assert.equal((await c.action('plain', 'hello')).code, 0);
    await c.stop('plain'); // the stop script's output goes to log/actions too
    await box.waitFor('piped output', () => readFileSync(pipedLog('stdout'), 'utf8').includes('piped:one'));
    const files = [
      join(box.stateDir, 'controller.log'),
      ...['stdout', 'stderr', 'stdout.1', 'stderr.2', 'actions', 'buddy'].map(plainLog),
      ...['stdout', 'buddy', 'stderr'].map(pipedLog),
      join(box.runDir('redirected'), 'log', 'stderr'), // created anew under umask 0
    ];
    const modes = Object.fromEntries(files.map((f) => [f.slice(box.dir.length + 1), modeOf(f)]));
    assert.deepEqual(modes, Object.fromEntries(Object.keys(modes).map((f) => [f, '0600'])));
    assert.match(readFileSync(plainLog('actions'), 'utf8'), /hello/);
  });

  it('a RedirectStdout file keeps the mode its owner gave it', async () => {
    await box.waitFor('redirected output', () => readFileSync(join(box.servicesDir, 'redirected.out'), 'utf8').includes('to the file'));
    assert.equal(modeOf(join(box.servicesDir, 'redirected.out')), '0666');
  });
});
