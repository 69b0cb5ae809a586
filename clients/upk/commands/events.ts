// upk events [NAME] [--type T] [--since TIME] [--limit N] [--follow]
import type { Command } from 'commander';
import type { Client, EventFilter, ServiceEvent } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson, table } from '../output.js';
import { parsePositiveInt, parseTime } from '../time.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').filter(Boolean)];

const HEADER = ['TIME', 'SERVICE', 'TYPE', 'PID', 'EXIT', 'DETAIL'];

function row(e: ServiceEvent): string[] {
  const detail = e.detail
    ? Object.entries(e.detail)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
    : '';
  return [e.time, e.service, e.type, e.pid === null ? '-' : String(e.pid), e.signal ?? (e.code === null ? '-' : String(e.code)), detail];
}

interface Options {
  type?: string[];
  since?: string;
  limit?: number;
  follow?: boolean;
}

export function registerEvents(program: Command, ctx: Context): void {
  program
    .command('events')
    .argument('[name]', 'only this service')
    .option('-t, --type <type>', 'only events of this type (repeat, or separate with commas)', collect)
    .option('-s, --since <time>', 'since a time: 90s, 15m, 2h, 7d, 1w ago, or ISO 8601', (v) => parseTime(v))
    .option('-n, --limit <n>', 'at most the newest N events (default 100)', parsePositiveInt)
    .option('-f, --follow', 'then print events as they happen (NDJSON with --json), until interrupted')
    .description('events from the audit database, oldest first')
    .action((name: string | undefined, opts: Options) =>
      ctx.withClient(async (client) => {
        const filter: EventFilter = { limit: opts.limit ?? 100 };
        if (name) filter.service = name;
        if (opts.type) filter.types = opts.type;
        if (opts.since) filter.since = opts.since;
        // Where following resumes: after the newest event of all, as of before the query below.
        const head = opts.follow ? ((await client.events({ limit: 1 }))[0]?.id ?? 0) : 0;
        const events = await client.events(filter);
        if (!opts.follow) {
          if (ctx.json) return printJson(events);
          process.stdout.write(table(HEADER, events.map(row)));
          return;
        }
        const print = (e: ServiceEvent): void => {
          process.stdout.write(ctx.json ? JSON.stringify(e) + '\n' : table(HEADER, [row(e)]).split('\n')[1] + '\n');
        };
        if (!ctx.json) process.stdout.write(table(HEADER, events.map(row)).split('\n')[0] + '\n');
        events.forEach(print);
        await follow(client, name, opts, Math.max(head, events.at(-1)?.id ?? 0), print);
      }),
    );
}

async function follow(client: Client, name: string | undefined, opts: Options, sinceId: number, print: (e: ServiceEvent) => void): Promise<void> {
  const subscription = await client.subscribe({
    sinceId,
    ...(name ? { services: [name] } : {}),
    ...(opts.type ? { types: opts.type } : {}),
  });
  process.once('SIGINT', () => subscription.close());
  process.once('SIGTERM', () => subscription.close());
  for await (const notice of subscription) {
    if (notice.kind === 'event') print(notice.event);
    else if (notice.kind === 'controller') process.stderr.write(`upk: the controller ${notice.state === 'lost' ? 'went away; waiting for it' : 'is back'}\n`);
  }
}
