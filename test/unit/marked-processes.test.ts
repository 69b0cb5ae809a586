// The marker scan: a whole NAME=value entry in an environment block, the window of pids handed out
// since a moment (and when it cannot be told), and the scan on real processes.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  environHas,
  markedProcesses,
  markerOf,
  pidMarkNow,
  pidsBetween,
  serviceAlive,
  signalService,
} from '../../system/marked-processes.js';

const T = { timeout: 10_000 };
const env = (...vars: string[]): Buffer => Buffer.from(vars.map((v) => `${v}\0`).join(''));

test('environHas: the whole variable, first, in the middle or last; never part of another', T, () => {
  const entry = markerOf('UPKEEPER_MARKER', 'abc', 0).entry;
  assert.ok(environHas(env('UPKEEPER_MARKER=abc', 'PATH=/bin'), entry));
  assert.ok(environHas(env('PATH=/bin', 'UPKEEPER_MARKER=abc', 'HOME=/'), entry));
  assert.ok(environHas(env('PATH=/bin', 'UPKEEPER_MARKER=abc'), entry));
  assert.ok(environHas(env('X=UPKEEPER_MARKER=abc', 'UPKEEPER_MARKER=abc'), entry), 'a later whole entry counts');
  assert.ok(!environHas(env('PATH=/bin', 'UPKEEPER_MARKER=abcd'), entry), 'a longer value');
  assert.ok(!environHas(env('PATH=/bin', 'UPKEEPER_MARKER=ab'), entry), 'a shorter value');
  assert.ok(!environHas(env('MY_UPKEEPER_MARKER=abc'), entry), 'a longer name');
  assert.ok(!environHas(env('X=UPKEEPER_MARKER=abc'), entry), 'inside another value');
  assert.ok(!environHas(Buffer.from('UPKEEPER_MARKER=abc'), entry), 'without its NUL (cut short)');
  assert.ok(!environHas(Buffer.alloc(0), entry), 'an empty environment (a zombie, a kernel thread)');
});

test('pidsBetween: the pids handed out since, across the wrap; null when they may have gone round', T, () => {
  const since = { last: 1000, forks: 5000, tasks: 100 };
  const plain = pidsBetween(since, { last: 1010, forks: 5012, tasks: 100 }, 32768)!;
  assert.deepEqual([999, 1000, 1001, 1010, 1011].map(plain), [false, false, true, true, false]);
  const wrapped = pidsBetween({ ...since, last: 32760 }, { last: 310, forks: 5030, tasks: 100 }, 32768)!;
  assert.deepEqual([32760, 32761, 32767, 300, 310, 311, 1000].map(wrapped), [false, true, true, true, true, false, false]);
  const none = pidsBetween(since, { ...since }, 32768)!;
  assert.equal(none(1000), false, 'nothing handed out: nothing in the window');
  // Forks plus three pids for each task alive at `since` reaching round the circle (32768 - 300): anything may be new.
  assert.equal(pidsBetween(since, { last: 1010, forks: 5000 + 32468 - 300, tasks: 100 }, 32768), null);
  assert.notEqual(pidsBetween(since, { last: 1010, forks: 5000 + 32468 - 301, tasks: 100 }, 32768), null);
  assert.equal(pidsBetween({ ...since, tasks: 20_000 }, { last: 1010, forks: 5001, tasks: 100 }, 32768), null);
});

test('pidMarkNow reads the kernel; a process started after it is in the window', T, async () => {
  const mark = pidMarkNow();
  assert.ok(mark && mark.last > 0 && mark.forks > 0 && mark.tasks > 0, JSON.stringify(mark));
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const window = pidsBetween(mark, pidMarkNow()!, 4_194_304)!;
    assert.ok(window(child.pid!), `pid ${child.pid} after ${mark.last}`);
    assert.ok(!window(process.pid), 'this test process is older');
  } finally {
    child.kill('SIGKILL');
  }
});

test(
  'since a mark: the pids handed out since are probed one by one when few, listed when many; a thread is never taken for a process',
  T,
  async () => {
    const value = randomUUID();
    const marker = markerOf('UPKEEPER_MARKER', value, process.getuid!());
    const since = pidMarkNow()!;
    // Node starts several threads: their ids come right after its pid, and each reads the marker in /proc/TID/environ.
    const node = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], {
      stdio: 'ignore',
      detached: true,
      env: { PATH: process.env.PATH!, UPKEEPER_MARKER: value },
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const threads = readdirSync(`/proc/${node.pid}/task`).length;
      assert.ok(threads > 1, `${threads} threads`);
      assert.deepEqual(markedProcesses(marker, { since }), [node.pid], 'probed: the process alone');
      const long = { ...since, last: Math.max(301, since.last - 1000) };
      assert.deepEqual(markedProcesses(marker, { since: long }), [node.pid], 'a wider window: listed');
      assert.equal(serviceAlive(999_999, marker, since), true);
    } finally {
      node.kill('SIGKILL');
    }
  },
);

test('markedProcesses finds a marked process that left its group, and only it; signalService ends it', T, async () => {
  const value = randomUUID();
  const uid = process.getuid!();
  const marker = markerOf('UPKEEPER_MARKER', value, uid);
  const since = pidMarkNow();
  // detached: a session and group of its own, as a double-forked daemon has
  const escaped = spawn('sleep', ['30'], { stdio: 'ignore', detached: true, env: { PATH: process.env.PATH!, UPKEEPER_MARKER: value } });
  const other = spawn('sleep', ['30'], { stdio: 'ignore', detached: true, env: { PATH: process.env.PATH!, UPKEEPER_MARKER: `${value}x` } });
  const exited = new Promise((r) => escaped.once('exit', r));
  try {
    await new Promise((r) => setTimeout(r, 100)); // exec'd: /proc/PID/environ is sleep's
    assert.deepEqual(markedProcesses(marker), [escaped.pid]);
    assert.deepEqual(markedProcesses(marker, { since }), [escaped.pid], 'within the window since the mark');
    assert.deepEqual(markedProcesses(marker, { outside: escaped.pid! }), [], 'a member of the group left out');
    assert.deepEqual(markedProcesses(markerOf('UPKEEPER_MARKER', value, uid + 1)), [], 'another user: not ours');
    assert.deepEqual(markedProcesses(marker, { since: pidMarkNow() }), [], 'not in a window that began after it');
    assert.equal(serviceAlive(999_999, marker, since), true, 'alive through the marked process alone');
    const { group, escaped: signalled } = signalService(999_999, marker, 'SIGTERM');
    assert.deepEqual([group, signalled], [false, [escaped.pid]]);
    await exited;
    assert.equal(serviceAlive(999_999, marker, since), false);
    assert.deepEqual(markedProcesses(marker), []);
  } finally {
    escaped.kill('SIGKILL');
    other.kill('SIGKILL');
  }
});
