// upk trend [NAME…] --metric M --bucket 1h --since 7d [--until T] [--table | --chart]
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  ErrorCode,
  FLAP_RESTARTS,
  FLEET_TREND_BY,
  type FleetTrendBy,
  type FleetTrendResult,
  formatDuration,
  parseDuration,
  TREND_METRICS,
  UpkError,
  utcTime,
  type TrendMetric,
  type TrendResult,
  type TrendSeries,
} from '../../../libclient/index.js';
import { bucketsPerColumn, renderChart } from '../../shared/chart.js';
import type { Context } from '../context.js';
import { bytes, printJson, table } from '../output.js';
import { parseTime, readTime, sinceHelp, timeRange, UNTIL_HELP, type TimeArg } from '../time.js';

interface Options {
  metric: TrendMetric;
  bucket: number;
  since?: TimeArg;
  until?: TimeArg;
  table?: boolean;
  chart?: boolean;
  fleet?: boolean;
  by?: FleetTrendBy;
}

const parseBy = (text: string): FleetTrendBy => {
  const by = text.replace(/\s+/g, '') === 'service,host' ? 'host,service' : text.replace(/\s+/g, '');
  if (!(FLEET_TREND_BY as readonly string[]).includes(by))
    throw new InvalidArgumentError(`expected host, service or host,service, got ${JSON.stringify(text)}`);
  return by as FleetTrendBy;
};

const CHART_HEIGHT = 6;

const parseMetric = (text: string): TrendMetric => {
  if (!(TREND_METRICS as readonly string[]).includes(text))
    throw new InvalidArgumentError(`expected one of ${TREND_METRICS.join(', ')}, got ${JSON.stringify(text)}`);
  return text as TrendMetric;
};

const parseBucket = (text: string): number => {
  const ms = parseDuration(text);
  if (ms === null || ms < 60_000 || !Number.isInteger(ms))
    throw new InvalidArgumentError(`expected a bucket of at least a minute (15m, 1h, 1d), got ${JSON.stringify(text)}`);
  return ms;
};

/** A value of the metric, for people. */
export function formatValue(r: Pick<TrendResult, 'unit'>, v: number | null): string {
  if (v === null) return '-';
  switch (r.unit) {
    case 'count':
      return String(v);
    case 'percent':
      return `${v.toFixed(v >= 99.95 || v === 0 ? 0 : v < 10 ? 2 : 1)}%`;
    case 'seconds':
      return formatDuration(v * 1000);
    case 'bytes':
      return bytes(v);
  }
}

const WHAT: Record<TrendMetric, string> = {
  restarts: 'automatic restarts',
  failures: 'failures',
  failrate: 'failure rate (% of the runs that ended)',
  uptime: 'uptime',
  mtbf: 'mean time between failures',
  mttr: 'mean time to recovery',
  cpu: 'CPU (% of one core)',
  rss: 'memory (RSS, mean)',
  unhealthy: 'unhealthy time (% of the time)',
};

function summary(r: TrendResult, s: TrendSeries): string {
  const total = r.unit === 'count' ? `total ${formatValue(r, s.total)}` : `over the range ${formatValue(r, s.total)}`;
  const max = s.max !== undefined && s.max !== null ? `, highest ${formatValue(r, s.max)}` : '';
  return `${total}${max}`;
}

function flappingText(s: TrendSeries): string | null {
  const f = s.flapping;
  if (!f) return null;
  const holds = `${f.runaways} runaway hold${f.runaways === 1 ? '' : 's'}`;
  // `at` is when the burst began when the restarts flag it, else when the first runaway hold came.
  if (f.restarts >= FLAP_RESTARTS)
    return `flapping: ${f.restarts} restarts within ${formatDuration(f.windowMs)} from ${utcTime(f.at)}${f.runaways > 0 ? `; ${holds}` : ''}`;
  return `flapping: ${holds}, the first at ${utcTime(f.at)}`;
}

function printTable(r: TrendResult): void {
  const rows = r.series.flatMap((s) =>
    s.points.map((p) => [
      s.service,
      utcTime(p.start).slice(0, 16),
      formatValue(r, p.value),
      ...(r.metric === 'rss' ? [formatValue(r, p.max ?? null)] : []),
    ]),
  );
  process.stdout.write(table(['SERVICE', 'BUCKET (UTC)', r.metric.toUpperCase(), ...(r.metric === 'rss' ? ['HIGHEST'] : [])], rows));
  for (const s of r.series) {
    const flap = flappingText(s);
    if (flap) process.stdout.write(`${s.service}: ${flap}\n`);
  }
}

