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
    box.writeServices({ app: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } });
    await box.startController();
    await box.waitForState('app', 'running');
  });
  after(() => box.cleanup());

  it('upk shutdown stops the service, kills the buddy after 15 s, and says so', async () => {
    const [status] = await (await box.client()).status('app');
    const buddy = status!.buddyPid!;
    const service = status!.pid!;
    const r = await box.upk(['shutdown'], 40_000);
    assert.equal(alive(service), false, 'the service is stopped');
    assert.equal(alive(buddy), false, `the buddy ${buddy} still runs: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /its buddy did not exit and was killed/);
    assert.match(readFileSync(join(box.stateDir, 'controller.log'), 'utf8'), /app: buddy \d+ did not exit 15 s after its shutdown: killed/);
  });
});
