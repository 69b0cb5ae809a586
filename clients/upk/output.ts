// How upk prints: aligned tables for people, JSON for programs (durations, sizes and states: shared/format.ts).
import type { ServiceStatus } from '../../libclient/index.js';
import { bytes, describeLastExit, duration, stateCell } from '../shared/format.js';

export { bytes, describeLastExit, duration, inDesiredState, stateCell } from '../shared/format.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Columns padded to the widest cell; the last column is not padded. */
/** A line of aligned columns, as wide as the widest of `header` and `rows` (the last column unpadded). */
export function columns(header: string[], rows: string[][]): (cells: string[]) => string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
}

export function table(header: string[], rows: string[][]): string {
  const line = columns(header, rows);
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function statusTable(statuses: ServiceStatus[], now = Date.now()): string {
  return table(
    ['NAME', 'STATE', 'DESIRED', 'PID', 'UPTIME', 'RESTARTS', 'CPU', 'MEM', 'LAST EXIT'],
    statuses.map((s) => [
      s.name,
      stateCell(s),
      s.desired,
      s.pid === null ? '-' : String(s.pid),
      s.started ? duration(now - Date.parse(s.started)) : '-',
      String(s.restarts),
      s.usage ? `${s.usage.cpu.toFixed(1)}%` : '-',
      s.usage ? bytes(s.usage.rss) : '-',
      describeLastExit(s.lastExit, now),
    ]),
  );
}
