// The default start script over a literal ExecStart: the buddy execs the program itself (buddy.json
// startCommand). The service must see what `/bin/sh -c 'exec …'` would have given it.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

/** Prints PWD and the program's first argument, then stays: no shell in between to set PWD again. */
const PRINT_PWD = [process.execPath, '-e', 'console.log(`[${process.env.PWD}]`); setInterval(() => {}, 1e9)'];

describe('a start without /bin/sh', { timeout: 90_000 }, () => {
  const box = new Sandbox('direct');
  const work = box.file('work');
  const bin = box.file('bin');
  const out = (name: string): string => readFileSync(join(box.runDir(name), 'log', 'stdout'), 'utf8');
  const settings = (name: string): { startCommand: string[] | null } =>
    JSON.parse(readFileSync(join(box.runDir(name), 'buddy.json'), 'utf8')) as { startCommand: string[] | null };

  before(async () => {
    mkdirSync(work);
    mkdirSync(bin);
    writeFileSync(join(bin, 'only-here'), `#!/bin/sh\necho "[found $1]"\nexec sleep 1000\n`);
    chmodSync(join(bin, 'only-here'), 0o755);
    writeFileSync(join(box.servicesDir, 'path.env'), `PATH=${bin}:/usr/bin:/bin\n`);
    box.writeServices({
      pwd: { ExecStart: PRINT_PWD, WorkingDirectory: work, InitialState: 'running', MinUptime: 0 },
      // A program only the PATH of its environment file finds.
      path: { ExecStart: 'only-here x', EnvironmentFile: ['path.env'], InitialState: 'running', MinUptime: 0 },
    });
    await box.startController();
    await box.waitForState('pwd', 'running');
    await box.waitForState('path', 'running');
  });
  after(() => box.cleanup());

  it('is taken: buddy.json holds the program and its arguments', () => {
    assert.deepEqual(settings('pwd').startCommand, PRINT_PWD);
    assert.deepEqual(settings('path').startCommand, ['only-here', 'x']);
  });

  it('PWD is the working directory, as /bin/sh sets it (never the controller’s)', async () => {
    await box.waitFor('its line', () => out('pwd').includes('\n'));
    assert.equal(out('pwd').trim(), `[${work}]`);
  });

  it('the program is found by the PATH of its environment file', async () => {
    await box.waitFor('its line', () => out('path').includes('\n'));
    assert.equal(out('path').trim(), '[found x]');
  });

  it('a changed ExecStart is what the next start execs; one that needs the shell runs scripts/start again', async () => {
    const services = {
      pwd: { ExecStart: PRINT_PWD, WorkingDirectory: work, InitialState: 'running', MinUptime: 0 },
      path: { ExecStart: 'only-here y', EnvironmentFile: ['path.env'], InitialState: 'running', MinUptime: 0 },
    };
    box.writeServices(services);
    assert.equal((await box.upk(['reload-config'])).code, 0);
    assert.deepEqual(settings('path').startCommand, ['only-here', 'y']);
    assert.equal((await box.upk(['restart', 'path'])).code, 0);
    await box.waitFor('the second line', () => out('path').trim().split('\n').length === 2);
    assert.equal(out('path').trim().split('\n')[1], '[found y]');
    box.writeServices({ ...services, path: { ...services.path, ExecStart: 'only-here "$HOME"' } });
    assert.equal((await box.upk(['reload-config'])).code, 0);
    assert.equal(settings('path').startCommand, null);
    assert.equal((await box.upk(['restart', 'path'])).code, 0);
    await box.waitFor('the third line', () => out('path').trim().split('\n').length === 3);
    assert.equal(out('path').trim().split('\n')[2], `[found ${process.env.HOME ?? ''}]`);
  });
});
