// upk events [NAME] [--type T] [--since TIME] [--limit N]
import type { Command } from 'commander';
import type { EventFilter, ServiceEvent } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson, table } from '../output.js';
import { parsePositiveInt, parseTime } from '../time.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').filter(Boolean)];

function detailText(e: ServiceEvent): string {
  if (!e.detail) return '';
  return Object.entries(e.detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export function registerEvents(program: Command, ctx: Context): void {
  program
    .command('events')
    .argument('[name]', 'only this service')
    .option('-t, --type <type>', 'only events of this type (repeat, or separate with commas)', collect)
    .option('-s, --since <time>', 'since a time: 90s, 15m, 2h, 7d, 1w ago, or ISO 8601', (v) => parseTime(v))
    .option('-n, --limit <n>', 'at most the newest N events (default 100)', parsePositiveInt)
    .description('events from the audit database, oldest first')
    .action((name: string | undefined, opts: { type?: string[]; since?: string; limit?: number }) =>
      ctx.withClient(async (client) => {
        const filter: EventFilter = { limit: opts.limit ?? 100 };
        if (name) filter.service = name;
        if (opts.type) filter.types = opts.type;
        if (opts.since) filter.since = opts.since;
        const events = await client.events(filter);
        if (ctx.json) return printJson(events);
        process.stdout.write(
          table(
            ['TIME', 'SERVICE', 'TYPE', 'PID', 'EXIT', 'DETAIL'],
            events.map((e) => [
              e.time,
              e.service,
              e.type,
              e.pid === null ? '-' : String(e.pid),
              e.signal ?? (e.code === null ? '-' : String(e.code)),
              detailText(e),
            ]),
          ),
        );
      }),
    );
}
