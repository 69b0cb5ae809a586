// The hourly sums of runs (run_hours), kept by the run ledger as runs start and end, so that a trend
// over a month reads hundreds of rows, not hundreds of thousands of runs.
import type Database from 'better-sqlite3';
import { FLAP_WINDOW_MS } from '../schema/client-protocol.js';

export const HOUR_MS = 3_600_000;

const hourOf = (t: number): number => Math.floor(t / HOUR_MS) * HOUR_MS;

export class RunHours {
  private readonly add: Database.Statement<
    [{ uuid: string; hour: number; restarts: number; failures: number; up: number; repairs: number; repairMs: number }]
  >;
  private readonly burstAt: Database.Statement<[uuid: string, hour: number, burst: number, at: number | null]>;
  private readonly window: Database.Statement<[uuid: string, from: number, to: number], { n: number; first: number | null }>;

  constructor(db: Database.Database) {
    this.add = db.prepare(
      `INSERT INTO run_hours (service_uuid, hour, restarts, failures, up_ms, repairs, repair_ms) VALUES (@uuid, @hour, @restarts, @failures, @up, @repairs, @repairMs)
       ON CONFLICT (service_uuid, hour) DO UPDATE SET restarts = restarts + excluded.restarts, failures = failures + excluded.failures,
         up_ms = up_ms + excluded.up_ms, repairs = repairs + excluded.repairs, repair_ms = repair_ms + excluded.repair_ms`,
    );
    this.burstAt = db.prepare(
      `INSERT INTO run_hours (service_uuid, hour, burst, burst_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (service_uuid, hour) DO UPDATE SET burst = excluded.burst, burst_at = excluded.burst_at WHERE excluded.burst > burst`,
    );
    this.window = db.prepare(
      `SELECT count(*) AS n, min(started) AS first FROM runs WHERE service_uuid = ? AND started > ? AND started <= ? AND cause = 'restart'`,
    );
  }

  /** Add to one hour's counts (negative to take back). */
  credit(uuid: string, t: number, d: { restarts?: number; failures?: number; repairs?: number; repairMs?: number }): void {
    this.add.run({
      uuid,
      hour: hourOf(t),
      restarts: d.restarts ?? 0,
      failures: d.failures ?? 0,
      up: 0,
      repairs: d.repairs ?? 0,
      repairMs: d.repairMs ?? 0,
    });
  }

  /** Add (sign 1) or take back (sign -1) the up time from s to e, hour by hour. */
  up(uuid: string, s: number, e: number, sign: 1 | -1): void {
    for (let h = hourOf(s); h < e; h += HOUR_MS) {
      const ms = Math.min(e, h + HOUR_MS) - Math.max(s, h);
      if (ms > 0) this.add.run({ uuid, hour: h, restarts: 0, failures: 0, up: sign * ms, repairs: 0, repairMs: 0 });
    }
  }

  /** An automatic restart at t (already in runs): the restarts in the FLAP_WINDOW_MS up to it, if the densest of its hour. */
  restartBurst(uuid: string, t: number): void {
    const w = this.window.get(uuid, t - FLAP_WINDOW_MS, t);
    this.burstAt.run(uuid, hourOf(t), w?.n ?? 0, w?.first ?? null);
  }
}
