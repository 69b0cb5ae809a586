// upk timeline [NAME…] [--since TIME] [--until TIME] [--limit N] [--after CURSOR]: what happened, all
// services together: events, configuration changes (the keys changed) and client requests (who asked,
// the outcome), interleaved in time order, in bursts (entries less than 10 s apart), each under its own
// heading; a page at a time when cut at the limit.
import type { Command } from 'commander';
import {
  TIMELINE_DEFAULT,
  TIMELINE_MAX,
  describeEvent,
  formatDuration,
  utcTime,
  ErrorCode,
  UpkError,
  type FleetTimelineEntry,
  type FleetTimelineResult,
  type TimelineEntry,
  type TimelineOptions,
  type TimelineResult,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { plain, printJson } from '../output.js';
import { parseTime, readTime, sinceHelp, timeRange, UNTIL_HELP, wholeNumber, type TimeArg } from '../time.js';
import { requestCell, serviceCell } from './audit.js';

/** The default of --since: an hour ago. */
const DEFAULT_SINCE = '1h';

/** A host's entry, or the fleet's (with its host). */
type AnyEntry = TimelineEntry | FleetTimelineEntry;

/** What an entry says: an event in words, a change with its keys, a request with who asked and how it ended. */
export function entryWords(e: AnyEntry): string {
  switch (e.kind) {
    case 'event':
      return plain(describeEvent({ id: 0, ...e.event }));
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

/** The service column: the entry's service; for a request about no one service, as `upk audit` marks it (serviceCell). */
const serviceOf = (e: AnyEntry): string => (e.kind === 'request' ? serviceCell(e.request) : e.service);

/** The command that shows the next page of a cut timeline: the same names, range and limit, after its last entry. */
export function nextPageCommand(t: TimelineResult, names: string[], limit: number | undefined): string | null {
  if (t.next === undefined) return null;
  const words = ['upk timeline', ...names, '--since', t.since, '--until', t.until];
  if (limit !== undefined) words.push('--limit', String(limit));
  return [...words, '--after', t.next].join(' ');
}

/**
 * The timeline in lines: each burst a heading (its span, entries, services), then its entries (time,
 * service, what); when cut, how to see the next page (`next`: its command).
 */
export function timelineLines(t: TimelineResult | FleetTimelineResult, next: string | null = null): string[] {
  const width = Math.max(1, ...t.entries.map((e) => serviceOf(e).length));
  const hostWidth = Math.max(0, ...t.entries.map((e) => ('host' in e ? e.host.length : 0)));
  const hostOf = (e: AnyEntry): string => ('host' in e ? `${e.host.padEnd(hostWidth)}  ` : '');
  const lines: string[] = [];
  for (const b of t.bursts) {
    const span = b.from === b.to ? utcTime(b.from) : `${utcTime(b.from)} – ${b.to.slice(11, 19)} UTC`;
    const took = Date.parse(b.to) - Date.parse(b.from);
    const what = `${b.count} ${b.count === 1 ? 'entry' : 'entries'}${took > 0 ? ` in ${formatDuration(took)}` : ''}`;
    if (lines.length > 0) lines.push('');
    lines.push(`${span}  ${what}${b.services.length > 0 ? `: ${b.services.join(', ')}` : ''}`);
    for (const e of t.entries.slice(b.first, b.first + b.count)) {
      lines.push(`  ${e.time.slice(11, 23)}  ${hostOf(e)}${serviceOf(e).padEnd(width)}  ${entryWords(e)}`);
    }
  }
  if (t.truncated) {
    const page = 'next' in t ? (next ?? `--after ${t.next ?? '?'}`) : 'a later --since, or a larger --limit';
    lines.push('', `(cut at ${t.entries.length} entries; the next page: ${page})`);
  }
  return lines;
}

interface Options {
  since?: TimeArg;
  until?: TimeArg;
  limit?: number;
  after?: string;
  fleet?: boolean;
}

export function registerTimeline(program: Command, ctx: Context): void {
  program
    .command('timeline')
    .argument('[name...]', 'only these services (default: every one); the requests about no one service (config.reload, shutdown) are kept')
    .option('-s, --since <time>', sinceHelp('an hour ago'), readTime)
    .option('-u, --until <time>', UNTIL_HELP, readTime)
    .option('-n, --limit <n>', `at most the oldest N entries (default ${TIMELINE_DEFAULT})`, wholeNumber(1, TIMELINE_MAX))
    .option('--after <cursor>', "the next page: the entries after those a cut timeline showed (its last line, or --json's next)")
    .option('--fleet', "every host's, from the fleet's PostgreSQL database (--host H,…: only theirs; docs/fleet.md)")
    .description('what happened, all services together: events, configuration changes and client requests in time order, in bursts')
    .action((names: string[], opts: Options) => {
      if (opts.fleet) return fleetTimeline(ctx, names, opts);
      return ctx.withClient(async (client) => {
        const range = timeRange(opts);
        const options: TimelineOptions = { since: range.since ?? parseTime(DEFAULT_SINCE) };
        if (range.until !== undefined) options.until = range.until;
        if (opts.limit !== undefined) options.limit = opts.limit;
        if (opts.after !== undefined) options.after = opts.after;
        if (names.length > 0) options.services = names;
        const t = await client.timeline(options);
        if (ctx.json) return printJson(t);
        if (t.entries.length === 0) {
          process.stdout.write(`nothing recorded from ${utcTime(t.since)} to ${utcTime(t.until)}\n`);
          return;
        }
        process.stdout.write(timelineLines(t, nextPageCommand(t, names, opts.limit)).join('\n') + '\n');
      });
    });
}

/** `upk timeline --fleet`: one page (no --after) of every host's entries, each line with its host. */
async function fleetTimeline(ctx: Context, names: string[], opts: Options): Promise<void> {
  if (opts.after !== undefined)
    throw new UpkError(ErrorCode.BAD_REQUEST, '--after and --fleet: a fleet timeline is one page (use a later --since)');
  const range = timeRange(opts);
  const t = await ctx.withFleet((fleet) =>
    fleet.timeline({
      ...ctx.fleetHosts,
      since: range.since ?? parseTime(DEFAULT_SINCE),
      ...(range.until === undefined ? {} : { until: range.until }),
      ...(opts.limit === undefined ? {} : { limit: opts.limit }),
      ...(names.length > 0 ? { services: names } : {}),
    }),
  );
  if (ctx.json) return printJson(t);
  if (t.entries.length === 0) return void process.stdout.write(`nothing recorded from ${utcTime(t.since)} to ${utcTime(t.until)}\n`);
  process.stdout.write(timelineLines(t).join('\n') + '\n');
}
