// upk's output: a reader that goes away early (`| head -1`) ends any command quietly with exit 0;
// a file several instances share is read once; upk logs refuses unknown names and bad numbers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Sandbox, UPK } from '../helpers/sandbox.js';

/**
 * `upk ARGS | head -0`: upk's standard output is a pipe whose reader is gone before upk writes, so its
 * first write fails with EPIPE. Its exit code and standard error.
 */
function withClosedOutput(box: Sandbox, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [UPK, ...args], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`upk ${args.join(' ')} still ran after ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('upk output', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('upkoutput');
    box.writeServices({ talker: { ExecStart: 'sh -c "echo hello; exec sleep 1000"', InitialState: 'running', MinUptime: 0.1 } });
    await box.startController();
    await box.waitForState('talker', 'running');
  });
  after(() => box.cleanup());

  it('a reader that went away: every command exits 0, with nothing on standard error', async () => {
    for (const args of [
      ['events'],
      ['events', '--json', '-n', '5000'],
      ['events', '--csv'],
      ['events', '-f'],
      ['trend', '--since', '1h', '--bucket', '1m', '--table'],
      ['logs', 'talker', '-f'],
      ['list'],
      ['status', '--json'],
    ]) {
      const r = await withClosedOutput(box, args);
      assert.deepEqual(r, { code: 0, stderr: '' }, `upk ${args.join(' ')}`);
    }
  });

  it('instances writing one file (--output F): upk logs prints each line once, under the service name', async () => {
    const out = box.file('shared.out');
    const add = await box.upk([
      'add',
      'inst',
      '--instances',
      '3',
      '--output',
      out,
      '--',
      'sh',
      '-c',
      'echo "line of $UPK_INSTANCE"; exec sleep 1000',
    ]);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    await box.waitFor('three lines', async () => (await box.upk(['logs', 'inst@1', '--stdout'])).stdout.split('\n').length === 4);
    const logs = await box.upk(['logs', 'inst', '--stdout']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.deepEqual(logs.stdout.trim().split('\n').sort(), [
      'inst stdout | line of 1',
      'inst stdout | line of 2',
      'inst stdout | line of 3',
    ]);
    // Following too; and with another service, each file its own.
    const follow = spawn(process.execPath, [UPK, 'logs', 'inst', 'talker', '-f', '--stdout'], {
      env: box.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    follow.stdout.on('data', (d: Buffer) => (text += d.toString()));
    try {
      await box.waitFor('the history', () => text.split('\n').length > 4);
      await new Promise((r) => setTimeout(r, 300));
      const lines = text
        .trim()
        .split('\n')
        .map((l) => l.replace(/ +/, ' '))
        .sort();
      assert.deepEqual(lines, ['inst stdout | line of 1', 'inst stdout | line of 2', 'inst stdout | line of 3', 'talker stdout | hello']);
    } finally {
      follow.kill('SIGKILL');
    }
    assert.equal((await box.upk(['remove', 'inst', '--delete-file'])).code, 0);
  });

  it('upk logs: an unknown name beside all exits 4 naming it; -n takes decimal digits up to 1000 (exit 2 else)', async () => {
    const unknown = await box.upk(['logs', 'nosuch', 'all']);
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stderr, 'upk: no service named "nosuch"\n');
    for (const n of ['1001', '99999999999999999999', '0x10', '1e3', '-1', '', ' 5', '1.0']) {
      const r = await box.upk(['logs', 'talker', '-n', n]);
      assert.equal(r.code, 2, `-n ${JSON.stringify(n)}: ${r.stdout}`);
      assert.match(
        r.stderr,
        new RegExp(
          `option '-n, --lines <n>' argument '${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is invalid. expected a whole number from 0 to 1,000, got`,
        ),
      );
    }
    const ok = await box.upk(['logs', 'talker', '-n', '1000', '--stdout']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'hello\n');
    // The other numbers upk reads, the same way.
    for (const args of [
      ['events', '-n', '0x10'],
      ['events', '--code', '1e2'],
      ['events', '--pid', '+5'],
      ['add', 'x', '--instances', '0x2', '--', 'true'],
      ['scale', 'talker', '1e1'],
    ]) {
      const r = await box.upk(args);
      assert.equal(r.code, 2, `upk ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /expected a whole number/);
    }
  });
});
