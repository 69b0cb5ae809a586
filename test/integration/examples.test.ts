// The example programs work: examples/restart-watch.mjs runs the action when the service restarts too often.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../helpers/sandbox.js';

const WATCH = fileURLToPath(new URL('../../../examples/restart-watch.mjs', import.meta.url));

describe('examples', { timeout: 60_000 }, () => {
  const box = new Sandbox('examples');
  after(() => box.cleanup());

  it('restart-watch runs the custom action when the service restarts more than N times a minute, across a controller restart', async () => {
    box.writeServices({
      shaky: {
        ExecStart: `sh -c 'sleep 0.1; exit 1'`,
        MinUptime: 0,
        UserRateLimit: 0.2,
        UserMaxRestarts: -1,
        CustomActions: { note: `touch ${box.file('noted')}; echo noted` },
      },
    });
    await box.startController();
    const watcher = spawn(process.execPath, [WATCH, 'shaky', 'note', '2'], { env: box.env });
    let out = '';
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watcher.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await box.waitFor('watching', () => out.includes('watching shaky'));
      await (await box.client()).start('shaky');
      await box.waitFor('the action', () => existsSync(box.file('noted')), 20_000);
      await box.waitFor('its report', () => out.includes('note done'));
      assert.match(out, /restarted 3 times within a minute: running note/);
      // A new controller (an upgrade, say): the watcher's subscription and its client both carry on.
      assert.equal((await box.upk(['controller', 'restart'])).code, 0);
      await box.waitFor('the controller back', () => out.includes('the controller is back'), 15_000);
      const after = out.length;
      await box.waitFor('the action again, on the new controller', () => out.slice(after).includes('note done'), 20_000);
      assert.doesNotMatch(out, /could not run/);
    } finally {
      watcher.kill('SIGINT');
      await new Promise((r) => watcher.once('exit', r));
    }
  });
});
