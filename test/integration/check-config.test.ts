// upk check-config: every problem, with file, line, key and what was expected; nothing is touched.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

describe('check-config', { timeout: 30_000 }, () => {
  const box = new Sandbox('check');
  after(() => box.cleanup());

  it('lists every error and exits 7', async () => {
    writeFileSync(
      join(box.servicesDir, 'bad.conf'),
      [
        '{',
        '  "web": {',
        '    "ExecStart": "sleep 1",',
        '    "KilTimeout": 5,',
        '    "UserRateLimit": "ten",',
        '  },',
        '  "api": { "InitialState": "sideways" },',
        '}',
      ].join('\n'),
    );
    const res = await box.upk(['check-config']);
    assert.equal(res.code, 7);
    const file = join(box.servicesDir, 'bad.conf');
    assert.match(res.stdout, new RegExp(`${file}:4:.*web\\.KilTimeout.*did you mean "KillTimeout"`));
    assert.match(res.stdout, new RegExp(`${file}:5:.*web\\.UserRateLimit.*"ten"`));
    assert.match(res.stdout, new RegExp(`${file}:7:.*api\\.InitialState.*sideways`));
    assert.ok(!existsSync(box.stateDir), 'nothing was created');
  });

  it('a syntax error names its line', async () => {
    writeFileSync(join(box.servicesDir, 'bad.conf'), '{\n  "web": { "ExecStart": "x" }\n  "api": {}\n}\n');
    const res = await box.upk(['check-config', '--json']);
    assert.equal(res.code, 7);
    const out = JSON.parse(res.stdout) as { ok: boolean; issues: { line: number; file: string }[] };
    assert.equal(out.ok, false);
    assert.equal(out.issues[0]!.line, 3);
  });

  it('a good configuration passes', async () => {
    writeFileSync(join(box.servicesDir, 'bad.conf'), '{ "web": { "ExecStart": "sleep 1" }, }');
    const res = await box.upk(['check-config']);
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /configuration OK: .*, 1 service in 1 file$/m);
  });
});
