// upk timeline [NAME…] [--since TIME] [--until TIME] [--limit N]: what happened, all services together:
// events, configuration changes (the keys changed) and client requests (who asked, the outcome),
// interleaved in time order, in bursts (entries less than 10 s apart), each under its own heading.
import type { Command } from 'commander';
import {
  TIMELINE_DEFAULT,
  TIMELINE_MAX,
  describeEvent,
  formatDuration,
  utcTime,
  type TimelineEntry,
  type TimelineOptions,
  type TimelineResult,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';
import { parseTime, wholeNumber } from '../time.js';
import { plain, requestCell } from './audit.js';

/** The default of --since: an hour ago. */
const DEFAULT_SINCE = '1h';

/** What an entry says: an event in words, a change with its keys, a request with who asked and how it ended. */
export function entryWords(e: TimelineEntry): string {
  switch (e.kind) {
    case 'event':
      return plain(describeEvent(e.event));
    case 'config': {
      const c = e.change;
      const keys = c.keys === null ? (c.detail ?? '') : c.keys.length > 0 ? c.keys.join(', ') : '';
      return plain(`configuration ${c.change} (${c.trigger})${keys === '' ? '' : `: ${keys}`}`);
    }
    case 'request': {
      const r = e.request;
      const who = [r.client, r.requester === null ? null : `for ${r.requester}`, r.user === null ? null : `user ${r.user}`]
        .filter((x) => x !== null)
        .join(', ');
      const result = r.ok === null ? 'not ended' : `${r.ok ? 'ok' : 'failed'}${r.outcome ? `: ${r.outcome}` : ''}`;
      return `${requestCell(r)} asked by ${plain(who)} → ${plain(result, 120)}`;
    }
  }
}

/** The timeline in lines: each burst a heading (its span, entries, services), then its entries (time, service, what). */
export function timelineLines(t: TimelineResult): string[] {
  const width = Math.max(1, ...t.entries.map((e) => (e.service ?? '-').length));
  const lines: string[] = [];
  for (const b of t.bursts) {
    const span = b.from === b.to ? utcTime(b.from) : `${utcTime(b.from)} – ${b.to.slice(11, 19)} UTC`;
    const took = Date.parse(b.to) - Date.parse(b.from);
    const what = `${b.count} ${b.count === 1 ? 'entry' : 'entries'}${took > 0 ? ` in ${formatDuration(took)}` : ''}`;
    if (lines.length > 0) lines.push('');
    lines.push(`${span}  ${what}${b.services.length > 0 ? `: ${b.services.join(', ')}` : ''}`);
    for (const e of t.entries.slice(b.first, b.first + b.count)) {
      lines.push(`  ${e.time.slice(11, 23)}  ${(e.service ?? '-').padEnd(width)}  ${entryWords(e)}`);
    }
  }
  if (t.truncated)
    lines.push(
      '',
      `(cut at ${t.entries.length} entries: ask again with --since ${t.entries.at(-1)?.time ?? t.since}, or a larger --limit)`,
    );
  return lines;
}

interface Options {
  since?: string;
  until?: string;
  limit?: number;
}

export function registerTimeline(program: Command, ctx: Context): void {
  program
    .command('timeline')
    .argument('[name...]', 'only these services (default: every one, and the requests about none)')
    .option('-s, --since <time>', 'since a time: 90s, 15m, 2h, 7d, 1w ago, 02:13, or ISO 8601 (default: an hour ago)', (v) => parseTime(v))
    .option('-u, --until <time>', 'until a time (as --since; default: now)', (v) => parseTime(v))
    .option('-n, --limit <n>', `at most the oldest N entries (default ${TIMELINE_DEFAULT})`, wholeNumber(1, TIMELINE_MAX))
    .description('what happened, all services together: events, configuration changes and client requests in time order, in bursts')
    .action((names: string[], opts: Options) =>
      ctx.withClient(async (client) => {
        const options: TimelineOptions = { since: opts.since ?? parseTime(DEFAULT_SINCE) };
        if (opts.until) options.until = opts.until;
        if (opts.limit !== undefined) options.limit = opts.limit;
        if (names.length > 0) options.services = names;
        const t = await client.timeline(options);
        if (ctx.json) return printJson(t);
        if (t.entries.length === 0) {
          process.stdout.write(`nothing recorded from ${utcTime(t.since)} to ${utcTime(t.until)}\n`);
          return;
        }
        process.stdout.write(timelineLines(t).join('\n') + '\n');
      }),
    );
}
