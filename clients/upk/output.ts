// How upk prints: aligned tables for people, JSON for programs, durations in short words.
import type { ExitInfo, ServiceStatus } from '../../libclient/index.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Columns padded to the widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** 3d4h, 5m12s, 800ms. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  const units: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [size, name] of units) {
    if (rest >= size || (parts.length > 0 && parts.length < 2)) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      if (parts.length < 2 && (n > 0 || parts.length > 0)) parts.push(`${n}${name}`);
    }
  }
  return parts.join('') || '0s';
}

export function describeLastExit(exit: ExitInfo | null, now = Date.now()): string {
  if (!exit) return '-';
  const how = exit.signal ? exit.signal : exit.code !== null ? `code ${exit.code}` : 'unknown';
  return `${how}, ${duration(now - Date.parse(exit.at))} ago`;
}

/** A state shown with a `!` when it is not what is wanted. */
export function stateCell(s: ServiceStatus): string {
  return inDesiredState(s) ? s.state : `${s.state}!`;
}

export function inDesiredState(s: ServiceStatus): boolean {
  return s.desired === 'running' ? s.state === 'running' : s.state === 'stopped';
}

/** 512 → "512B", 45613056 → "43.5M", 3.2e9 → "3.0G" (binary units, as top prints). */
export function bytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(v < 100 ? 1 : 0)}${units[i]}`;
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
