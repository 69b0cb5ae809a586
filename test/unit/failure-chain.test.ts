// The run of failures `upk why` tells (failureChain): which runs belong to it, on runs and events
// written straight into a real SQLite file, against counts made by hand.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuditStore } from '../../controller/audit-store.js';
import { failureChain } from '../../controller/failure-story.js';

const T0 = Date.UTC(2026, 0, 5);
type Outcome = 'stopped' | 'failed' | 'spawn_failed' | 'lost';

describe('failureChain', { timeout: 30_000 }, () => {
  let dir: string;
  let store: AuditStore;
  let sql: Database.Database;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'upk-chain-'));
    store = new AuditStore(join(dir, 'upkeeper.db'));
    sql = new Database(join(dir, 'upkeeper.db'));
  });
  after(() => {
    sql.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A service with these runs, one a second (each lasting 500 ms); `health` marks runs its buddy ended for a failed check. */
  function service(outcomes: (Outcome | 'health')[]): {
    uuid: string;
    runs: { id: number; started: number; ended: number; pid: number; outcome: Outcome }[];
  } {
    const uuid = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    sql
      .prepare(`INSERT INTO services (uuid, name, config, desired, created, modified) VALUES (?, ?, '{}', 'running', ?, ?)`)
      .run(uuid, `s${n}`, T0, T0);
    const buddyId = store.buddyId(`i${n}`, uuid, 1, T0);
    const runs = outcomes.map((o, i) => {
      const started = T0 + i * 1000;
      const pid = 1000 + i;
      const outcome: Outcome = o === 'health' ? 'stopped' : o;
      const id = Number(
        sql
          .prepare(`INSERT INTO runs (service_uuid, buddy_id, pid, started, cause, ended, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)`)
          .run(uuid, buddyId, pid, started, i === 0 ? 'start' : 'restart', started + 500, outcome).lastInsertRowid,
      );
      if (o === 'health')
        sql
          .prepare(`INSERT INTO events (service_uuid, buddy_id, seq, time, type, pid, detail) VALUES (?, ?, ?, ?, 'unhealthy', ?, ?)`)
          .run(uuid, buddyId, i + 1, started + 400, pid, JSON.stringify({ action: 'restart' }));
      return { id, started, ended: started + 500, pid, outcome };
    });
    return { uuid, runs };
  }

  it('counts the failed runs in a row back to the last run that did not fail', () => {
    const s = service(['failed', 'stopped', 'failed', 'spawn_failed', 'failed']);
    const last = s.runs[4]!;
    const chain = failureChain(sql, [s.uuid], last);
    assert.equal(chain.count, 3);
    assert.equal(chain.first.id, s.runs[2]!.id);
  });

  it('a run its buddy ended for a failed health check is a failure of the chain, a stop asked for is not', () => {
    const s = service(['lost', 'failed', 'health', 'failed', 'health']);
    const chain = failureChain(sql, [s.uuid], s.runs[4]!);
    assert.equal(chain.count, 4);
    assert.equal(chain.first.id, s.runs[1]!.id);
  });

  it('a failure with nothing but failures before it: the chain begins at the first run kept, however long', () => {
    const s = service(Array.from({ length: 2500 }, (): Outcome => 'failed'));
    const chain = failureChain(sql, [s.uuid], s.runs[2499]!);
    assert.equal(chain.count, 2500); // the old look-back stopped at 1,000 runs
    assert.equal(chain.first.id, s.runs[0]!.id);
  });

  it('the first run after a stop asked for: a chain of one', () => {
    const s = service(['stopped', 'failed']);
    const chain = failureChain(sql, [s.uuid], s.runs[1]!);
    assert.equal(chain.count, 1);
    assert.equal(chain.first.id, s.runs[1]!.id);
  });

  it('a service with two uuids (its id was given a new one): the chain goes on across them', () => {
    const a = service(['stopped', 'failed', 'failed']);
    const b = service(['failed', 'health']); // later runs: shift them after a's
    sql.prepare('UPDATE runs SET started = started + 10000, ended = ended + 10000 WHERE service_uuid = ?').run(b.uuid);
    sql.prepare('UPDATE events SET time = time + 10000 WHERE service_uuid = ?').run(b.uuid);
    const last = { ...b.runs[1]!, started: b.runs[1]!.started + 10000, ended: b.runs[1]!.ended + 10000 };
    const chain = failureChain(sql, [b.uuid, a.uuid], last);
    assert.equal(chain.count, 4);
    assert.equal(chain.first.id, a.runs[1]!.id);
  });
});
