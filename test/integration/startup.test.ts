// upk startup and unstartup: the unit (checked by systemd-analyze where it exists), the refusal when
// no systemd answers, and the whole flow against a stand-in systemctl that runs the unit's ExecStart:
// a controller started by hand is handed over, and no buddy or service is touched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { alive, run, Sandbox, UPK, type RunResult } from '../helpers/sandbox.js';

/** Where `systemd-analyze` is, or null. */
function which(program: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A stand-in for systemctl: logs its arguments, and starts and stops the unit's ExecStart as systemd would. */
const FAKE_SYSTEMCTL = `#!/bin/sh
dir=$(dirname "$0")
printf '%s\\n' "$*" >> "$dir/calls"
[ "$1" = --user ] && shift
pid=$(cat "$dir/main.pid" 2>/dev/null)
running() { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
stop() { if running; then kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; fi; rm -f "$dir/main.pid"; }
case "$1" in
  show-environment) echo PATH=/usr/bin ;;
  daemon-reload|enable|disable) ;;
  show) if [ "$2" = --property=MainPID ]; then if running; then echo "$pid"; else echo 0; fi; else echo active; fi ;;
  stop) stop ;;
  restart)
    stop
    set -- $(sed -n 's/^ExecStart=//p' "$XDG_CONFIG_HOME/systemd/user/$2")
    "$@" >> "$dir/controller.log" 2>&1 < /dev/null &
    echo $! > "$dir/main.pid" ;;
  *) echo "unknown: $*" >&2; exit 1 ;;
esac
`;

/** systemctl when no systemd answers, as on a machine without it or in a shell without a user bus. */
const NO_BUS_SYSTEMCTL = `#!/bin/sh
printf '%s\\n' "$*" >> "$(dirname "$0")/calls"
echo "Failed to connect to bus: No medium found" >&2
exit 1
`;

describe('upk startup', { timeout: 120_000 }, () => {
  const box = new Sandbox('startup');
  after(() => box.cleanup());
  const xdg = box.file('xdg');
  const unitFile = join(xdg, 'systemd', 'user', 'upkeeper.service');

  /** upk with the sandbox's configuration, its own XDG_CONFIG_HOME, and `bin` (a stand-in systemctl) first on the PATH. */
  const upk = (args: string[], bin?: string): Promise<RunResult> =>
    run(process.execPath, [UPK, ...args], { ...box.env, XDG_CONFIG_HOME: xdg, PATH: `${bin ? `${bin}:` : ''}${process.env.PATH}` }, 60_000);

  const fakeBin = (name: string, script: string): string => {
    const dir = box.file(name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'systemctl'), script);
    chmodSync(join(dir, 'systemctl'), 0o755);
    return dir;
  };

  it('--print: a unit that stops the controller alone, with absolute paths, and writes nothing', async () => {
    const res = await upk(['startup', '--print']);
    assert.equal(res.code, 0, res.stderr);
    const text = res.stdout;
    assert.ok(!existsSync(unitFile), 'nothing written');
    assert.match(text, /^\[Service\]$/m);
    assert.match(text, /^Type=simple$/m);
    assert.match(text, /^KillMode=process$/m);
    assert.match(text, /^Restart=on-failure$/m);
    assert.match(text, /^WantedBy=default\.target$/m);
    assert.doesNotMatch(text, /^(User|ExecStop)=/m);
    const exec = /^ExecStart=(\S+) (\S+) --config (\S+)$/m.exec(text);
    assert.ok(exec, text);
    assert.equal(exec[1], process.execPath);
    assert.match(exec[2]!, /^\/.*\/dist\/controller\/main\.js$/);
    assert.ok(existsSync(exec[2]!), exec[2]);
    assert.equal(exec[3], box.configFile);
    assert.match(text, new RegExp(`^Environment="PATH=${process.env.PATH!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"$`, 'm'));
    assert.match(text, new RegExp(`^Environment="XDG_CONFIG_HOME=${xdg}"$`, 'm'));
    assert.ok(text.startsWith(`# ${unitFile}: written by \`upk startup\``), text.split('\n')[0]);

    const json = await upk(['startup', '--print', '--json']);
    const unit = JSON.parse(json.stdout) as { name: string; file: string; scope: string; configFile: string; text: string };
    assert.deepEqual(
      [unit.name, unit.file, unit.scope, unit.configFile, unit.text],
      ['upkeeper.service', unitFile, 'user', box.configFile, text],
    );
  });

  it('--print --system --user NAME: a system unit with User=, in /etc/systemd/system', async () => {
    const me = userInfo().username;
    const res = await upk(['startup', '--print', '--system', '--user', me, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const unit = JSON.parse(res.stdout) as { file: string; scope: string; text: string; user: string };
    assert.equal(unit.file, `/etc/systemd/system/upkeeper-${me}.service`);
    assert.equal(unit.scope, 'system');
    assert.match(unit.text, new RegExp(`^User=${me}$`, 'm'));
    assert.match(unit.text, /^WantedBy=multi-user\.target$/m);
    assert.match(unit.text, /^KillMode=process$/m);
    // Its configuration is --config, else the user's own default file: not $UPKEEPER_CONFIG of this shell.
    assert.doesNotMatch(unit.text, new RegExp(box.configFile));
    const given = JSON.parse(
      (await upk(['--config', box.configFile, 'startup', '--print', '--system', '--user', me, '--json'])).stdout,
    ) as { text: string };
    assert.match(given.text, new RegExp(`--config ${box.configFile}$`, 'm'));

    assert.equal((await upk(['startup', '--system'])).code, 2, '--system needs --user');
    assert.equal((await upk(['startup', '--user', me])).code, 2, '--user goes with --system');
    const nobody = await upk(['startup', '--print', '--system', '--user', 'no-such-user-here']);
    assert.equal(nobody.code, 2);
    assert.match(nobody.stderr, /no user named "no-such-user-here"/);
  });

  it('systemd-analyze verify accepts the user and the system unit, even for a path with spaces, % and $', async (t) => {
    const analyze = which('systemd-analyze');
    if (!analyze) return t.skip('systemd-analyze is not installed here');
    const odd = box.file('a b%c$d');
    mkdirSync(odd);
    writeFileSync(join(odd, 'upkeeper.conf'), '{}');
    const runtime = box.file('runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const verify = (file: string, scope: 'user' | 'system'): { code: number | null; problems: string[] } => {
      const args = [...(scope === 'user' ? ['--user'] : []), 'verify', '--man=no', file];
      let r = spawnSync(analyze, args, { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
      // No user manager can be set up here at all: the unit's syntax is the same to the system manager.
      if (scope === 'user' && /Failed to initialize manager/.test(r.stderr)) r = spawnSync(analyze, args.slice(1), { encoding: 'utf8' });
      return {
        code: r.status,
        problems: r.stderr.split('\n').filter((l) => l.trim() !== '' && !/connect to bus|user manager|RuntimeDirectory/i.test(l)),
      };
    };
    const cases: [string[], string, 'user' | 'system'][] = [
      [['startup', '--print'], 'upkeeper.service', 'user'],
      [['--config', join(odd, 'upkeeper.conf'), 'startup', '--print'], 'upkeeper.service', 'user'],
      [['startup', '--print', '--system', '--user', userInfo().username], `upkeeper-${userInfo().username}.service`, 'system'],
    ];
    for (const [i, [args, name, scope]] of cases.entries()) {
      const res = await upk(args);
      assert.equal(res.code, 0, res.stderr);
      const dir = box.file(`verify-${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, name), res.stdout);
      const v = verify(join(dir, name), scope);
      assert.deepEqual(v.problems, [], `systemd-analyze verify ${args.join(' ')}:\n${res.stdout}`);
      assert.equal(v.code, 0);
    }
    const quoted = (await upk(cases[1]![0])).stdout;
    assert.match(quoted, /^ExecStart=\S+ \S+ --config ".*\/a b%%c\$\$d\/upkeeper\.conf"$/m);
  });

  it('no systemd answers: nothing is written, the manual steps are printed, exit 1', async () => {
    const bin = fakeBin('nobus', NO_BUS_SYSTEMCTL);
    const res = await upk(['startup'], bin);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(
      res.stderr,
      /no systemd answers for \S+ \(systemctl --user show-environment: Failed to connect to bus: No medium found\); nothing was written/,
    );
    assert.ok(res.stderr.includes(unitFile), res.stderr);
    assert.match(res.stderr, /not booted with systemd|systemctl --user enable --now upkeeper\.service/);
    assert.ok(!existsSync(unitFile), 'nothing written');
    assert.deepEqual(readFileSync(join(bin, 'calls'), 'utf8').trim().split('\n'), ['--user show-environment']);
    // And the real systemctl, where it finds no user systemd either (as on a machine without systemd).
    const real = spawnSync('systemctl', ['--user', 'show-environment'], { encoding: 'utf8' });
    if (real.error === undefined && real.status !== 0) {
      const res2 = await upk(['startup']);
      assert.equal(res2.code, 1, res2.stderr);
      assert.match(res2.stderr, /no systemd answers/);
      assert.ok(!existsSync(unitFile));
    }
  });

  it('writes and enables the unit; a controller started by hand is handed over; services and buddies run on', async () => {
    box.writeServices({ keep: { ExecStart: 'sleep 1000', InitialState: 'running' } });
    await box.startController();
    const before = await box.waitForState('keep', 'running');
    const byHand = (await (await box.client()).controllerStatus()).pid;
    const bin = fakeBin('systemd', FAKE_SYSTEMCTL);
    // Every call but the state polled while waiting for the controller to answer.
    const calls = (): string[] =>
      readFileSync(join(bin, 'calls'), 'utf8')
        .trim()
        .split('\n')
        .filter((c) => !c.includes('ActiveState'));

    const res = await upk(['startup'], bin);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.ok(existsSync(unitFile));
    assert.equal(readFileSync(unitFile, 'utf8'), (await upk(['startup', '--print'], bin)).stdout);
    const mainPid = Number(readFileSync(join(bin, 'main.pid'), 'utf8'));
    assert.match(res.stdout, new RegExp(`^wrote ${unitFile}$`, 'm'));
    assert.match(res.stdout, new RegExp(`the controller that ran outside systemd \\(pid ${byHand}\\) stopped; services keep running`));
    assert.match(res.stdout, new RegExp(`upkeeper.service enabled and started: the controller runs under systemd \\(pid ${mainPid}\\)`));
    assert.match(res.stdout, /loginctl enable-linger/);
    assert.deepEqual(calls(), [
      '--user show-environment',
      '--user daemon-reload',
      '--user show --property=MainPID --value upkeeper.service',
      '--user enable upkeeper.service',
      '--user restart upkeeper.service',
    ]);
    assert.ok(!alive(byHand), 'the controller started by hand is gone');
    const [now] = await (await box.client()).status('keep');
    assert.equal(now!.pid, before.pid, 'the service was not restarted');
    assert.equal(now!.buddyPid, before.buddyPid, 'its buddy was not replaced');
    assert.equal((await (await box.client()).controllerStatus()).pid, mainPid);

    // Again: the unit's own controller is replaced by one of the unit just written, nothing else.
    const again = await upk(['startup', '--json'], bin);
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout) as { controller: { pid: number }; previous: unknown };
    assert.equal(second.previous, null);
    assert.notEqual(second.controller.pid, mainPid);
    assert.equal(second.controller.pid, Number(readFileSync(join(bin, 'main.pid'), 'utf8')));
    assert.equal((await (await box.client()).status('keep'))[0]!.pid, before.pid);

    // unstartup: disabled and removed; the controller it ran stops alone, and one outside systemd carries on.
    writeFileSync(join(bin, 'calls'), '');
    const un = await upk(['unstartup'], bin);
    assert.equal(un.code, 0, un.stdout + un.stderr);
    assert.ok(!existsSync(unitFile));
    assert.deepEqual(calls(), [
      '--user show-environment',
      '--user show --property=MainPID --value upkeeper.service',
      '--user disable upkeeper.service',
      '--user stop upkeeper.service',
      '--user daemon-reload',
    ]);
    assert.ok(!alive(second.controller.pid));
    const outside = (await (await box.client()).controllerStatus()).pid;
    assert.match(
      un.stdout,
      new RegExp(
        `the controller it ran \\(pid ${second.controller.pid}\\) stopped; one outside systemd took over \\(pid ${outside}\\); services keep running`,
      ),
    );
    assert.equal((await (await box.client()).status('keep'))[0]!.pid, before.pid);

    const nothing = await upk(['unstartup'], bin);
    assert.equal(nothing.code, 0);
    assert.match(nothing.stdout, /nothing to remove/);
  });
});
