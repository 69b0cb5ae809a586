// What a benchmark produces (figures) and how figures are printed: one line each, and the final table.

/** A target the figure is compared with, for this 2-core machine; a miss is printed, never a failure. */
export interface Target {
  op: '<=' | '>=';
  value: number;
}

export interface Figure {
  label: string;
  value: number;
  unit: string;
  /** How many samples the value comes from, in words when a count alone would mislead ("50 buddies"). */
  n: number | string;
  /** Absent: informational. */
  target?: Target;
}

export interface BenchContext {
  quick: boolean;
  /** A progress or context line, printed indented under the benchmark's title. */
  note(line: string): void;
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return `— ${unit}`;
  const digits = Math.abs(value) >= 1000 ? 0 : Math.abs(value) >= 100 ? 1 : 2;
  return `${value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${unit}`;
}

export function formatTarget(f: Figure): string {
  if (!f.target) return 'informational';
  return `${f.target.op === '<=' ? '≤' : '≥'} ${f.target.value.toLocaleString('en-US')} ${f.unit}`;
}

/** "ok" or "MISSED" against the target; "" when there is none. */
export function verdict(f: Figure): string {
  if (!f.target) return '';
  const ok = f.target.op === '<=' ? f.value <= f.target.value : f.value >= f.target.value;
  return ok ? 'ok' : 'MISSED';
}

export function formatFigure(f: Figure): string {
  const target = f.target ? `target ${formatTarget(f)}: ${verdict(f)}` : 'informational';
  return `${f.label}: ${formatValue(f.value, f.unit)}  (N=${f.n}; ${target})`;
}

/** Rows of cells as an aligned text table with a header rule. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