function printCharts(r: TrendResult): void {
  const width = Math.max(20, (process.stdout.columns ?? 80) - 12);
  const per = bucketsPerColumn(r.series[0]?.points.length ?? 0, width);
  const column = per === 1 ? '' : `; each column ${formatDuration(per * r.bucketMs)}`;
  process.stdout.write(
    `${WHAT[r.metric]} per ${formatDuration(r.bucketMs)}, ${utcTime(r.since).slice(0, 16)} to ${utcTime(r.until)}${column}\n`,
  );
  for (const s of r.series) {
    const flap = flappingText(s);
    process.stdout.write(`\n${s.service}: ${summary(r, s)}${flap ? `  ${flap.replace(/^flapping/, 'FLAPPING')}` : ''}\n`);
    const values = s.points.map((p) => p.value);
    if (values.every((v) => v === null)) {
      process.stdout.write('  no data in this range\n');
      continue;
    }
    if (r.unit === 'count' && values.every((v) => !v)) {
      process.stdout.write(`  no ${WHAT[r.metric]} in this range\n`);
      continue;
    }
    const lines = renderChart(values, {
      width,
      height: CHART_HEIGHT,
      merge: r.unit === 'count' ? 'sum' : 'mean',
      ...(r.unit === 'percent' && r.metric === 'uptime' ? { top: 100 } : {}),
      format: (v) => formatValue(r, r.unit === 'count' ? Math.round(v) : v),
      from: r.since.slice(5, 16).replace('T', ' '),
      to: r.until.slice(5, 16).replace('T', ' '),
    });
    process.stdout.write(lines.map((l) => `  ${l}`).join('\n') + '\n');
  }
}

export function registerTrend(program: Command, ctx: Context): void {
  program
    .command('trend')
    .argument('[name...]', 'services (default: all)')
    .option('-m, --metric <metric>', `one of ${TREND_METRICS.join(', ')}`, parseMetric, 'restarts' as TrendMetric)
    .addOption(
      new Option('-b, --bucket <duration>', 'bucket length: 15m, 1h, 1d (at least 1m)').argParser(parseBucket).default(3_600_000, '1h'),
    )
    .option('-s, --since <time>', sinceHelp('24h'), readTime)
    .option('-u, --until <time>', UNTIL_HELP, readTime)
    .option('--table', 'a table, even on a terminal')
    .option('--chart', 'charts, even when not on a terminal')
    .option('--fleet', "every host's, from the fleet's PostgreSQL database (--host H,…: only theirs; docs/fleet.md)")
    .option('--by <groups>', 'with --fleet: a series per host, per service, or per host and service (default)', parseBy)
    .description('a metric per service and time bucket, from the audit database; flags flapping services')
    .action((names: string[], opts: Options) => {
      if (opts.table && opts.chart) throw new UpkError(ErrorCode.BAD_REQUEST, '--table and --chart: choose one');
      if (opts.by && !opts.fleet) throw new UpkError(ErrorCode.BAD_REQUEST, '--by groups the fleet: with --fleet');
      if (opts.fleet) return fleetTrend(ctx, names, opts);
      return ctx.withClient(async (client) => {
        const { since, until } = timeRange(opts);
        const result = await client.trend({
          metric: opts.metric,
          bucket: opts.bucket,
          since: since ?? parseTime('24h'),
          ...(until === undefined ? {} : { until }),
          ...(names.length > 0 ? { services: names } : {}),
        });
        if (ctx.json) return printJson(result);
        if (result.series.length === 0) return void process.stdout.write('no services\n');
        if (opts.chart || (!opts.table && process.stdout.isTTY)) printCharts(result);
        else printTable(result);
      });
    });
}

/** `upk trend --fleet`: the same metric from the fleet database, a series per host, service, or both. */
async function fleetTrend(ctx: Context, names: string[], opts: Options): Promise<void> {
  const { since, until } = timeRange(opts);
  const result = await ctx.withFleet((fleet) =>
    fleet.trend({
      ...ctx.fleetHosts,
      metric: opts.metric,
      bucketMs: opts.bucket,
      since: since ?? parseTime('24h'),
      ...(until === undefined ? {} : { until }),
      ...(names.length > 0 ? { services: names } : {}),
      by: opts.by ?? 'host,service',
    }),
  );
  if (ctx.json) return printJson(result);
  if (result.series.length === 0) return void process.stdout.write('no services\n');
  if (opts.chart || (!opts.table && process.stdout.isTTY)) {
    // A chart per series, named by its host and service.
    const series = result.series.map((s) => ({
      ...s,
      service: [s.host, s.service].filter((x) => x !== null).join(' '),
      uuid: '',
      flapping: null,
    }));
    return printCharts({ ...result, series });
  }
  printFleetTable(result);
}

function printFleetTable(r: FleetTrendResult): void {
  const groups = [...(r.by === 'service' ? [] : ['HOST']), ...(r.by === 'host' ? [] : ['SERVICE'])];
  const rows = r.series.flatMap((s) =>
    s.points.map((p) => [
      ...(r.by === 'service' ? [] : [s.host ?? '-']),
      ...(r.by === 'host' ? [] : [s.service ?? '-']),
      utcTime(p.start).slice(0, 16),
      formatValue(r, p.value),
      ...(r.metric === 'rss' ? [formatValue(r, p.max ?? null)] : []),
    ]),
  );
  process.stdout.write(table([...groups, 'BUCKET (UTC)', r.metric.toUpperCase(), ...(r.metric === 'rss' ? ['HIGHEST'] : [])], rows));
}
