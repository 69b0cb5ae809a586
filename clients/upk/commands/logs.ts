// upk logs [NAME…|all] [-f] [-n N] [--stdout | --stderr] [--timestamps]: services' output, its last lines, then
// (with -f) every line as it is written. One service without -f or --timestamps: the controller's tail, as
// before; otherwise lines prefixed with their service and stream, read by libclient (followLogs).
import type { Command } from 'commander';
import { ErrorCode, LOG_TAIL_MAX_LINES, UpkError, type Client, type LogLine, type LogStream } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';
import { wholeNumber } from '../time.js';

interface Options {
  lines?: number;
  stdout?: boolean;
  stderr?: boolean;
  follow?: boolean;
  timestamps?: boolean;
}

const DEFAULT_LINES = 20;
/** Service names take these colours, by a hash of the name, so that a service keeps its colour. */
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94];

export function registerLogs(program: Command, ctx: Context): void {
  program
    .command('logs')
    .argument('[name...]', 'services, or all (the default)')
    .option(
      '-n, --lines <n>',
      `lines of history of each stream (default ${DEFAULT_LINES}, at most ${LOG_TAIL_MAX_LINES}; 0 with -f: only new lines)`,
      wholeNumber(0, LOG_TAIL_MAX_LINES),
    )
    .option('-f, --follow', 'then print each line as it is written, until interrupted')
    .option('--timestamps', 'begin each line with when it was written (recorded with LogTimestamps, else when upk read it)')
    .option('--stdout', 'only standard output')
    .option('--stderr', 'only standard error')
    .description(
      "services' standard output and error (log/stdout, log/stderr, or their Redirect* files): the last lines, and with -f every new one",
    )
    .action((names: string[], opts: Options) => {
      if (opts.stdout && opts.stderr) throw new UpkError(ErrorCode.BAD_REQUEST, '--stdout and --stderr: choose one, or neither for both');
      const streams: LogStream[] = opts.stdout ? ['stdout'] : opts.stderr ? ['stderr'] : ['stdout', 'stderr'];
      if (names.length === 1 && names[0] !== 'all' && !opts.follow && !opts.timestamps) {
        if (opts.lines === 0) throw new UpkError(ErrorCode.BAD_REQUEST, '-n 0 prints nothing without -f');
        // One name of one service: its files, each after a line naming it. A name of several (a service
        // with Instances) gives their lines, each prefixed, as for several names.
        return ctx.withClient(async (client) => {
          if ((await client.status([names[0]!])).length === 1) return printTail(client, names[0]!, streams, opts.lines, ctx.json);
          return printLines(client, names, streams, opts, ctx.json);
        });
      }
      return ctx.withClient((client) => printLines(client, names.length > 0 ? names : ['all'], streams, opts, ctx.json));
    });
}

/** One service's last lines from the controller: each stream after a line naming its file, or the LogTail record. */
async function printTail(client: Client, name: string, streams: LogStream[], lines: number | undefined, json: boolean): Promise<void> {
  const tail = await client.logs(name, lines === undefined ? {} : { lines });
  if (json) return printJson(tail);
  for (const s of streams) {
    if (streams.length > 1) process.stdout.write(`== ${s}: ${tail[s].file}\n`);
    process.stdout.write(tail[s].lines.map((l) => `${l}\n`).join(''));
  }
}

/** Every line prefixed with its service and stream (or NDJSON), until interrupted when following. */
async function printLines(client: Client, names: string[], streams: LogStream[], opts: Options, json: boolean): Promise<void> {
  const stop = new AbortController();
  const end = (): void => stop.abort();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  const color = process.stdout.isTTY === true && !(process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '');
  const format = json
    ? (l: LogLine) => JSON.stringify({ service: l.service, stream: l.stream, time: l.time, line: l.line })
    : formatter(color, opts.timestamps === true);
  try {
    const lines = client.followLogs(names, {
      lines: opts.lines ?? DEFAULT_LINES,
      follow: opts.follow === true,
      streams,
      signal: stop.signal,
    });
    for await (const l of lines) {
      if (stop.signal.aborted) break;
      process.stdout.write(`${format(l)}\n`);
    }
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}

/** `web    stdout | text`, with the time first (--timestamps), in colours on a terminal. */
function formatter(color: boolean, timestamps: boolean): (l: LogLine) => string {
  let width = 0;
  const paint = (code: number, text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  return (l) => {
    width = Math.max(width, l.service.length);
    const service = paint(PALETTE[hash(l.service) % PALETTE.length]!, l.service.padEnd(width));
    const stream = l.stream === 'stderr' ? paint(31, 'stderr') : paint(2, 'stdout');
    const time = timestamps ? `${paint(2, l.time)} ` : '';
    return `${time}${service} ${stream} ${paint(2, '|')} ${l.line}`;
  };
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}
