// Rotation of a service's output under load: by size, at line boundaries, without losing a line.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

describe('log rotation', { timeout: 60_000 }, () => {
  const box = new Sandbox('rotate');
  after(() => box.cleanup());

  it('200,000 lines written as fast as the service can: every line once, in order, files within the size', async () => {
    box.writeServices({
      chatty: {
        ExecStart: `sh -c 'seq 1 200000; echo done; exec sleep 1000'`,
        InitialState: 'running',
        MinUptime: 0.1,
        LogMaxSize: 100_000,
        LogKeep: 30,
      },
    });
    await box.startController();
    const log = join(box.runDir('chatty'), 'log', 'stdout');
    await box.waitFor('all output', () => existsSync(log) && readFileSync(log, 'utf8').endsWith('done\n'), 30_000);
    const files: string[] = [];
    for (let i = 30; i >= 1; i--) if (existsSync(`${log}.${i}`)) files.push(`${log}.${i}`);
    files.push(log);
    assert.ok(files.length >= 12, `${files.length} files`);
    for (const f of files.slice(0, -1)) {
      assert.ok(statSync(f).size <= 100_000, `${f}: ${statSync(f).size} bytes`);
      assert.ok(readFileSync(f, 'utf8').endsWith('\n'), `${f} ends with a whole line`);
    }
    const lines = files
      .map((f) => readFileSync(f, 'utf8'))
      .join('')
      .trim()
      .split('\n');
    assert.equal(lines.pop(), 'done');
    assert.equal(lines.length, 200_000);
    lines.forEach((l, i) => {
      if (Number(l) !== i + 1) assert.fail(`line ${i + 1} is ${JSON.stringify(l)}`);
    });
  });
});
