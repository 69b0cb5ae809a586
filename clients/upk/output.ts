// How upk prints: aligned tables for people, JSON for programs (durations, sizes and states: shared/format.ts).
import type { OutcomeItem, ServiceStatus } from '../../libclient/index.js';
import { bytes, describeLastExit, duration, nextRunCell, stateCell } from '../shared/format.js';

export {
  beforeHistory,
  bytes,
  counted,
  describeLastExit,
  duration,
  healthLine,
  inDesiredState,
  nextRunCell,
  plain,
  previousLine,
  problemLines,
  stateCell,
  unsupervisedLine,
} from '../shared/format.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** One line per service: successes (with the pid) on standard output, failures on standard error; a reload's output after its line. */
export function printOutcomes(items: OutcomeItem[]): void {
  for (const i of items) {
    const pid = i.status?.pid ? ` (pid ${i.status.pid})` : '';
    const out = `${i.service}: ${i.ok ? 'ok' : 'FAILED'}: ${i.message}${i.ok ? pid : ''}\n`;
    (i.ok ? process.stdout : process.stderr).write(out);
    if (i.action?.output) process.stdout.write(i.action.output);
  }
}

/** Prints a JSON array (as printJson would) whose items come in pages: none is held longer than its page. */
export async function printJsonPages(pages: AsyncIterable<unknown[]>): Promise<void> {
  let first = true;
  for await (const page of pages) {
    let text = '';
    for (const item of page) {
      text += (first ? '[\n' : ',\n') + JSON.stringify(item, null, 2).replace(/^/gm, '  ');
      first = false;
    }
    process.stdout.write(text);
  }
  process.stdout.write(first ? '[]\n' : '\n]\n');
}

/** A line of aligned columns, as wide as the widest of `header` and `rows` (the last column unpadded). */
export function columns(header: string[], rows: string[][]): (cells: string[]) => string {
  const widths = header.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  return (cells) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
}

export function table(header: string[], rows: string[][]): string {
  const line = columns(header, rows);
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** The table of `upk list` and `upk status`; a NEXT RUN column when a service has a Schedule or CronRestart on. */
export function statusTable(statuses: ServiceStatus[], now = Date.now()): string {
  const { header, rows } = statusRows(statuses, now);
  return table(header, rows);
}

/** statusTable's header and rows (`upk list --hosts` puts a HOST column before them). */
export function statusRows(statuses: ServiceStatus[], now = Date.now()): { header: string[]; rows: string[][] } {
  const next = statuses.some((s) => s.nextRun !== undefined);
  const header = ['NAME', 'STATE', 'DESIRED', 'PID', 'UPTIME', 'RESTARTS', 'CPU', 'MEM', 'LAST EXIT', ...(next ? ['NEXT RUN'] : [])];
  const rows = statuses.map((s) => [
    s.name,
    stateCell(s),
    s.desired,
    s.pid === null ? '-' : String(s.pid),
    s.started ? duration(now - Date.parse(s.started)) : '-',
    String(s.restarts),
    s.usage ? `${s.usage.cpu.toFixed(1)}%` : '-',
    s.usage ? bytes(s.usage.rss) : '-',
    describeLastExit(s.lastExit, now),
    ...(next ? [s.nextRun ? nextRunCell(s.nextRun, now) : '-'] : []),
  ]);
  return { header, rows };
}

/** A word as a shell reads it back unchanged: as it is when plain, else in single quotes (for commands upk prints). */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
