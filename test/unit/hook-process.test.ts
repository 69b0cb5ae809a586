// runHookProcess with real programs: the input on stdin, the end of the output kept, a program that
// cannot start, a run left behind by a background process, and a timeout that kills the whole group.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { HOOK_OUTPUT_MAX, runHookProcess, type HookCommand } from '../../controller/hook-process.js';
import { REAL_CLOCK } from '../../system/clock.js';
import { groupAlive } from '../../system/process-group.js';

const T = { timeout: 20_000 };
const cmd = (argv: string[], fields: Partial<HookCommand> = {}): HookCommand => ({
  argv,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  cwd: tmpdir(),
  input: '',
  timeoutMs: 10_000,
  ...fields,
});

describe('hook process', T, () => {
  it('gets its input on stdin; its exit status is its outcome; stdout and stderr are kept as they came', async () => {
    const ok = await runHookProcess(cmd(['sh', '-c', 'cat; echo err >&2'], { input: '{"id":1}\n' }), REAL_CLOCK).done;
    assert.deepEqual(ok, { outcome: 'ok', reason: null, exitCode: 0, signal: null, output: '{"id":1}\nerr\n' });
    const failed = await runHookProcess(cmd(['sh', '-c', 'exit 22']), REAL_CLOCK).done;
    assert.deepEqual([failed.outcome, failed.exitCode], ['failed', 22]);
  });

  it('keeps the last 4 KiB of a long output; a hook that never reads its input is no trouble', async () => {
    const end = await runHookProcess(
      cmd(['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done'], { input: 'x'.repeat(1 << 20) }),
      REAL_CLOCK,
    ).done;
    assert.equal(end.outcome, 'ok');
    assert.ok(end.output.length <= HOOK_OUTPUT_MAX && end.output.length > HOOK_OUTPUT_MAX - 20, `${end.output.length}`);
    assert.ok(end.output.endsWith('line 1999\n'));
  });

  it('a program that cannot start fails with why', async () => {
    const run = runHookProcess(cmd(['/nonexistent/hook']), REAL_CLOCK);
    const end = await run.done;
    assert.equal(end.outcome, 'failed');
    assert.match(end.reason ?? '', /^cannot run \/nonexistent\/hook: spawn \/nonexistent\/hook ENOENT$/);
  });

  it('ends when its program exits, though a background process it left holds the output; what it left is killed', async () => {
    const started = Date.now();
    const run = runHookProcess(cmd(['sh', '-c', 'sleep 5 & echo done']), REAL_CLOCK);
    const end = await run.done;
    assert.deepEqual([end.outcome, end.output], ['ok', 'done\n']);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    // Also one that let go of the output (nothing holds the pipe: the run ends at once).
    const quiet = runHookProcess(cmd(['sh', '-c', 'sleep 5 >/dev/null 2>&1 & exit 0']), REAL_CLOCK);
    assert.equal((await quiet.done).outcome, 'ok');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!groupAlive(run.pid!), 'the background sleep of an ok run is gone');
    // (Killed 0.5 s after its program exited: a setsid it began has had the time to end.)
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(!groupAlive(quiet.pid!), 'the quiet one too');
  });

  it('at its timeout the whole group gets SIGTERM; what ignores it gets SIGKILL', async () => {
    const run = runHookProcess(cmd(['sh', '-c', `trap '' TERM; sleep 30 & echo up; wait`], { timeoutMs: 300 }), REAL_CLOCK);
    const end = await run.done;
    assert.equal(end.outcome, 'timed_out');
    assert.equal(end.reason, 'still running after its Timeout of 300 ms: killed');
    assert.equal(end.output, 'up\n');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!groupAlive(run.pid!), 'nothing of its group is left');
  });

  it('what it starts in a session of its own (setsid, as documented) outlives it, holding the output or not', async () => {
    for (const script of ['setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!', 'setsid sleep 30 & echo $!']) {
      const end = await runHookProcess(cmd(['sh', '-c', script]), REAL_CLOCK).done;
      const kept = Number(end.output.trim());
      try {
        assert.equal(end.outcome, 'ok');
        await new Promise((r) => setTimeout(r, 700)); // (past the kill of what is left in the group)
        assert.ok(groupAlive(kept), `${script}: the process in its own session is alive`);
      } finally {
        if (kept > 0) process.kill(kept, 'SIGKILL');
      }
    }
  });
});
