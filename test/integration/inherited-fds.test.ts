// A descriptor open without close-on-exec where the controller is started (a shell's `exec 37<file`)
// reaches neither the controller's buddies nor their services: the controller closes what it inherited.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { run, Sandbox, UPK } from '../helpers/sandbox.js';

/** The files a process holds open, by descriptor. */
function openFiles(pid: number): Map<number, string> {
  const files = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      files.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return files;
}

describe('inherited descriptors', { timeout: 30_000 }, () => {
  const box = new Sandbox('fds');
  after(() => box.cleanup());

  it('a descriptor inherited by upk controller start reaches no buddy and no service; the log says it was closed', async () => {
    const secret = box.file('secret');
    writeFileSync(secret, 'not for services\n');
    box.writeServices({ lister: { ExecStart: `sh -c 'ls /proc/$$/fd > "$OUT"; exec sleep 1000'`, Environment: { OUT: box.file('fds') } } });
    // upk is node: it keeps descriptor 37 open over its exec of the controller, as any program would.
    const started = await run('bash', ['-c', `exec 37<"${secret}"; exec "${process.execPath}" "${UPK}" controller start`], box.env, 20_000);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    const c = await box.client();
    await c.start('lister');
    const [s] = await c.status('lister');
    const controllerPid = (await c.controllerStatus()).pid;
    for (const [who, pid] of [
      ['controller', controllerPid],
      ['buddy', s!.buddyPid!],
      ['service', s!.pid!],
    ] as const) {
      const held = [...openFiles(pid).entries()].filter(([, target]) => target === secret);
      assert.deepEqual(held, [], `the ${who} holds the inherited file`);
    }
    const listed = await box.waitFor('the listing', () => readFileSync(box.file('fds'), 'utf8').trim() || undefined);
    assert.ok(!listed.split('\n').includes('37'), `the service's descriptors: ${listed}`);
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.match(log, /closed the descriptors it inherited \((\d+, )*37(, \d+)*\): no buddy or service gets them/);
  });
});
