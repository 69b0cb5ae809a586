// upk correlate [NAME] [--all] [-w 30s] [-s 7d] [-u TIME] [--failures N] [-n N] [--fleet]: what fails
// together. Around NAME's last failures, the events of every other service within the window, by kind,
// against chance; without NAME (or with --all), the pairs of services whose failures co-occur
// (docs/correlation.md). With --fleet, read from the fleet's PostgreSQL database: NAME on the one host
// --host names, or HOST/NAME against the services of the hosts --host names (docs/fleet.md).
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  CORRELATION_FAILURES,
  CORRELATION_FAILURES_MAX,
  CORRELATION_LIMIT,
  CORRELATION_LIMIT_MAX,
  CORRELATION_MIN_FAILURES,
  CORRELATION_WINDOW_MAX_MS,
  ErrorCode,
  UpkError,
  formatDuration,
  formatScore,
  parseDuration,
  oneSide,
  sidesOf,
  utcTime,
  type CorrelateOptions,
  type Correlation,
  type CorrelationResult,
  type FleetCorrelateOptions,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson, table } from '../output.js';
import { parseTime, readTime, sinceHelp, timeRange, UNTIL_HELP, wholeNumber, type TimeArg } from '../time.js';

/** A window as people type it (`30s`, `2m`, `500ms`): from 1 ms to a day. */
export function parseWindow(text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms < 1 || ms > CORRELATION_WINDOW_MAX_MS)
    throw new InvalidArgumentError(`expected a window from 1ms to 1d (30s, 2m, 500ms), got ${JSON.stringify(text)}`);
  return Math.round(ms);
}

const figure = (x: number): string => String(Number(x.toPrecision(2)));

/** When the other's events came, against the failures: the median offset when all came on one side, else how many on each. */
function offsetCell(c: Correlation): string {
  return oneSide(c) ?? sidesOf(c) ?? '-';
}

function row(c: Correlation, fleet: boolean): string[] {
  return [
    ...(fleet ? [c.service] : []),
    c.other + (c.prerequisite ? ' (prerequisite)' : ''),
    ...(fleet ? [] : [c.kind]),
    `${c.together} of ${c.failures}`,
    `${figure(c.chance * 100)}%`,
    figure(c.expected),
    c.lift === null ? '-' : c.lift.toFixed(1),
    formatScore(c.score) + (c.significant ? ' *' : ''),
    offsetCell(c),
  ];
}

/** What `upk correlate` prints for people. */
export function correlationText(r: CorrelationResult): string {
  const span = `from ${utcTime(r.since)} to ${utcTime(r.until)}, window ±${formatDuration(r.windowMs)}`;
  const fleet = r.service === null;
  const head = fleet
    ? `pairs of services whose failures co-occur, ${span}`
    : `${r.service}: ${r.failures} failure${r.failures === 1 ? '' : 's'} counted, ${span}`;
  const lines = [head];
  if (r.tooFew) {
    lines.push(
      fleet
        ? `(no service failed ${CORRELATION_MIN_FAILURES} times: too few failures for the figures to mean anything)`
        : `(fewer than ${CORRELATION_MIN_FAILURES} failures: too few for the figures to mean anything)`,
    );
  }
  if (r.correlations.length === 0) {
    if (fleet) lines.push('no two services failed within the window of each other');
    else if (r.failures > 0) lines.push(`no event of another service within ±${formatDuration(r.windowMs)} of these failures`);
    return lines.join('\n') + '\n';
  }
  const header = [
    ...(fleet ? ['SERVICE'] : []),
    'OTHER',
    ...(fleet ? [] : ['EVENT']),
    'TOGETHER',
    'CHANCE',
    'EXPECTED',
    'LIFT',
    'P',
    'OFFSET',
  ];
  const body = table(
    header,
    r.correlations.map((c) => row(c, fleet)),
  );
  const note = r.correlations.some((c) => c.significant) ? '* P < 0.05 with at least 2 failures together: unlikely by chance alone\n' : '';
  return `${lines.join('\n')}\n${body}${note}`;
}

interface Options {
  all?: boolean;
  window: number;
  since?: TimeArg;
  until?: TimeArg;
  failures?: number;
  limit?: number;
  fleet?: boolean;
}

export function registerCorrelate(program: Command, ctx: Context): void {
  program
    .command('correlate')
    .argument('[name]', 'the service whose failures to look around (default: every pair of services)')
    .option('--all', 'every pair of services whose failures co-occur (as without NAME)')
    .addOption(
      new Option('-w, --window <duration>', "how far before or after a failure another service's event counts")
        .argParser(parseWindow)
        .default(30_000, '30s'),
    )
    .option('-s, --since <time>', sinceHelp('7d'), readTime)
    .option('-u, --until <time>', UNTIL_HELP, readTime)
    .option(
      '--failures <n>',
      `how many of the last failures count (default ${CORRELATION_FAILURES})`,
      wholeNumber(1, CORRELATION_FAILURES_MAX),
    )
    .option('-n, --limit <n>', `the strongest N rows (default ${CORRELATION_LIMIT})`, wholeNumber(1, CORRELATION_LIMIT_MAX))
    .option(
      '--fleet',
      "from the fleet's PostgreSQL database: NAME on the host --host names, or HOST/NAME against the services of the hosts --host names (docs/fleet.md)",
    )
    .description(
      "what fails together: the events of other services near a service's failures, against chance; or the pairs of services whose failures co-occur",
    )
    .action((name: string | undefined, opts: Options) => {
      // Checked once connected, as always: the options, then the answer.
      const asked = (): CorrelateOptions => {
        if (name !== undefined && opts.all) throw new UpkError(ErrorCode.BAD_REQUEST, 'NAME and --all: choose one');
        const { since, until } = timeRange(opts);
        return {
          window: opts.window,
          since: since ?? parseTime('7d'),
          ...(name === undefined ? {} : { service: name }),
          ...(until === undefined ? {} : { until }),
          ...(opts.failures === undefined ? {} : { failures: opts.failures }),
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
        };
      };
      const print = (result: CorrelationResult): void => {
        if (ctx.json) return printJson(result);
        process.stdout.write(correlationText(result));
      };
      if (opts.fleet) return ctx.withFleet(async (fleet) => print(await fleet.correlate(fleetAsk(asked(), ctx.fleetHosts.hosts))));
      return ctx.withClient(async (client) => print(await client.correlate(asked())));
    });
}

/**
 * `--fleet`: NAME is on the one host --host names (the services compared: that host's); HOST/NAME is
 * on HOST, compared with the services of the hosts --host names (default: HOST's). Without NAME, the
 * pairs of the hosts --host names (default: every host).
 */
function fleetAsk(asked: CorrelateOptions, hosts: string[] | undefined): FleetCorrelateOptions {
  const ask: FleetCorrelateOptions = { ...asked, ...(hosts === undefined ? {} : { hosts }) };
  if (asked.service !== undefined && !asked.service.includes('/') && hosts?.length === 1) ask.host = hosts[0]!;
  return ask;
}
