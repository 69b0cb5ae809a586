// Socket paths past the kernel's 108-byte limit still work (reached through /proc/self/fd).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

describe('long paths', { timeout: 60_000 }, () => {
  const deep = `./${'d'.repeat(60)}/${'e'.repeat(60)}`;
  const box = new Sandbox('long', { StateDir: deep });
  after(() => box.cleanup());

  it('controller and buddy sockets longer than 108 bytes', async () => {
    const name = 'service-with-a-rather-long-name';
    box.writeServices({ [name]: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } });
    const buddySocket = join(box.dir, deep, 'run', name, 'buddy.sock');
    assert.ok(Buffer.byteLength(buddySocket) > 108, `${buddySocket.length} bytes`);
    await box.startController();
    const c = await box.client();
    const s = await box.waitFor('running', async () => {
      const [x] = await c.status(name);
      return x?.state === 'running' ? x : undefined;
    });
    assert.ok(s.pid);
    const res = await box.upk(['stop', name]);
    assert.equal(res.code, 0, res.stderr);
  });
});
