// A small ASCII column chart (upk trend, uptop's detail pane): one column per bucket, or per few when they do not fit.

export interface ChartOptions {
  /** Columns available for the bars. */
  width: number;
  /** Rows of bars. */
  height: number;
  /** How buckets that share a column combine: counts add up, rates and levels average. */
  merge: 'sum' | 'mean';
  /** The y axis: a fixed top (100 for percentages), or the highest value. */
  top?: number;
  /** Formats an axis value. */
  format: (v: number) => string;
  /** Labels under the first and the last column. */
  from: string;
  to: string;
}

/** How many of `count` buckets share a column so that they fit `width` columns. */
export const bucketsPerColumn = (count: number, width: number): number => Math.max(1, Math.ceil(count / Math.max(1, width)));

/** Buckets combined so that they fit `width` columns; returns the columns and how many buckets each holds. */
export function fitColumns(
  values: (number | null)[],
  width: number,
  merge: ChartOptions['merge'],
): { columns: (number | null)[]; per: number } {
  const per = bucketsPerColumn(values.length, width);
  const columns: (number | null)[] = [];
  for (let i = 0; i < values.length; i += per) {
    const group = values.slice(i, i + per).filter((v): v is number => v !== null);
    if (group.length === 0) columns.push(null);
    else {
      const sum = group.reduce((a, b) => a + b, 0);
      columns.push(merge === 'sum' ? sum : sum / group.length);
    }
  }
  return { columns, per };
}

/** The chart's lines: bars of `#`, a y axis labelled with the top and 0, an x axis (`.` where a bucket has no value). */
export function renderChart(values: (number | null)[], o: ChartOptions): string[] {
  const { columns } = fitColumns(values, o.width, o.merge);
  const highest = Math.max(0, ...columns.filter((v): v is number => v !== null));
  const top = o.top ?? highest;
  const topLabel = o.format(top);
  const pad = Math.max(topLabel.length, 1);
  const lines: string[] = [];
  for (let row = o.height; row >= 1; row--) {
    const bar = columns.map((v) => {
      if (v === null || top <= 0) return ' ';
      // A value above zero always shows at least one mark.
      const level = v <= 0 ? 0 : Math.max(1, Math.round((v / top) * o.height));
      return level >= row ? '#' : ' ';
    });
    const label = row === o.height ? topLabel.padStart(pad) : ' '.repeat(pad);
    lines.push(`${label} |${bar.join('')}`.trimEnd());
  }
  lines.push(`${'0'.padStart(pad)} +${columns.map((v) => (v === null ? '.' : '-')).join('')}`);
  const span = columns.length;
  const under = o.to.length + o.from.length + 1 <= span ? `${o.from}${' '.repeat(span - o.from.length - o.to.length)}${o.to}` : o.from;
  lines.push(`${' '.repeat(pad + 2)}${under}`);
  return lines;
}
