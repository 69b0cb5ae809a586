// The audit-queries benchmark's rows for the past (issue 17): `status --at` at times spread over the
// 30 days of its history, and the timeline of one hour (its default limit, then the whole hour).
import type { Client } from '../libclient/index.js';
import { median } from './harness.js';
import type { Figure } from './report.js';

const HOUR = 3_600_000;
const DAYS = 30;

/** `n` times spread evenly over the last `DAYS` days (not the first or last hour), oldest first. */
function spread(n: number, now: number): number[] {
  const span = DAYS * 24 * HOUR - 2 * HOUR;
  return Array.from({ length: n }, (_, i) => now - DAYS * 24 * HOUR + HOUR + Math.round(((i + 0.5) * span) / n));
}

/** Each time taken once (after one warm-up call at the first), in ms. */
async function each(times: number[], run: (t: number) => Promise<unknown>): Promise<number[]> {
  await run(times[0]!);
  const took: number[] = [];
  for (const t of times) {
    const t0 = performance.now();
    await run(t);
    took.push(performance.now() - t0);
  }
  return took;
}

export async function pastFigures(n: number, client: Client, note: (line: string) => void): Promise<Figure[]> {
  const times = spread(n, Date.now());
  const at = await each(times, (t) => client.statusAt(t));
  let entries = 0;
  let cut = 0;
  const hour = await each(times, async (t) => {
    const r = await client.timeline({ since: t, until: t + HOUR });
    entries += r.entries.length;
    if (r.truncated) cut++;
  });
  const whole = await each(times, (t) => client.timeline({ since: t, until: t + HOUR, limit: 10_000 }));
  const all = await client.timeline({ since: times[0]!, until: times[0]! + HOUR, limit: 10_000 });
  note(
    `timeline of one hour: ${Math.round(entries / (n + 1))} entries on average at the default limit (${cut} of ${n + 1} cut); ` +
      `the whole hour ${all.entries.length} entries in ${all.bursts.length} bursts`,
  );
  return [
    {
      label: 'status --at (50 services), times spread over the 30 days, libclient round trip, p50',
      value: median(at),
      unit: 'ms',
      n,
      target: { op: '<=', value: 100 },
    },
    {
      label: 'timeline of one hour (every service, limit 1,000), libclient round trip, p50',
      value: median(hour),
      unit: 'ms',
      n,
      target: { op: '<=', value: 100 },
    },
    { label: 'timeline of one hour (every service, limit 10,000: the whole hour), p50', value: median(whole), unit: 'ms', n },
  ];
}
