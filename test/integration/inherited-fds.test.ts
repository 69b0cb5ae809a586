// A descriptor open without close-on-exec where the controller is started (a shell's `exec 37<file`)
// reaches neither the controller's buddies nor their services: the controller closes what it inherited.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CONTROLLER, run, Sandbox, UPK } from '../helpers/sandbox.js';

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

  it("upk-controller started directly with 300 inherited descriptors and V8's perf map: it closes those, keeps V8's own file", async () => {
    const box2 = new Sandbox('fdsv8');
    let pid = 0;
    try {
      box2.writeServices({
        lister: { ExecStart: `sh -c 'ls /proc/$$/fd > "$OUT"; exec sleep 1000'`, Environment: { OUT: box2.file('fds') } },
      });
      mkdirSync(box2.stateDir, { recursive: true });
      // 300 files and a pipe left open by the shell; node's --perf-basic-prof opens /tmp/perf-PID.map (and its log, in the sandbox) itself.
      const script = [
        'for i in $(seq 100 399); do eval "exec $i</dev/null"; done',
        'exec 60< <(sleep 30)',
        `exec "${process.execPath}" --perf-basic-prof "${CONTROLLER}" >>"${join(box2.stateDir, 'controller.log')}" 2>&1`,
      ].join('\n');
      const shell = spawn('bash', ['-c', script], { env: box2.env, cwd: box2.dir, stdio: 'ignore', detached: true });
      shell.unref();
      const c = await box2.waitFor('the controller', () => box2.client().catch(() => undefined), 20_000);
      pid = (await c.controllerStatus()).pid;
      await c.start('lister');
      const listed = await box2.waitFor('the listing', () => readFileSync(box2.file('fds'), 'utf8').trim() || undefined);
      const inherited = (fd: number): boolean => fd === 60 || (fd >= 100 && fd < 400);
      assert.ok(!listed.split('\n').map(Number).some(inherited), `the service's descriptors: ${listed}`);
      const held = [...openFiles(pid).entries()];
      assert.ok(!held.some(([fd]) => inherited(fd)), `the controller closed what it inherited: ${JSON.stringify(held)}`);
      assert.ok(
        held.some(([, target]) => target === `/tmp/perf-${pid}.map`),
        `V8's perf map is still open: ${JSON.stringify(held)}`,
      );
      // What V8 writes to its map must reach it, never a file that got its descriptor number after a close.
      for (const name of readdirSync(box2.stateDir).filter((n) => n.startsWith('upkeeper.db') || n.startsWith('controller.lock'))) {
        assert.doesNotMatch(readFileSync(join(box2.stateDir, name), 'latin1'), / JS:~/, `${name} holds V8's perf map lines`);
      }
    } finally {
      await box2.cleanup();
      if (pid > 0) rmSync(`/tmp/perf-${pid}.map`, { force: true });
    }
  });
});
