// A buddy that does not exit after its shutdown (a bug) is killed by the controller after the drain
// time, and that is told: no buddy runs on unseen after `upk shutdown`.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Sandbox, alive } from '../helpers/sandbox.js';

const BUDDY = fileURLToPath(new URL('../../buddy/main.js', import.meta.url));

describe('a buddy stuck after its shutdown', { timeout: 60_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('stuck', { UpkBuddyPath: './wrapper.mjs' });
    // The real buddy, which cannot exit: process.exit does nothing, and a timer keeps it alive.
    writeFileSync(
      box.file('wrapper.mjs'),
      `process.exit = () => undefined;\nsetInterval(() => undefined, 1000);\nawait import(${JSON.stringify(BUDDY)});\n`,
    );
    box.writeServices({
      app: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      frozen: {
        ExecStart: 'sleep 1000',
        InitialState: 'running',
        MinUptime: 0.1,
        KillTimeout: 1,
        PipeStdoutScript: 'cat; exec sleep 1000',
      }, // the pipe program outlives the end of its input
    });
    await box.startController();
    await box.waitForState('app', 'running');
    await box.waitForState('frozen', 'running');
  });
  after(() => box.cleanup());

  it('upk shutdown: a buddy that does not exit, or does not answer, is killed and its service stopped; the answer says so', async () => {
    const c = await box.client();
    const [app] = await c.status('app');
    const [frozen] = await c.status('frozen');
    // frozen's buddy is stopped by a signal: it will not answer its shutdown (2 × KillTimeout + 15 s).
    const pipe = JSON.parse(readFileSync(join(box.runDir('frozen'), 'status'), 'utf8')).pipes.stdout.pid as number;
    assert.ok(alive(pipe), 'its pipe program runs');
    process.kill(frozen!.buddyPid!, 'SIGSTOP');
    const r = await box.upk(['shutdown'], 40_000);
    for (const s of [app!, frozen!]) {
      assert.equal(alive(s.pid!), false, `${s.name}'s service is stopped`);
      assert.equal(alive(s.buddyPid!), false, `${s.name}'s buddy ${s.buddyPid} still runs: ${r.stdout}${r.stderr}`);
    }
    assert.equal(alive(pipe), false, 'the pipe program of the killed buddy is gone too');
    assert.match(r.stdout + r.stderr, /app: ok: .*its buddy did not exit and was killed/);
    assert.match(
      r.stdout + r.stderr,
      /frozen: ok: stopped by the controller \(its buddy \d+ did not answer its shutdown .*\); its buddy did not answer and was killed/,
    );
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.match(log, /app: buddy \d+ did not exit 15 s after its shutdown: killed/);
    assert.match(log, /frozen: its buddy \d+ did not answer its shutdown .*: killed/);
  });
});
