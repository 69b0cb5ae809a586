// upk config-history NAME [--since TIME] [--limit N]: every configuration change applied to a service,
// with a readable diff of each (`- Key: before` / `+ Key: after`), from the history that exists.
import type { Command } from 'commander';
import {
  CONFIG_HISTORY_MAX,
  utcTime,
  type ConfigHistoryOptions,
  type ConfigHistoryRecord,
  type FleetConfigChange,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { plain, printJson } from '../output.js';
import { readTime, sinceHelp, timeRange, wholeNumber, type TimeArg } from '../time.js';

/** The most characters of a value shown; a longer one is cut (`--json` has it whole). */
export const VALUE_MAX = 100;

/** A value as JSON on one line, cut at VALUE_MAX characters, never a terminal control (JSON leaves U+0080–U+009F as they are). */
export function shownValue(value: unknown): string {
  return plain(JSON.stringify(value) ?? 'null', VALUE_MAX);
}

/** One change: its line (time, service when several, what, what applied it, its words), then its diff. */
export function changeLines(r: Omit<ConfigHistoryRecord, 'id'> & { host?: string }, withService: boolean): string[] {
  const head = `${utcTime(r.time)}  ${r.host === undefined ? '' : `${r.host}  `}${withService ? `${r.service}  ` : ''}${r.change} (${r.trigger})${r.detail ? `: ${plain(r.detail)}` : ''}`;
  const lines = [head];
  if (r.keys === null) {
    lines.push('  (recorded before upkeeper kept configurations: in words only)');
    return lines;
  }
  for (const v of r.values) {
    lines.push(`  - ${v.key}: ${r.beforeRecorded ? shownValue(v.before) : '(not recorded)'}`);
    lines.push(`  + ${v.key}: ${shownValue(v.after)}`);
  }
  return lines;
}

interface Options {
  since?: TimeArg;
  limit?: number;
  fleet?: boolean;
}

export function registerConfigHistory(program: Command, ctx: Context): void {
  program
    .command('config-history')
    .argument('<name>', 'the service')
    .option('-s, --since <time>', sinceHelp(), readTime)
    .option('-n, --limit <n>', 'at most the newest N changes (default 100)', wholeNumber(1, CONFIG_HISTORY_MAX))
    .description("every configuration change applied to the service, oldest first, with each key's value before and after")
    .option('--fleet', "every host's changes of it, from the fleet's PostgreSQL database (--host H,…: only theirs; docs/fleet.md)")
    .action(async (name: string, opts: Options) => {
      const options: ConfigHistoryOptions = { limit: opts.limit ?? 100 };
      const { since } = timeRange(opts);
      if (since !== undefined) options.since = since;
      const changes: (ConfigHistoryRecord | FleetConfigChange)[] = opts.fleet
        ? await ctx.withFleet((fleet) => fleet.configHistory(name, { ...options, ...ctx.fleetHosts }))
        : await ctx.withClient((client) => client.configHistory(name, options));
      if (ctx.json) return printJson(changes);
      if (changes.length === 0) {
        process.stdout.write(`no configuration change recorded for ${name}${since === undefined ? '' : ` since ${utcTime(since)}`}\n`);
        return;
      }
      const several = new Set(changes.map((c) => c.service)).size > 1;
      process.stdout.write(changes.flatMap((c) => changeLines(c, several)).join('\n') + '\n');
    });
}
