// upk logs -f: two services followed through many rotations and a controller restart, every line once and
// in order; history first; NDJSON; plain prefixes off a terminal, colours on one; LogTimestamps.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, UPK, run } from '../helpers/sandbox.js';

const N = 2000;

/** A follower: `upk logs ARGS` running, its standard output gathered line by line. */
class Follower {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private rest = '';
  stderr = '';

  constructor(box: Sandbox, args: string[]) {
    this.child = spawn(process.execPath, [UPK, 'logs', ...args], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      const text = this.rest + d.toString();
      const parts = text.split('\n');
      this.rest = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describe('upk logs -f', { timeout: 120_000 }, () => {
  const box = new Sandbox('logsfollow');
  const followers: Follower[] = [];
  const go = box.file('go');
  // Numbered lines, after a line 0 that says the service is up, once `go` exists: 100 lines in one
  // write (seq's buffer) every 0.2 s, some 700 bytes, so that one write makes the buddy rotate the
  // 400-byte file once or twice before a follower can look.
  const writer = (tag: string, to: string): string =>
    `sh -c 'echo "${tag} 0" ${to}; while [ ! -e ${go} ]; do sleep 0.05; done; i=1; ` +
    `while [ $i -le ${N} ]; do seq -f "${tag} %g" $i $((i+99)) ${to}; i=$((i+100)); sleep 0.2; done; exec sleep 1000'`;
  const follow = (args: string[]): Follower => {
    const f = new Follower(box, args);
    followers.push(f);
    return f;
  };

  before(async () => {
    box.writeServices({
      a: { ExecStart: writer('a', ''), InitialState: 'running', MinUptime: 0.1, LogMaxSize: 400, LogKeep: 100 },
      b: { ExecStart: writer('b', '>&2'), InitialState: 'running', MinUptime: 0.1, LogMaxSize: 400, LogKeep: 100 },
      stamped: {
        // A line in two chunks 0.5 s apart, then the next one begun in the second chunk and ended 2 s later; then it fails.
        ExecStart: `sh -c 'sleep 0.2; printf par; sleep 0.5; printf "tial\\nnext"; sleep 2; printf " line\\n"; exit 3'`,
        InitialState: 'running',
        MinUptime: 0.1,
        MaxConsecutiveFailures: 0,
        LogTimestamps: true,
      },
    });
    await box.startController();
    await box.waitForState('a', 'running');
    await box.waitForState('b', 'running');
  });
  after(async () => {
    for (const f of followers) f.kill();
    await box.cleanup();
  });

  it('follows two services through rotations and a controller restart: no line lost or doubled; NDJSON', async () => {
    const log = (s: string, stream: string): string => join(box.runDir(s), 'log', stream);
    await box.waitFor(
      'line 0 of both',
      () => readFileSync(log('a', 'stdout'), 'utf8').includes('a 0') && readFileSync(log('b', 'stderr'), 'utf8').includes('b 0'),
    );
    const f = follow(['a', 'b', '-f', '-n', '5', '--json']);
    await box.waitFor('the history', () => f.lines.length >= 2, 15_000);
    writeFileSync(go, '');
    await box.waitFor('a few hundred lines', () => f.lines.length >= 400, 30_000);
    const restart = await box.upk(['controller', 'restart']);
    assert.equal(restart.code, 0, restart.stderr);
    const atRestart = f.lines.length;
    const done = (tag: string): boolean => f.lines.some((l) => l.includes(`"line":"${tag} ${N}"`));
    await box.waitFor('every line', () => done('a') && done('b'), 60_000);
    f.child.kill('SIGINT');
    assert.equal(await f.exited, 0, f.stderr);
    assert.ok(atRestart < 2 * N, `the controller restart came while lines were written (${atRestart} lines by then)`);

    const records = f.lines.map((l) => JSON.parse(l) as Record<string, string>);
    for (const r of records) {
      assert.deepEqual(Object.keys(r), ['service', 'stream', 'time', 'line']);
      assert.ok(!Number.isNaN(Date.parse(r.time!)), r.time);
    }
    for (const [service, stream] of [
      ['a', 'stdout'],
      ['b', 'stderr'],
    ] as const) {
      const mine = records.filter((r) => r.service === service);
      assert.ok(
        mine.every((r) => r.stream === stream),
        `${service}: only ${stream}`,
      );
      const numbers = mine.map((r) => Number(r.line!.split(' ')[1]));
      assert.equal(numbers.length, N + 1, `${service}: ${numbers.length} lines`);
      numbers.forEach((n, i) => {
        if (n !== i) assert.fail(`${service}: line ${i} is ${JSON.stringify(mine[i])}`);
      });
    }
    assert.ok(existsSync(`${log('a', 'stdout')}.20`) && existsSync(`${log('b', 'stderr')}.20`), 'the files rotated many times');
  });

  it('-n: the last lines first (across a rotation), prefixed plainly when not a terminal; -f then waits', async () => {
    const last = (tag: string, k: number): string[] => Array.from({ length: k }, (_, i) => `${tag} ${N - k + 1 + i}`);
    const r = await box.upk(['logs', 'a', 'b', '-n', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [...last('a', 3).map((l) => `a stdout | ${l}`), ...last('b', 3).map((l) => `b stderr | ${l}`)].join('\n') + '\n',
    );
    assert.ok(!r.stdout.includes('\x1b'), 'no colours off a terminal');
    // Only standard output: b's stdout is empty.
    assert.equal((await box.upk(['logs', 'a', 'b', '-n', '1', '--stdout'])).stdout, `a stdout | a ${N}\n`);
    const f = follow(['a', '-f', '-n', '2']);
    await box.waitFor('the history', () => f.lines.length >= 2, 15_000);
    assert.deepEqual(
      f.lines,
      last('a', 2).map((l) => `a stdout | ${l}`),
    );
    f.child.kill('SIGTERM');
    assert.equal(await f.exited, 0, f.stderr);
    assert.equal((await box.upk(['logs', 'nosuch', '-f'])).code, 4);
    assert.equal((await box.upk(['logs', 'a', '-n', '0'])).code, 2);
  });

  it('on a terminal: the service and stream in colours, none with NO_COLOR', async () => {
    const onTerminal = (env: NodeJS.ProcessEnv): Promise<string> =>
      run('script', ['-qec', `${process.execPath} ${UPK} logs a -n 1 --stdout --timestamps`, '/dev/null'], env, 30_000).then(
        (r) => r.stdout,
      );
    const { NO_COLOR: _none, ...env } = box.env;
    const colored = await onTerminal(env);
    assert.match(colored, /\x1b\[\d+ma\x1b\[0m \x1b\[2mstdout\x1b\[0m \x1b\[2m\|\x1b\[0m a 2000/);
    const plain = await onTerminal({ ...env, NO_COLOR: '1' });
    assert.match(plain, /^\d{4}-\d\d-\d\dT[\d:.]+Z a stdout \| a 2000\r?$/m);
    assert.ok(!plain.includes('\x1b['), JSON.stringify(plain));
  });

  it('LogTimestamps: each line stamped once, when its first byte came, also across chunks; not in the last output', async () => {
    await box.waitFor('stamped to fail', async () => (await (await box.client()).status('stamped'))[0]?.state === 'failed', 15_000);
    const text = readFileSync(join(box.runDir('stamped'), 'log', 'stdout'), 'utf8');
    const m = /^(\S+) partial\n(\S+) next line\n$/.exec(text);
    assert.ok(m, JSON.stringify(text));
    const [first, second] = [Date.parse(m[1]!), Date.parse(m[2]!)];
    // "next" came 0.5 s after "par", and " line" 2 s after that: the stamp is the first byte's (a stamp
    // at the line's end would be 2.5 s after the first; the margins are for a loaded machine).
    assert.ok(second - first >= 250 && second - first < 1500, `${m[1]} then ${m[2]}`);
    const exited = box.events('stamped').find((e) => e.type === 'exited');
    assert.equal(JSON.parse(exited!.detail!).lastOutput.stdout, 'partial\nnext line');
    // upk logs --timestamps shows the recorded times, the lines without their stamp.
    const r = await box.upk(['logs', 'stamped', '--timestamps', '--stdout', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [
        { service: 'stamped', stream: 'stdout', time: m[1], line: 'partial' },
        { service: 'stamped', stream: 'stdout', time: m[2], line: 'next line' },
      ],
    );
    const plain = await box.upk(['logs', 'stamped', '--timestamps', '--stdout']);
    assert.equal(plain.stdout, `${m[1]} stamped stdout | partial\n${m[2]} stamped stdout | next line\n`);
  });
});
