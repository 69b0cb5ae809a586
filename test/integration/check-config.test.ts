// upk check-config: every problem, with file, line, key and what was expected; nothing is touched.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { run, Sandbox, UPK } from '../helpers/sandbox.js';

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

  it("a hook's program that cannot be run: not found in PATH, no such file, not executable (a reload would accept it)", async () => {
    const original = readFileSync(box.configFile, 'utf8');
    writeFileSync(box.file('plain.sh'), '#!/bin/sh\n', { mode: 0o644 });
    const hook = (name: string, program: string): string =>
      `    { "Name": "${name}", "Events": ["failed"], "Command": ["${program}", "x"] },`;
    const config = JSON.parse(original) as Record<string, unknown>;
    const lines = JSON.stringify(config, null, 2).split('\n');
    lines.splice(
      1,
      0,
      '  "OnEvent": [',
      hook('ok', 'true'),
      hook('nopath', 'no-such-program-upk'),
      hook('gone', './gone.sh'),
      hook('plain', './plain.sh'),
      '  ],',
    );
    writeFileSync(box.configFile, lines.join('\n'));
    try {
      const res = await box.upk(['check-config']);
      assert.equal(res.code, 7, res.stdout);
      const at = (line: number, i: number): string => `${box.configFile}:${line}: OnEvent\\[${i}\\]\\.Command\\[0\\]: `;
      assert.match(
        res.stdout,
        new RegExp(`^${at(4, 1)}"no-such-program-upk" is not found in PATH \\(.*\\): every run of hook nopath would fail$`, 'm'),
      );
      assert.match(res.stdout, new RegExp(`^${at(5, 2)}".*/gone\\.sh" does not exist: every run of hook gone would fail$`, 'm'));
      assert.match(res.stdout, new RegExp(`^${at(6, 3)}".*/plain\\.sh" is not executable: every run of hook plain would fail$`, 'm'));
      assert.doesNotMatch(res.stdout, /OnEvent\[0\]/, 'true is found in PATH');
      assert.match(res.stdout, /^3 problems found$/m);
    } finally {
      writeFileSync(box.configFile, original);
    }
  });

  it("a hook's program is looked for as the controller runs it: PATH's empty and relative entries in StateDir, /usr/bin:/bin without PATH", async () => {
    const original = readFileSync(box.configFile, 'utf8');
    mkdirSync(join(box.stateDir, 'hooks'), { recursive: true });
    for (const program of ['hooks/relhook', 'emptyhook']) writeFileSync(join(box.stateDir, program), '#!/bin/sh\n', { mode: 0o755 });
    const hooks = ['relhook', 'emptyhook', 'true'].map((program, i) => ({ Name: `h${i}`, Events: ['failed'], Command: [program] }));
    writeFileSync(box.configFile, JSON.stringify({ ...(JSON.parse(original) as object), OnEvent: hooks }));
    try {
      const relative = await run(
        process.execPath,
        [UPK, 'check-config'],
        { UPKEEPER_CONFIG: box.configFile, PATH: `hooks::${process.env.PATH}` },
        20_000,
      );
      assert.equal(relative.code, 0, relative.stdout);
      const unset = await run(process.execPath, [UPK, 'check-config'], { UPKEEPER_CONFIG: box.configFile }, 20_000);
      assert.match(unset.stdout, /OnEvent\[0\]\.Command\[0\]: "relhook" is not found in PATH \(unset: \/usr\/bin:\/bin\)/);
      assert.doesNotMatch(unset.stdout, /OnEvent\[2\]/, 'true is in /usr/bin, where a hook is looked for without PATH');
    } finally {
      writeFileSync(box.configFile, original);
    }
  });
});
