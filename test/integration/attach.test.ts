// Processes started elsewhere (issue 14, usrsvc): a service's process found by its PidFile or by
// ProcessMatch is taken over instead of a second copy started (at controller start, before a start,
// at `upk attach`), proven by its start time; Type forking supervises the process its PidFile names
// once the start script has exited. A reused pid, a stale pid file or several matches are refused.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';

/**
 * A process started outside upkeeper: `sh -c SCRIPT`, in a session of its own unless `ownGroup` is
 * false (then in the test's process group). Its environment names the sandbox, for the leak check.
 */
function outside(box: Sandbox, script: string, ownGroup = true): number {
  const child = spawn('sh', ['-c', script], { detached: ownGroup, stdio: 'ignore', env: { ...process.env, UPK_TEST_BOX: box.dir } });
  child.unref();
  return child.pid!;
}

function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

interface Row {
  type: string;
  pid: number | null;
  code: number | null;
  detail: string | null;
}
const detail = (e: Row | undefined): Record<string, unknown> => (e?.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : {});

describe('processes started elsewhere: PidFile, ProcessMatch, Type forking, upk attach', { timeout: 120_000 }, () => {
  let box: Sandbox;
  const started: number[] = [];
  let early = 0;
  before(async () => {
    box = new Sandbox('attach');
    // Running before any controller: it writes its pid file itself, then becomes `sleep 2001`.
    early = outside(box, `echo $$ > ${box.file('early.pid')}; exec sleep 2001`);
    started.push(early);
    await box.waitFor('early.pid', () => {
      try {
        return readFileSync(box.file('early.pid'), 'utf8').trim() === String(early);
      } catch {
        return false;
      }
    });
    const quick = { MinUptime: 0.2, UserRateLimit: 0.2, KillTimeout: 2 };
    box.writeServices({
      early: { ExecStart: 'sleep 2002', PidFile: box.file('early.pid'), InitialState: 'running', ...quick },
      forky: {
        ExecStart: `sh -c 'sleep 2003 & echo $! > ${box.file('forky.pid')}'`,
        Type: 'forking',
        PidFile: box.file('forky.pid'),
        ...quick,
      },
      // The start script exits 0 and writes no pid file / the pid of a process already gone.
      nopid: { ExecStart: 'true', Type: 'forking', PidFile: box.file('nopid.pid'), MaxConsecutiveFailures: 0, StartTimeout: 2, ...quick },
      // A daemon that writes its pid file 6 s after its start script exited: waited for, within StartTimeout.
      slowpid: {
        ExecStart: `sh -c 'sh -c "sleep 6; echo \\$\\$ > ${box.file('slowpid.pid')}; exec sleep 2009" &'`,
        Type: 'forking',
        PidFile: box.file('slowpid.pid'),
        StartTimeout: 20,
        ...quick,
      },
      deadpid: {
        ExecStart: `sh -c 'sh -c "echo \\$\\$ > ${box.file('deadpid.pid')}"'`,
        Type: 'forking',
        PidFile: box.file('deadpid.pid'),
        MaxConsecutiveFailures: 0,
        ...quick,
      },
      matched: { ExecStart: 'sleep 2005', ProcessMatch: '^sleep 2004$', ...quick },
      attached: { ExecStart: 'sleep 2007', PidFile: box.file('attached.pid'), ...quick },
      plain: { ExecStart: 'sleep 2008', ...quick },
      reused: { ExecStart: 'sleep 2010', PidFile: box.file('reused.pid'), ...quick },
      multi: { ExecStart: 'sleep 2012', ProcessMatch: '^sleep 2011$', MaxConsecutiveFailures: 0, ...quick },
    });
    await box.startController();
  });
  after(async () => {
    await box.cleanup();
    kill(started);
  });

  it('a process its PidFile names is adopted at controller start, not started again; its exit is noticed and the restart policy applies', async () => {
    const s = await box.waitForState('early', 'running');
    assert.equal(s.pid, early);
    const events = box.events('early') as Row[];
    assert.ok(!events.some((e) => e.type === 'spawned'), 'a second copy was started');
    const adopted = events.find((e) => e.type === 'adopted');
    assert.equal(adopted?.pid, early);
    assert.equal(detail(adopted).how, 'pidfile');
    assert.ok(alive(early));

    process.kill(early, 'SIGTERM');
    const c = await box.client();
    const restarted = await box.waitFor('early restarted by its policy', async () => {
      const [x] = await c.status('early');
      return x?.state === 'running' && x.pid !== early ? x : undefined;
    });
    const after = box.events('early') as Row[];
    const exited = after.find((e) => e.type === 'exited');
    assert.equal(exited?.pid, early);
    assert.equal(detail(exited).unknown, true);
    assert.equal(detail(exited).requested, false);
    const spawned = after.find((e) => e.type === 'spawned');
    assert.equal(spawned?.pid, restarted.pid);
    assert.equal(detail(spawned).restart, true, 'an automatic restart, by the policy');
  });

  it('Type forking: the process the PidFile names once the start script exited is supervised; a restart and a stop', async () => {
    const r = await box.upk(['start', 'forky']);
    assert.equal(r.code, 0, r.stderr);
    const c = await box.client();
    const [s] = await c.status('forky');
    const daemon = Number(readFileSync(box.file('forky.pid'), 'utf8'));
    assert.equal(s?.state, 'running');
    assert.equal(s?.pid, daemon);
    const events = box.events('forky') as Row[];
    const spawned = events.find((e) => e.type === 'spawned');
    assert.ok(spawned?.pid !== daemon, 'the start script is spawned, the daemon adopted');
    const adopted = events.find((e) => e.type === 'adopted');
    assert.deepEqual([adopted?.pid, detail(adopted).how], [daemon, 'forked']);
    assert.equal(detail(events.find((e) => e.type === 'ready')).how, 'forking');

    process.kill(daemon, 'SIGKILL');
    const again = await box.waitFor('forky restarted', async () => {
      const [x] = await c.status('forky');
      return x?.state === 'running' && x.pid !== daemon ? x : undefined;
    });
    assert.equal(again.pid, Number(readFileSync(box.file('forky.pid'), 'utf8')));
    const exited = (box.events('forky') as Row[]).find((e) => e.type === 'exited' && e.pid === daemon);
    assert.equal(detail(exited).unknown, true);

    const stop = await box.upk(['stop', 'forky']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!alive(again.pid), 'the daemon was stopped');
    // The runs ledger followed the run from the start script to the daemon.
    const db = box.db();
    try {
      const runs = db
        .prepare(`SELECT pid, outcome FROM runs r JOIN services s ON s.uuid = r.service_uuid WHERE s.name = 'forky' ORDER BY r.id`)
        .all() as { pid: number; outcome: string }[];
      assert.deepEqual(runs, [
        { pid: daemon, outcome: 'failed' },
        { pid: again.pid, outcome: 'stopped' },
      ]);
    } finally {
      db.close();
    }
  });

  it('Type forking: no pid file, or a dead pid in it, is a failed start that says why', async () => {
    const dead = await box.upk(['start', 'deadpid']);
    assert.equal(dead.code, 5);
    assert.match(
      dead.stderr,
      /deadpid: FAILED: Type forking: the start script exited 0, but .*deadpid\.pid names pid \d+, which does not run/,
    );
    const none = await box.upk(['start', 'nopid']);
    assert.equal(none.code, 5);
    assert.match(none.stderr, /nopid: FAILED: Type forking: the start script exited 0, but .*nopid\.pid does not exist/);
    const exited = (box.events('nopid') as Row[]).find((e) => e.type === 'exited');
    assert.equal(exited?.code, 0);
    assert.match(String(detail(exited).error), /nopid\.pid does not exist/);
  });

  it('Type forking: a pid file written after 5 s is waited for within StartTimeout', async () => {
    const res = await box.upk(['start', 'slowpid'], 40_000);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const s = (await (await box.client()).status('slowpid'))[0]!;
    assert.equal(readFileSync(box.file('slowpid.pid'), 'utf8').trim(), String(s.pid));
    assert.match(readFileSync(`/proc/${s.pid}/cmdline`, 'utf8'), /^sleep\x002009/);
  });

  it('ProcessMatch: the one process of the user whose command line matches is taken over by a start', async () => {
    const pid = outside(box, 'exec sleep 2004', false);
    started.push(pid);
    await box.waitFor('sleep 2004', () => readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\x002004\x00');
    const r = await box.upk(['start', 'matched']);
    assert.equal(r.code, 0, r.stderr);
    const c = await box.client();
    const [s] = await c.status('matched');
    assert.equal(s?.pid, pid);
    const events = box.events('matched') as Row[];
    assert.ok(!events.some((e) => e.type === 'spawned'));
    assert.equal(detail(events.find((e) => e.type === 'adopted')).how, 'match');
    // A stop reaches it, though it leads no group of upkeeper's and carries no marker.
    const stop = await box.upk(['stop', 'matched']);
    assert.equal(stop.code, 0, stop.stderr);
    await box.waitFor('sleep 2004 gone', () => !alive(pid));
  });

  it('upk attach: takes over what runs, and refuses when nothing does', async () => {
    const none = await box.upk(['attach', 'attached']);
    assert.equal(none.code, 5);
    assert.match(none.stderr, /attached: FAILED: nothing to attach to: .*attached\.pid does not exist/);
    const plain = await box.upk(['attach', 'plain']);
    assert.equal(plain.code, 5);
    assert.match(plain.stderr, /plain: FAILED: nothing to attach to: it has neither PidFile nor ProcessMatch/);

    const pid = outside(box, `echo $$ > ${box.file('attached.pid')}; exec sleep 2006`);
    started.push(pid);
    await box.waitFor('attached.pid', () => {
      try {
        return readFileSync(box.file('attached.pid'), 'utf8').trim() === String(pid);
      } catch {
        return false;
      }
    });
    const r = await box.upk(['attach', 'attached']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /attached: ok: running/);
    const c = await box.client();
    const [s] = await c.status('attached');
    assert.deepEqual([s?.pid, s?.desired], [pid, 'running']);
    const again = await box.upk(['attach', 'attached']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, new RegExp(`attached: ok: already supervised \\(pid ${pid}\\)`));
  });

  it('a pid file older than the process it names (a reused pid) is not adopted: a start starts its own', async () => {
    const other = outside(box, 'exec sleep 2009');
    started.push(other);
    writeFileSync(box.file('reused.pid'), `${other}\n`);
    const long = (Date.now() - 60_000) / 1000;
    utimesSync(box.file('reused.pid'), long, long); // written a minute before that process started
    const refused = await box.upk(['attach', 'reused']);
    assert.equal(refused.code, 5);
    assert.match(
      refused.stderr,
      new RegExp(`reused\\.pid names pid ${other}, which started at .*after the file was written.*stale pid file`),
    );
    const r = await box.upk(['start', 'reused']);
    assert.equal(r.code, 0, r.stderr);
    const c = await box.client();
    const [s] = await c.status('reused');
    assert.ok(s?.pid && s.pid !== other, 'a process of its own');
    assert.ok((box.events('reused') as Row[]).some((e) => e.type === 'spawned' && e.pid === s.pid));
    assert.ok(!(box.events('reused') as Row[]).some((e) => e.type === 'adopted'));
    // A stale pid file of a process gone: nothing taken over either.
    await box.upk(['stop', 'reused']);
    writeFileSync(box.file('reused.pid'), `${s.pid}\n`);
    const stale = await box.upk(['attach', 'reused']);
    assert.equal(stale.code, 5);
    assert.match(stale.stderr, new RegExp(`reused\\.pid names pid ${s.pid}, which does not run`));
    assert.ok(alive(other), 'the other process was left alone');
  });

  it('several processes matching ProcessMatch: refused, naming them; none started, none killed', async () => {
    const a = outside(box, 'exec sleep 2011');
    const b = outside(box, 'exec sleep 2011');
    started.push(a, b);
    await box.waitFor('two sleep 2011', () =>
      [a, b].every((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'latin1') === 'sleep\x002011\x00';
        } catch {
          return false;
        }
      }),
    );
    const [lo, hi] = [a, b].sort((x, y) => x - y);
    const pids = `pids ${lo}, ${hi}`;
    const attach = await box.upk(['attach', 'multi']);
    assert.equal(attach.code, 5);
    assert.ok(attach.stderr.includes(`matches 2 processes of user ${process.getuid!()} (${pids})`), attach.stderr);
    const start = await box.upk(['start', 'multi']);
    assert.equal(start.code, 5);
    assert.ok(start.stderr.includes(`(${pids}): none is taken over, and no other is started`), start.stderr);
    const events = box.events('multi') as Row[];
    assert.ok(!events.some((e) => e.type === 'spawned' || e.type === 'adopted'));
    assert.ok(events.some((e) => e.type === 'spawn_failed'));
    await sleep(300);
    assert.ok(alive(a) && alive(b));
  });
});

