// upk completion: the bash script loads and completes commands, options, service and action names
// (from the controller when it answers, from the files otherwise); zsh and fish scripts by their text.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, UPK } from '../helpers/sandbox.js';

describe('upk completion', { timeout: 120_000 }, () => {
  const box = new Sandbox('completion');
  after(() => box.cleanup());
  const bin = box.file('bin');
  let bash = '';

  before(async () => {
    // `upk` on the PATH, as after npm install -g.
    mkdirSync(bin);
    writeFileSync(join(bin, 'upk'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(UPK)} "$@"\n`);
    chmodSync(join(bin, 'upk'), 0o755);
    box.writeServices({
      web: { ExecStart: 'sleep 1000', CustomActions: { rotate: 'true', dump: 'true' } },
      'demo::worker': { ExecStart: 'sleep 1000', CustomActions: { hello: 'echo hi' } },
    });
    const res = await box.upk(['completion', 'bash']);
    assert.equal(res.code, 0, res.stderr);
    bash = box.file('upk.bash');
    writeFileSync(bash, res.stdout);
  });

  /** Runs `script` in bash with the completion loaded and `upk` on the PATH; its standard output. */
  const inBash = (script: string): string => {
    const r = spawnSync('bash', ['-c', `source ${JSON.stringify(bash)}\n${script}`], {
      encoding: 'utf8',
      env: { ...box.env, PATH: `${bin}:${process.env.PATH}` },
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  /** What completing the line `line` (the cursor at its end) offers, as bash splits it into COMP_WORDS (`words`). */
  const complete = (line: string, words = line.split(' ')): string[] => {
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const out = inBash(
      `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=${line.length}\n_upk_complete\nprintf '%s\\n' "\${COMPREPLY[@]}"`,
    );
    return out.split('\n').filter(Boolean).sort();
  };

  it('the bash script loads: source <(upk completion bash) registers it', () => {
    const r = spawnSync('bash', ['-c', 'source <(upk completion bash); complete -p upk'], {
      encoding: 'utf8',
      env: { ...box.env, PATH: `${bin}:${process.env.PATH}` },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'complete -F _upk_complete upk');
  });

  it('commands: "upk st" offers every command that starts with st', async () => {
    const help = (await box.upk(['--help'])).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z][\w-]*)(?:\|(\w+))?/gm)].flatMap((m) => [m[1]!, ...(m[2] ? [m[2]] : [])]);
    const expected = commands.filter((c) => c.startsWith('st')).sort();
    for (const c of ['start', 'status', 'stop']) assert.ok(expected.includes(c), `upk --help lists ${c}: ${commands.join(' ')}`);
    assert.deepEqual(complete('upk st'), expected);
    // COMP_WORDS alone, without COMP_LINE, does as well.
    assert.deepEqual(
      inBash(`COMP_WORDS=(upk st); COMP_CWORD=1\n_upk_complete\nprintf '%s\\n' "\${COMPREPLY[@]}"`).split('\n').filter(Boolean).sort(),
      expected,
    );
    assert.ok(!complete('upk ').includes('__complete'), 'the hidden command is not offered');
    assert.deepEqual(complete('upk controller st'), ['start', 'status', 'stop']);
    assert.deepEqual(complete('upk help con'), ['config-history', 'controller']);
    assert.deepEqual(complete('upk completion '), ['bash', 'fish', 'zsh']);
  });

  it('options, and their values', () => {
    assert.deepEqual(complete('upk logs --std'), ['--stderr', '--stdout']);
    assert.ok(complete('upk status --').includes('--config'), 'global options after the command');
    assert.deepEqual(complete('upk events --type spa'), ['spawn_failed', 'spawned']);
    assert.deepEqual(complete('upk trend -m mt'), ['mtbf', 'mttr']);
    assert.deepEqual(complete('upk signal web US'), ['USR1', 'USR2']);
    // An option's value is not taken for a command: `-n 5` and `--config FILE` are skipped.
    assert.deepEqual(complete(`upk --config ${box.configFile} logs -n 5 w`), ['web']);
    // upk logs takes several services; upk add takes a new name, so no existing one is offered.
    assert.deepEqual(complete(`upk --config ${box.configFile} logs web w`), ['web']);
    assert.deepEqual(complete(`upk --config ${box.configFile} add w`), []);
  });

  it('service and action names from the files when no controller answers', () => {
    assert.deepEqual(complete('upk start '), ['all', 'demo::worker', 'web']);
    assert.deepEqual(complete('upk why '), ['demo::worker', 'web'], 'all only where several services are taken');
    assert.deepEqual(complete('upk action web '), ['dump', 'rotate']);
    assert.deepEqual(complete('upk action worker h'), ['hello'], 'a bare name, as the controller resolves it');
    // bash splits demo::w at the colons, and replaces only what follows the last one.
    assert.deepEqual(complete('upk stop demo::w', ['upk', 'stop', 'demo', '::', 'w']), ['worker']);
    assert.deepEqual(complete('upk action demo::worker ', ['upk', 'action', 'demo', '::', 'worker', '']), ['hello']);
  });

  it('service names from the controller when it answers: one it keeps though no file defines it any more', async () => {
    await box.startController();
    box.writeServices({ web: { ExecStart: 'sleep 1000' } });
    const r = await box.upk(['__complete', 'services']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), ['demo::worker', 'web']);
    assert.deepEqual(complete('upk action demo::worker ', ['upk', 'action', 'demo', '::', 'worker', '']), ['hello']);
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    assert.deepEqual(complete('upk start '), ['all', 'web'], 'from the files again');
    const none = await box.upk(['__complete', 'actions', 'nosuch']);
    assert.deepEqual([none.code, none.stdout], [0, '']);
  });

  it('zsh and fish: the scripts name every command, and load where the shell exists', async () => {
    const help = (await box.upk(['--help'])).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!);
    assert.ok(commands.includes('startup') && commands.includes('completion'));
    const zsh = (await box.upk(['completion', 'zsh'])).stdout;
    assert.ok(zsh.startsWith('#compdef upk\n'));
    assert.match(zsh, /compdef _upk upk/);
    assert.match(zsh, /__complete services/);
    assert.match(zsh, /__complete actions/);
    const fish = (await box.upk(['completion', 'fish'])).stdout;
    assert.match(fish, /^complete -c upk -f -a '\(__upk_complete\)'$/m);
    assert.match(fish, /__complete services/);
    for (const c of commands) {
      assert.ok(zsh.includes(`'${c}:`), `zsh: ${c}`);
      assert.ok(fish.includes(`'${c}' '`), `fish: ${c}`);
    }
    assert.ok(!zsh.includes('__complete:') && !fish.includes(`'__complete' '`), 'the hidden command is not offered');
    for (const [shell, text, check] of [
      ['zsh', zsh, ['-n']],
      ['fish', fish, ['--no-execute']],
    ] as const) {
      const file = box.file(`upk.${shell}`);
      writeFileSync(file, text);
      const r = spawnSync(shell, [...check, file], { encoding: 'utf8' });
      if (r.error) continue; // not installed here: the text checks above are what there is
      assert.equal(r.status, 0, `${shell} ${check.join(' ')}: ${r.stderr}`);
    }
    const bad = await box.upk(['completion', 'tcsh']);
    assert.equal(bad.code, 2);
  });
});
