// Stores the buddies' usage records: each once in samples (kept 7 days), and summed per service and hour in samples_hourly.
import type Database from 'better-sqlite3';
import type { UsageDetail } from '../schema/records.js';
import { HOUR_MS } from './run-hours.js';

/** The usage record's detail when every field is a sane number; null otherwise (the record is skipped). */
export function usageDetail(detail: Record<string, unknown> | null | undefined): UsageDetail | null {
  if (!detail) return null;
  // NaN for a field that is no such number: the record is then refused.
  const n = (k: keyof UsageDetail): number => {
    const v = detail[k];
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : NaN;
  };
  const d: UsageDetail = {
    from: n('from'),
    to: n('to'),
    cpuMs: n('cpuMs'),
    rssKb: n('rssKb'),
    rssMaxKb: n('rssMaxKb'),
    processes: n('processes'),
    samples: n('samples'),
  };
  return Object.values(d).every((v) => !Number.isNaN(v)) && d.to >= d.from ? d : null;
}

export class SampleStore {
  private readonly insert: Database.Statement<
    [buddyId: number, seq: number, time: number, wallMs: number, cpuMs: number, rssKb: number, rssMaxKb: number, processes: number]
  >;
  private readonly addHour: Database.Statement<
    [uuid: string, hour: number, wallMs: number, cpuMs: number, rssKbMs: number, rssMaxKb: number, processes: number, samples: number]
  >;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO samples (buddy_id, seq, time, wall_ms, cpu_ms, rss_kb, rss_max_kb, processes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.addHour = db.prepare(
      `INSERT INTO samples_hourly (service_uuid, hour, wall_ms, cpu_ms, rss_kb_ms, rss_max_kb, processes, samples)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (service_uuid, hour) DO UPDATE SET
         wall_ms = wall_ms + excluded.wall_ms, cpu_ms = cpu_ms + excluded.cpu_ms, rss_kb_ms = rss_kb_ms + excluded.rss_kb_ms,
         rss_max_kb = max(rss_max_kb, excluded.rss_max_kb), processes = max(processes, excluded.processes),
         samples = samples + excluded.samples`,
    );
  }

  /**
   * Store one usage record (inside the caller's transaction). Returns the CPU ms it stored; null when
   * it was stored before, or is malformed.
   */
  add(serviceUuid: string, buddyId: number, seq: number, detail: Record<string, unknown> | null | undefined): number | null {
    const d = usageDetail(detail);
    if (!d) return null;
    const wall = Math.round(d.to - d.from);
    const cpu = Math.round(d.cpuMs);
    const rss = Math.round(d.rssKb);
    const r = this.insert.run(buddyId, seq, d.to, wall, cpu, rss, Math.round(d.rssMaxKb), Math.round(d.processes));
    if (r.changes === 0) return null;
    const hour = Math.floor(d.to / HOUR_MS) * HOUR_MS;
    this.addHour.run(serviceUuid, hour, wall, cpu, rss * wall, Math.round(d.rssMaxKb), Math.round(d.processes), Math.round(d.samples));
    return cpu;
  }
}
