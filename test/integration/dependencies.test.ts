// Prerequisites, Provides, Conflicts and StartPriority order every start.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Notice } from '../../libclient/index.js';
import { Sandbox } from '../helpers/sandbox.js';

const svc = (extra: Record<string, unknown>) => ({ ExecStart: 'sleep 1000', MinUptime: 0.3, ...extra });

describe('dependencies', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const spawnedAt = (name: string): number[] => {
    const db = box.db();
    try {
      return (
        db
          .prepare(
            "SELECT e.time FROM events e JOIN services s ON s.uuid = e.service_uuid WHERE s.name = ? AND e.type = 'spawned' ORDER BY e.id",
          )
          .all(name) as { time: number }[]
      ).map((r) => r.time);
    } finally {
      db.close();
    }
  };

  before(async () => {
    box = new Sandbox('deps');
    box.writeServices({
      db: svc({ Provides: ['database'] }),
      cache: svc({}),
      web: svc({ Prerequisites: ['database', 'cache'], MinUptime: 0.1 }),
      batch: svc({ Conflicts: ['web'], MinUptime: 0.1 }),
      hi: svc({ StartPriority: 10 }),
      lo: svc({ MinUptime: 0.1 }),
    });
    await box.startController();
  });
  after(() => box.cleanup());

  it('starting a service starts its prerequisites first; it shows waiting meanwhile', async () => {
    const c = await box.client();
    const sub = await c.subscribe({ services: ['web'] });
    const states: string[] = [];
    const watching = (async () => {
      for await (const n of sub as AsyncIterable<Notice>) if (n.kind === 'status') states.push(n.status.state);
    })();
    const [web] = await c.start('web');
    assert.equal(web!.ok, true, web!.message);
    sub.close();
    await watching;
    assert.ok(states.includes('waiting'), `web was waiting: ${states.join(' → ')}`);
    const [dbStart] = spawnedAt('db');
    const [cacheStart] = spawnedAt('cache');
    const [webStart] = spawnedAt('web');
    assert.ok(webStart! >= dbStart! + 300 && webStart! >= cacheStart! + 300, 'web starts once db and cache are up (MinUptime 0.3 s)');
    const [db] = await c.status('db');
    assert.equal(db!.desired, 'running', 'a prerequisite started for a dependent is wanted running');
  });

  it('a service never starts beside one it conflicts with', async () => {
    const c = await box.client();
    const [batch] = await c.start('batch');
    assert.equal(batch!.ok, false);
    assert.match(batch!.message, /conflicts with web, which runs/);
    const res = await box.upk(['start', 'batch']);
    assert.equal(res.code, 5);
    const [after] = await c.status('batch');
    assert.equal(after!.desired, 'stopped', 'a refused start leaves the desired state as it was');
    assert.notEqual(after!.state, 'running');
    const log = readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
    assert.match(log, /batch: not started: conflicts with web, which runs/);
  });

  it('stopping a prerequisite leaves its dependents running, and says so', async () => {
    const c = await box.client();
    const [db] = await c.stop('db');
    assert.equal(db!.ok, true);
    assert.match(db!.message, /still running, and needing it: web/);
    const [web] = await c.status('web');
    assert.equal(web!.state, 'running');
    // Both stopped by one request: nothing is said to be left running.
    await c.start('web');
    const both = await c.stop(['db', 'web']);
    for (const item of both) assert.doesNotMatch(item.message, /still running/, `${item.service}: ${item.message}`);
    await c.start('web');
  });

  it('StartPriority: of services starting together, the higher priority ones start first', async () => {
    const c = await box.client();
    await c.start(['lo', 'hi']);
    const [hiStart] = spawnedAt('hi');
    const [loStart] = spawnedAt('lo');
    assert.ok(loStart! >= hiStart! + 300, `lo (${loStart! - hiStart!} ms after hi) waits until hi is up`);
  });

  it('at controller start, wanted services start in dependency order', async () => {
    await c2Shutdown(box);
    await box.startController();
    const c = await box.client();
    await box.waitFor('web running again', async () => (await c.status('web'))[0]?.state === 'running', 15_000);
    const lastDb = spawnedAt('db').at(-1)!;
    const lastWeb = spawnedAt('web').at(-1)!;
    assert.ok(lastWeb >= lastDb + 300, 'db is up before web starts');
  });
});

async function c2Shutdown(box: Sandbox): Promise<void> {
  const res = await box.upk(['shutdown']);
  assert.equal(res.code, 0, res.stderr);
}
