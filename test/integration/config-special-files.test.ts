// A FIFO and a link to /dev/zero named *.conf: upk check-config and upk reload-config name them at once, and the controller keeps serving.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

describe('configuration files that are no regular files', { timeout: 60_000 }, () => {
  let box: Sandbox;
  let fifo: string;
  let zero: string;
  before(async () => {
    box = new Sandbox('cfgkinds');
    box.writeServices({ keeper: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } }, 'main.conf');
    await box.startController();
    await box.waitForState('keeper', 'running');
    // Named so that each is read before main.conf: a reader that blocks on the FIFO never reaches the rest.
    fifo = join(box.servicesDir, 'a-fifo.conf');
    zero = join(box.servicesDir, 'b-zero.conf');
    execFileSync('mkfifo', [fifo]);
    symlinkSync('/dev/zero', zero);
  });
  after(() => box.cleanup());

  const expectNamed = (out: string): void => {
    assert.ok(out.includes(`${fifo}: cannot read the file: it is a FIFO, not a regular file`), out);
    assert.ok(out.includes(`${zero}: cannot read the file: it is a character device, not a regular file`), out);
  };

  it('upk check-config names both files and exits 7, at once', async () => {
    // A reader that blocked on the FIFO or read /dev/zero would never end: the run's 10 s limit fails it.
    const res = await box.upk(['check-config'], 10_000);
    assert.equal(res.code, 7, res.stdout + res.stderr);
    expectNamed(res.stdout);
  });

  it('upk reload-config names both files, changes nothing, and the controller keeps serving', async () => {
    const c = await box.client();
    const [keeperBefore] = await c.status('keeper');
    const res = await box.upk(['reload-config'], 10_000);
    assert.equal(res.code, 7, res.stdout + res.stderr);
    expectNamed(res.stdout);
    assert.match(res.stdout, /nothing changed/);
    const status = await box.upk(['status', 'keeper'], 10_000);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const [keeper] = await c.status('keeper');
    assert.equal(keeper!.state, 'running');
    assert.equal(keeper!.pid, keeperBefore!.pid);
  });
});
