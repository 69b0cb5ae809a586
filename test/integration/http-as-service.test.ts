// `upk serve` as a service under upkeeper itself (docs/http.md): the controller starts it, its buddy
// restarts it when it is killed, and a stop ends it cleanly (its socket removed).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Sandbox, UPK } from '../helpers/sandbox.js';

function status(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('upk serve as a service under upkeeper', { timeout: 90_000 }, () => {
  const box = new Sandbox('httpsvc');
  const socketPath = box.file('api.sock');

  before(async () => {
    box.writeServices({
      api: {
        ExecStart: `${process.execPath} ${UPK} serve --socket ${socketPath}`,
        Environment: { UPKEEPER_CONFIG: box.configFile },
        ReadyLine: 'listening on',
        MinUptime: 0.1,
        UserRateLimit: 0.1,
        InitialState: 'running',
      },
      web: { ExecStart: 'sleep 300', MinUptime: 0.1, InitialState: 'running' },
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('is started and answers; killed, it is restarted and answers again; stopped, its socket is gone', async () => {
    const first = await box.waitForState('api', 'running', 20_000);
    assert.equal(await status(socketPath, '/api/services/web'), 200);
    process.kill(first.pid!, 'SIGKILL');
    const second = await box.waitFor(
      'a new run of upk serve',
      async () => {
        const [s] = await (await box.client()).status('api');
        return s?.state === 'running' && s.pid !== first.pid ? s : undefined;
      },
      20_000,
    );
    assert.notEqual(second.pid, first.pid);
    assert.equal(await box.waitFor('an answer', () => status(socketPath, '/api/controller').catch(() => undefined), 10_000), 200);
    assert.equal((await box.upk(['stop', 'api'])).code, 0);
    const [stopped] = await (await box.client()).status('api');
    assert.equal(stopped!.state, 'stopped');
    assert.equal(stopped!.lastExit?.signal ?? null, null, 'it exited by itself on SIGTERM');
    assert.equal(existsSync(socketPath), false, 'its socket removed');
  });
});