// The attack on adoption: what must never be taken over, and what a stop of what was must reach.
describe('processes started elsewhere: what is never taken over', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const started: number[] = [];
  before(async () => {
    box = new Sandbox('attach-attack');
    const quick = { MinUptime: 0.2, UserRateLimit: 0.2, KillTimeout: 1 };
    box.writeServices({
      // Unanchored: the other service's buddy has "legacy-api" in its command line (its run directory).
      legacy: { ExecStart: 'sleep 2021', ProcessMatch: 'legacy-api', ...quick },
      'legacy-api': { ExecStart: 'sleep 2022', InitialState: 'running', ...quick },
      foreign: { ExecStart: 'sleep 2024', PidFile: box.file('foreign.pid'), ...quick },
      stubborn: { ExecStart: 'sleep 2026', PidFile: box.file('stubborn.pid'), ...quick },
      fifo: { ExecStart: 'sleep 2027', PidFile: box.file('fifo.pid'), ...quick },
      twice: { ExecStart: 'sleep 2029', ProcessMatch: '^sleep 2028$', ...quick },
    });
    await box.startController();
  });
  after(async () => {
    await box.cleanup();
    kill(started);
  });

  it("a ProcessMatch that matches another service's buddy takes nothing over", async () => {
    await box.waitForState('legacy-api', 'running');
    const r = await box.upk(['attach', 'legacy']);
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stderr, /legacy: FAILED: nothing to attach to: ProcessMatch "legacy-api" matches no process/);
  });

  it("a PidFile naming another user's process: not taken over, not signalled", async (t) => {
    if (process.getuid!() !== 0) return t.skip('needs root, to run a process as nobody');
    const pid = outside(box, `echo $$ > ${box.file('foreign.pid')}; exec setpriv --reuid=65534 --regid=65534 --clear-groups sleep 2023`);
    started.push(pid);
    await box.waitFor('sleep 2023 as nobody', () => {
      try {
        return statSync(`/proc/${pid}`).uid === 65534 && readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\x002023\x00';
      } catch {
        return false;
      }
    });
    const r = await box.upk(['attach', 'foreign']);
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stderr, new RegExp(`foreign\\.pid names pid ${pid}, a process of user 65534`));
    const start = await box.upk(['start', 'foreign']);
    assert.equal(start.code, 0, start.stderr);
    const c = await box.client();
    const [s] = await c.status('foreign');
    assert.ok(s?.pid && s.pid !== pid, 'a process of its own');
    await box.upk(['stop', 'foreign']);
    assert.ok(alive(pid), "the other user's process was left alone");
  });

  it('an adopted process that ignores SIGTERM is killed after KillTimeout by a stop', async () => {
    const pid = outside(box, `echo $$ > ${box.file('stubborn.pid')}; trap '' TERM; exec sleep 2025`);
    started.push(pid);
    await box.waitFor('sleep 2025', () => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\x002025\x00';
      } catch {
        return false;
      }
    });
    const r = await box.upk(['attach', 'stubborn']);
    assert.equal(r.code, 0, r.stderr);
    const t0 = Date.now();
    const stop = await box.upk(['stop', 'stubborn']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!alive(pid), 'killed');
    assert.ok(Date.now() - t0 >= 900, 'after KillTimeout');
  });

  it('upk attach twice at once takes the process over once; an unknown name fails', async () => {
    const pid = outside(box, 'exec sleep 2028');
    started.push(pid);
    await box.waitFor('sleep 2028', () => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\x002028\x00';
      } catch {
        return false;
      }
    });
    const [a, b] = await Promise.all([box.upk(['attach', 'twice']), box.upk(['attach', 'twice'])]);
    assert.deepEqual([a.code, b.code], [0, 0], a.stderr + b.stderr);
    const events = box.events('twice') as Row[];
    assert.equal(events.filter((e) => e.type === 'adopted').length, 1);
    assert.ok(!events.some((e) => e.type === 'spawned'));
    const unknown = await box.upk(['attach', 'nosuch']);
    assert.notEqual(unknown.code, 0);
    await box.upk(['stop', 'twice']);
    await box.waitFor('sleep 2028 gone', () => !alive(pid));
  });

  it('a FIFO where the pid file should be holds nothing up and is not read', async () => {
    execFileSync('mkfifo', [box.file('fifo.pid')]);
    const t0 = Date.now();
    const r = await box.upk(['attach', 'fifo']);
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stderr, /fifo\.pid is not a regular file/);
    assert.ok(Date.now() - t0 < 5000);
  });
});
