// Controller restart to all 50 buddies drained and current: 50 services crash and restart every
// second while no controller runs, so every buddy holds events; then a controller starts. Measured
// from calling startController to the first answer to `list` (the controller answers about services
// only once every buddy is attached and everything it buffered is stored). Checked afterwards: each
// buddy's last sequence number (its status file) is in the database.
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR } from '../schema/state-dir.js';
import { idleService, manyServices, median, sleep, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 50;
const OUTAGE_MS = 3000;

export const restartDrain: Benchmark = {
  name: 'restart-drain',
  title: `Controller start to all ${SERVICES} buddies drained and current`,
  async run(ctx) {
    const runs = ctx.quick ? 1 : 3;
    const times: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const r = await withSandbox('drain', timeDrain);
      ctx.note(
        `run ${run}: ${r.buffered} events buffered in the buddies; drained and current after ${r.ms.toFixed(0)} ms; ${r.behind} buddies behind`,
      );
      times.push(r.ms);
    }
    const figures: Figure[] = [
      {
        label: `start to ${SERVICES} buddies drained, median`,
        value: median(times) / 1000,
        unit: 's',
        n: runs === 1 ? '1 run' : `${runs} runs`,
        target: { op: '<=', value: 1 },
      },
    ];
    return figures;
  },
};

async function timeDrain(sandbox: Sandbox): Promise<{ ms: number; buffered: number; behind: number }> {
  sandbox.writeConfig();
  // Each run lasts about a second, then exits: events pile up in every buddy while no controller runs.
  sandbox.writeServices(manyServices(SERVICES, () => idleService({ ExecStart: 'sh -c "sleep 1; exit 1"', UserRateLimit: 0.5 })));
  await sandbox.startController();
  const first = await sandbox.connect();
  await first.list(); // answers once every buddy is attached
  await first.stopController();
  first.close();
  await sleep(OUTAGE_MS);

  const before = statuses(sandbox); // what every buddy holds as the new controller starts
  const t0 = performance.now();
  await sandbox.startController();
  const client = await sandbox.connect();
  await client.list();
  const ms = performance.now() - t0;
  client.close();
  const buffered = before.reduce((n, s) => n + s.pending, 0);
  return { ms, buffered, behind: behindInDatabase(sandbox, before) };
}

interface BuddyState {
  buddy: string;
  seq: number;
  pending: number;
}

/** Each buddy's instance, last sequence number and pending events, from its status file. */
function statuses(sandbox: Sandbox): BuddyState[] {
  return Object.keys(manyServices(SERVICES)).map((name) => {
    const s = JSON.parse(readFileSync(join(sandbox.runDir, name, 'status'), 'utf8')) as BuddyState;
    return { buddy: s.buddy, seq: s.seq, pending: s.pending };
  });
}

/** Buddies whose events up to `seq` are not all in the database. */
function behindInDatabase(sandbox: Sandbox, before: BuddyState[]): number {
  const db = new Database(join(sandbox.stateDir, STATE_DIR.database), { readonly: true });
  try {
    const stored = db.prepare('SELECT max(e.seq) AS seq FROM events e JOIN buddies b ON b.id = e.buddy_id WHERE b.instance = ?');
    return before.filter((s) => ((stored.get(s.buddy) as { seq: number | null }).seq ?? 0) < s.seq).length;
  } finally {
    db.close();
  }
}
