// upk events [NAME] [--type T] [--since TIME] [--until TIME] [--pid N] [--code N] [--signal S] [--grep TEXT] [--limit N] [--follow] [--csv]
import type { Command } from 'commander';
import {
  ErrorCode,
  EVENTS_QUERY_MAX,
  UpkError,
  type Client,
  type EventFilter,
  type FleetEvent,
  type ServiceEvent,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { columns, plain, printJson, printJsonPages } from '../output.js';
import { readTime, sinceHelp, timeRange, UNTIL_HELP, wholeNumber, type TimeArg } from '../time.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').filter(Boolean)];

const HEADER = ['TIME', 'SERVICE', 'TYPE', 'PID', 'EXIT', 'DETAIL'];
const CSV_HEADER = ['id', 'time', 'service', 'type', 'pid', 'code', 'signal', 'detail'];

/** Its detail as `key=value` pairs, as plain text (an output or a command line may hold terminal controls). */
function detailText(e: Pick<ServiceEvent, 'detail'>): string {
  return e.detail
    ? plain(
        Object.entries(e.detail)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' '),
      )
    : '';
}

function row(e: Omit<ServiceEvent, 'id'>): string[] {
  return [
    e.time,
    e.service,
    e.type,
    e.pid === null ? '-' : String(e.pid),
    e.signal ?? (e.code === null ? '-' : String(e.code)),
    detailText(e),
  ];
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(e: ServiceEvent): string {
  return (
    [e.id, e.time, e.service, e.type, e.pid, e.code, e.signal, e.detail ? JSON.stringify(e.detail) : null].map(csvField).join(',') + '\r\n'
  );
}

interface Options {
  type?: string[];
  since?: TimeArg;
  until?: TimeArg;
  pid?: number;
  code?: number;
  signal?: string;
  grep?: string;
  limit?: number;
  follow?: boolean;
  csv?: boolean;
  fleet?: boolean;
}

export function registerEvents(program: Command, ctx: Context): void {
  program
    .command('events')
    .argument('[name]', 'only this service')
    .option('-t, --type <type>', 'only events of this type (repeat, or separate with commas)', collect)
    .option('-s, --since <time>', sinceHelp(), readTime)
    .option('-u, --until <time>', UNTIL_HELP, readTime)
    .option('--pid <pid>', 'only events of this pid', wholeNumber(1))
    .option('--code <code>', 'only events with this exit code', wholeNumber(0, 255))
    .option('--signal <signal>', 'only events with this signal (KILL, SIGKILL)')
    .option('-g, --grep <text>', 'only events whose detail contains this text (any letter case)')
    .option('-n, --limit <n>', 'at most the newest N events (default 100)', wholeNumber(1, EVENTS_QUERY_MAX))
    .option('-f, --follow', 'then print events as they happen (NDJSON with --json), until interrupted')
    .option('--csv', 'print CSV (RFC 4180), for spreadsheets')
    .option('--fleet', "every host's events, from the fleet's PostgreSQL database (--host H,…: only theirs; docs/fleet.md)")
    .description('events from the audit database, oldest first')
    .action((name: string | undefined, opts: Options) => {
      if (opts.csv && ctx.json) throw new UpkError(ErrorCode.BAD_REQUEST, '--csv and --json: choose one');
      if (opts.follow && opts.until) throw new UpkError(ErrorCode.BAD_REQUEST, '--follow and --until: a followed stream has no end');
      const filter = eventFilter(name, opts);
      if (opts.fleet) return fleetEvents(ctx, filter, opts);
      return ctx.withClient(async (client) => {
        // Where following resumes: after the newest event of all, as of before the query below.
        const head = opts.follow ? ((await client.events({ limit: 1 }))[0]?.id ?? 0) : 0;
        // JSON and CSV are printed page by page as they come; a table needs every row for its widths.
        if (!opts.follow && ctx.json) return printJsonPages(client.eventPages(filter));
        let last = 0;
        if (opts.csv || (opts.follow && ctx.json)) {
          if (opts.csv) process.stdout.write(CSV_HEADER.join(',') + '\r\n');
          const print = (e: ServiceEvent): void => void process.stdout.write(opts.csv ? csvRow(e) : JSON.stringify(e) + '\n');
          for await (const page of client.eventPages(filter)) {
            process.stdout.write(page.map((e) => (opts.csv ? csvRow(e) : JSON.stringify(e) + '\n')).join(''));
            last = page.at(-1)?.id ?? last;
          }
          if (opts.follow) await follow(client, filter, Math.max(head, last), print);
          return;
        }
        const events = await client.events(filter);
        // Followed rows keep the columns of the stored ones (a longer cell moves only its own row).
        const line = columns(HEADER, events.map(row));
        const print = (e: ServiceEvent): void => void process.stdout.write(line(row(e)) + '\n');
        process.stdout.write(line(HEADER) + '\n');
        for (const e of events) print(e);
        if (opts.follow) await follow(client, filter, Math.max(head, events.at(-1)?.id ?? 0), print);
      });
    });
}

function eventFilter(name: string | undefined, opts: Options): EventFilter {
  const filter: EventFilter = { limit: opts.limit ?? 100 };
  if (name) filter.service = name;
  if (opts.type) filter.types = opts.type;
  const { since, until } = timeRange(opts);
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  if (opts.pid !== undefined) filter.pid = opts.pid;
  if (opts.code !== undefined) filter.code = opts.code;
  if (opts.signal !== undefined) filter.signal = opts.signal;
  if (opts.grep !== undefined) filter.text = opts.grep;
  return filter;
}

/** `upk events --fleet`: the same filters over the fleet database, a HOST column first (`host` in JSON and CSV). */
async function fleetEvents(ctx: Context, filter: EventFilter, opts: Options): Promise<void> {
  if (opts.follow) throw new UpkError(ErrorCode.BAD_REQUEST, '--follow and --fleet: the fleet database is read, not followed');
  const { afterId: _none, ...rest } = filter;
  const events = await ctx.withFleet((fleet) => fleet.events({ ...rest, ...ctx.fleetHosts }));
  if (ctx.json) return printJson(events);
  if (opts.csv) {
    const csv = (e: FleetEvent): string =>
      [e.host, e.time, e.service, e.type, e.pid, e.code, e.signal, e.detail ? JSON.stringify(e.detail) : null].map(csvField).join(',') +
      '\r\n';
    process.stdout.write(['host', ...CSV_HEADER.slice(1)].join(',') + '\r\n' + events.map(csv).join(''));
    return;
  }
  const rows = events.map((e) => [e.host, ...row(e)]);
  const line = columns(['HOST', ...HEADER], rows);
  process.stdout.write([['HOST', ...HEADER], ...rows].map((r) => line(r) + '\n').join(''));
}

async function follow(client: Client, filter: EventFilter, sinceId: number, print: (e: ServiceEvent) => void): Promise<void> {
  // The subscription takes the filter's pid, code, signal and text as they are.
  const subscription = await client.subscribe({ ...filter, sinceId, ...(filter.service ? { services: [filter.service] } : {}) });
  process.once('SIGINT', () => subscription.close());
  process.once('SIGTERM', () => subscription.close());
  for await (const notice of subscription) {
    if (notice.kind === 'event') print(notice.event);
    else if (notice.kind === 'controller') {
      const gone =
        notice.state === 'lost'
          ? notice.reason === 'shutdown'
            ? 'shut down (every service stopped); waiting for one'
            : 'went away; waiting for it'
          : 'is back';
      process.stderr.write(`upk: the controller ${gone}\n`);
    }
  }
}
