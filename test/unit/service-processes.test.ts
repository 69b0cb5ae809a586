// Where the buddy looks for what a run left outside its group: with no earlier run of the service in
// the run directory, only among the pids handed out since the start; else, at the first exit, everywhere.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ServiceProcesses } from '../../buddy/service-processes.js';
import { pidMarkNow } from '../../system/marked-processes.js';
import { SERVICE_MARKER } from '../../schema/run-dir.js';

const T = { timeout: 10_000 };

/** A process in a session of its own carrying the service's marker (as a run's escaped helper would). */
async function marked(uuid: string): Promise<ChildProcess> {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, [SERVICE_MARKER]: uuid } });
  await once(child, 'spawn');
  return child;
}

async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

describe('ServiceProcesses', () => {
  it('after an earlier run (or not knowing), the first check finds a marked process older than the start', T, async () => {
    const uuid = randomUUID();
    const old = await marked(uuid);
    try {
      const p = new ServiceProcesses(uuid, null);
      p.starting({}, null);
      assert.equal(p.gone(old.pid!), false, "the old marked process is the service's");
      assert.equal(p.gone(2 ** 22 + 1), false, 'outside any group of the run, it is still found');
    } finally {
      await end(old);
    }
  });

  it('with no earlier run, only the pids handed out since the start are looked at; a marked process born since is found', T, async () => {
    const uuid = randomUUID();
    const old = await marked(uuid);
    let young: ChildProcess | null = null;
    try {
      const p = new ServiceProcesses(uuid, null);
      p.noEarlierRun();
      p.starting({}, null);
      young = await marked(uuid);
      assert.equal(p.gone(2 ** 22 + 1), false, 'one born since the start is found');
      await end(young);
      // (Where the window cannot be told, forks on the whole host near pid_max, every process is looked at.)
      const mark = pidMarkNow();
      if (mark === null) return;
      assert.equal(p.gone(2 ** 22 + 1), true, 'one older than the start is not looked for');
      p.sweepStale();
      assert.equal(p.gone(2 ** 22 + 1), false, 'until the sweep after the first start finds it: every process is looked at again');
    } finally {
      if (young) await end(young);
      await end(old);
    }
  });
});
