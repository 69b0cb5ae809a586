// Chaos: services crash-loop while the controller is killed with SIGKILL at random moments and
// started again, again and again. Afterwards every start the services saw has exactly one event,
// no (buddy, seq) repeats, no sequence number is missing, and the database is intact.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startController } from '../../libclient/index.js';
import { Sandbox, alive, assertStartsRecorded, sleep } from '../helpers/sandbox.js';

const SERVICES = ['alpha', 'beta', 'gamma', 'delta'];
const KILLS = 25;

/** A small deterministic generator, so a failing run can be replayed with the seed it prints. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

describe('chaos: the controller killed at random moments', { timeout: 240_000 }, () => {
  let box: Sandbox;
  before(() => {
    box = new Sandbox('chaos');
    box.writeServices(
      Object.fromEntries(
        SERVICES.map((name, i) => [
          name,
          {
            ExecStart: `sh -c 'echo $$ >> ${box.file(`${name}.starts`)}; sleep 0.0${i + 1}; exit ${i + 1}'`,
            InitialState: 'running',
            MinUptime: 0,
            UserRateLimit: 0.02,
            UserMaxRestarts: -1,
          },
        ]),
      ),
    );
  });
  after(() => box.cleanup());

  it(`${KILLS} SIGKILLs of the controller lose and repeat no event`, async (t) => {
    const seed = Number(process.env.UPK_CHAOS_SEED ?? Date.now() % 100000);
    t.diagnostic(`seed ${seed} (UPK_CHAOS_SEED replays it)`);
    const rnd = random(seed);
    for (let i = 0; i < KILLS; i++) {
      const started = await startController({ config: box.configFile, env: box.env });
      const pid = started.controller.pid;
      // Sometimes a client request is in flight when the controller dies.
      if (rnd() < 0.4) {
        void connect({ config: box.configFile })
          .then((c) => c.restart(SERVICES[Math.floor(rnd() * SERVICES.length)]!).finally(() => c.close()))
          .catch(() => undefined);
      }
      await sleep(20 + rnd() * 600);
      process.kill(pid, 'SIGKILL');
      await box.waitFor('the controller gone', () => !alive(pid));
      await sleep(rnd() * 300);
    }
    await startController({ config: box.configFile, env: box.env });
    const c = await box.client();
    const stopped = await c.stop('all');
    assert.ok(
      stopped.every((o) => o.ok),
      JSON.stringify(stopped),
    );

    const db = box.db();
    try {
      assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      const repeats = db.prepare('SELECT buddy_id, seq, count(*) AS n FROM events GROUP BY buddy_id, seq HAVING n > 1').all();
      assert.deepEqual(repeats, [], 'no (buddy, seq) appears twice');
      let lost = 0;
      // Events and usage records share a buddy's sequence numbers: between them, none may be missing.
      const perBuddy = db
        .prepare(
          'SELECT buddy_id AS id, count(*) AS n, max(seq) AS top FROM (SELECT buddy_id, seq FROM events UNION ALL SELECT buddy_id, seq FROM samples) GROUP BY buddy_id',
        )
        .all() as { id: number; n: number; top: number }[];
      for (const b of perBuddy) lost += b.top - b.n;
      assert.equal(lost, 0, 'no sequence number is missing');
      const dropped = db.prepare("SELECT count(*) AS n FROM events WHERE type = 'events_dropped'").get() as { n: number };
      assert.equal(dropped.n, 0);
      let starts = 0;
      for (const name of SERVICES) starts += assertStartsRecorded(box.events(name), box.file(`${name}.starts`));
      const total = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
      t.diagnostic(`${KILLS} kills, ${starts} starts, ${total} events stored, ${lost} lost`);
    } finally {
      db.close();
    }
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.doesNotMatch(log, /cannot write events/);
  });
});
