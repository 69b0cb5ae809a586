// What a pid file names and what ProcessMatch finds: the judgments, on made-up processes; the real
// processes are test/integration/attach.test.ts's.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findRunning, forkedProcess, judgeMatches, judgeNamed, parsePid, PIDFILE_SLACK_MS } from '../../buddy/find-running.js';
import { processStartTime } from '../../system/process-group.js';
import { commandLineText, processFacts } from '../../system/user-processes.js';
import { HELPER_TAG } from '../../schema/programs.js';

const proc = (p: Partial<{ pid: number; startTime: number; uid: number; cmdline: string; startedAt: number }> = {}) => ({
  pid: 42,
  startTime: 5000,
  uid: 1000,
  cmdline: '/usr/bin/web --port 80',
  kernelThread: false,
  startedAt: 1_000_000,
  ...p,
});

describe('find-running', { timeout: 5000 }, () => {
  it('parsePid: a pid on the first line, blanks around it; nothing else', () => {
    assert.equal(parsePid('4242\n'), 4242);
    assert.equal(parsePid('  17 \r\nmore'), 17);
    assert.equal(parsePid('4242'), 4242);
    for (const bad of ['', '\n', 'abc', '-5', '0', '12ab', '1.5', '99999999', '4194305'])
      assert.equal(parsePid(bad), null, JSON.stringify(bad));
  });

  it('judgeNamed: alive, of the user, started before the file was written, matching', () => {
    const proof = { file: '/run/web.pid', writtenAt: 1_000_500, uid: 1000, match: /^\/usr\/bin\/web/ };
    assert.equal(judgeNamed(proof, 42, proc()), null);
    assert.equal(judgeNamed(proof, 42, proc({ startedAt: 1_000_500 + PIDFILE_SLACK_MS })), null, "within the clocks' slack");
    assert.equal(judgeNamed(proof, 42, null), '/run/web.pid names pid 42, which does not run');
    assert.equal(judgeNamed(proof, 42, proc({ uid: 0 })), "/run/web.pid names pid 42, a process of user 0, not of the service's user 1000");
    assert.match(
      judgeNamed(proof, 42, proc({ startedAt: 1_000_501 + PIDFILE_SLACK_MS })) ?? '',
      /^\/run\/web\.pid names pid 42, which started at .*, after the file was written \(.*\): a stale pid file/,
    );
    assert.equal(
      judgeNamed(proof, 42, proc({ cmdline: 'sleep 5' })),
      '/run/web.pid names pid 42, whose command line "sleep 5" does not match ProcessMatch "^\\\\/usr\\\\/bin\\\\/web"',
    );
    // Type forking: it must have started since the start script did.
    assert.equal(judgeNamed({ ...proof, notBefore: 5000 }, 42, proc()), null);
    assert.equal(judgeNamed({ ...proof, notBefore: 5001 }, 42, proc()), '/run/web.pid names pid 42, which ran before the start script did');
  });

  it('judgeMatches: exactly one is taken over; none goes on to a start; several are refused, naming them', () => {
    assert.deepEqual(judgeMatches('web', 1000, []), { kind: 'none', why: 'ProcessMatch "web" matches no process of user 1000' });
    assert.deepEqual(judgeMatches('web', 1000, [proc()]), { kind: 'found', pid: 42, startTime: 5000, startedAt: 1_000_000, how: 'match' });
    assert.deepEqual(judgeMatches('web', 1000, [proc({ pid: 90 }), proc({ pid: 7 })]), {
      kind: 'refused',
      why: 'ProcessMatch "web" matches 2 processes of user 1000 (pids 7, 90): none is taken over, and no other is started',
    });
  });

  it('findRunning: a pid file naming init, the buddy itself or its ancestors (the controller) names nothing to take over', () => {
    // Taken over, pid 1 would be the group a stop signals: kill(-1) reaches every process there is.
    const dir = mkdtempSync(join(tmpdir(), 'upkt-find-'));
    try {
      const file = join(dir, 'x.pid');
      const uid = process.getuid!();
      for (const pid of [1, process.pid, process.ppid]) {
        writeFileSync(file, `${pid}\n`);
        const look = findRunning({ pidFile: file, processMatch: null }, uid);
        assert.equal(look.kind, 'none', `pid ${pid}: ${JSON.stringify(look)}`);
      }
      // Nor a kernel thread (kthreadd, pid 2, when it is there): it never ends, so the service would never start.
      if (statSync('/proc/2', { throwIfNoEntry: false })?.uid === uid && readFileSync('/proc/2/cmdline', 'latin1') === '') {
        writeFileSync(file, '2\n');
        const look = findRunning({ pidFile: file, processMatch: null }, uid);
        assert.equal(look.kind, 'none', `kthreadd: ${JSON.stringify(look)}`);
      }
      // Nor does a ProcessMatch that matches init's command line.
      const init = commandLineText(readFileSync('/proc/1/cmdline', 'utf8'));
      const source = `^${init.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`;
      if (init !== '' && statSync('/proc/1').uid === uid) {
        const look = findRunning({ pidFile: null, processMatch: source }, uid);
        assert.ok(look.kind !== 'found' || look.pid !== 1, `ProcessMatch ${source}: ${JSON.stringify(look)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    "findRunning: a pid file of another user (neither root nor the service's) is not believed",
    { skip: process.getuid?.() !== 0 ? 'needs root' : false },
    () => {
      // A root service whose pid file another user could write: it would name any root process for the next stop to kill.
      const dir = mkdtempSync(join(tmpdir(), 'upkt-find-'));
      const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        const file = join(dir, 'x.pid');
        writeFileSync(file, `${sleeper.pid}\n`);
        assert.equal(findRunning({ pidFile: file, processMatch: null }, 0).kind, 'found', "root's own file is believed");
        chownSync(file, 65534, 65534);
        const look = findRunning({ pidFile: file, processMatch: null }, 0);
        assert.equal(look.kind, 'none');
        assert.match(look.kind === 'none' ? look.why : '', /belongs to uid 65534, neither root nor the service's user: not believed/);
      } finally {
        sleeper.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("findRunning: ProcessMatch never takes upkeeper's own Perl (the Listen holder, the notify relay), whose command line holds the run directory", async () => {
    const uid = process.getuid?.() ?? 0;
    const tag = `upkt-helper-${process.pid}`;
    // As the holder runs: perl -e <upkeeper's script> <run directory>…
    const helper = spawn('perl', ['-e', `${HELPER_TAG}sleep 30`, `/tmp/${tag}/run`], { stdio: 'ignore' });
    const service = spawn('perl', ['-e', 'sleep 30', `/tmp/${tag}/run`], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const look = findRunning({ pidFile: null, processMatch: tag }, uid);
      assert.equal(look.kind === 'found' ? look.pid : look.kind, service.pid, JSON.stringify(look));
    } finally {
      helper.kill('SIGKILL');
      service.kill('SIGKILL');
    }
  });

  it('commandLineText: NULs between arguments as spaces, the last one dropped', () => {
    assert.equal(commandLineText('sleep\x001000\x00'), 'sleep 1000');
    assert.equal(commandLineText('nginx: master process\0\0'), 'nginx: master process');
    assert.equal(commandLineText(''), '');
  });

  it('processFacts: a kernel thread is one by its flags, not by its empty command line', () => {
    assert.equal(processFacts(process.pid)?.kernelThread, false);
    const kthreadd = processFacts(2); // (in a PID namespace of its own, pid 2 is no kernel thread: nothing to check)
    if (kthreadd && readFileSync('/proc/2/comm', 'utf8').trim() === 'kthreadd') assert.equal(kthreadd.kernelThread, true);
  });

  it('forkedProcess: the daemon caught in its execve (no command line yet) is waited for, never refused as a kernel thread', () => {
    // A start script forks `sleep` and exits at once: about one in ten times here, /proc/PID/cmdline is
    // still empty when it is read, in the middle of the daemon's execve. Every one must be found.
    const dir = mkdtempSync(join(tmpdir(), 'upk-forked-'));
    const pidFile = join(dir, 'd.pid');
    const uid = process.getuid!();
    const daemons: number[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const spawnedAt = Date.now();
        const script = spawnSync('sh', ['-c', `sleep 30 & echo $! > ${pidFile}`], { stdio: 'ignore' });
        assert.equal(script.status, 0);
        const daemon = Number(readFileSync(pidFile, 'utf8'));
        daemons.push(daemon);
        let found = forkedProcess({ pidFile, processMatch: null }, uid, 0, spawnedAt);
        for (let tries = 0; 'why' in found && found.wait && tries < 200; tries++)
          found = forkedProcess({ pidFile, processMatch: null }, uid, 0, spawnedAt);
        assert.deepEqual('why' in found ? found : found.pid, daemon, `try ${i}`);
        assert.equal(processStartTime(daemon) !== null, true);
        process.kill(daemon, 'SIGKILL');
      }
    } finally {
      for (const pid of daemons) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
