// upk hooks [NAME] [--hook HOOK] [--since TIME] [--limit N]: the runs of the OnEvent hooks and how each ended.
import type { Command } from 'commander';
import { HOOK_RUNS_MAX, type HookRun, type HookRunFilter } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { duration, plain, printJson, table } from '../output.js';
import { readTime, sinceHelp, timeRange, wholeNumber, type TimeArg } from '../time.js';

const HEADER = ['TIME', 'HOOK', 'SERVICE', 'EVENT', 'OUTCOME', 'EXIT', 'TOOK', 'DETAIL'];
/** The DETAIL column's widest text. */
const DETAIL_MAX = 80;

/** Why it was skipped, dropped or interrupted; else the last line it wrote. */
function detail(r: HookRun): string {
  const lastLine = (r.output ?? '').trimEnd().split('\n').at(-1) ?? '';
  // What a hook printed is shown as text, never as terminal controls (it may come from a webhook's reply).
  return plain(r.reason ?? lastLine, DETAIL_MAX);
}

function row(r: HookRun): string[] {
  return [
    r.time,
    r.hook,
    r.service,
    `${r.eventType} #${r.eventId}`,
    r.outcome,
    r.signal ?? (r.exitCode === null ? '-' : String(r.exitCode)),
    r.started && r.finished ? duration(Date.parse(r.finished) - Date.parse(r.started)) : '-',
    detail(r),
  ];
}

interface Options {
  hook?: string;
  since?: TimeArg;
  limit?: number;
}

export function registerHooks(program: Command, ctx: Context): void {
  program
    .command('hooks')
    .argument('[name]', 'only the runs for events of this service')
    .option('--hook <hook>', 'only the runs of this hook (its Name)')
    .option('-s, --since <time>', sinceHelp(), readTime)
    .option('-n, --limit <n>', 'at most the newest N runs (default 100)', wholeNumber(1, HOOK_RUNS_MAX))
    .description('the runs of the OnEvent hooks, oldest first: the event, the outcome, the exit, the end of the output (--json: all of it)')
    .action((name: string | undefined, opts: Options) =>
      ctx.withClient(async (client) => {
        const filter: HookRunFilter = { limit: opts.limit ?? 100 };
        if (name) filter.service = name;
        if (opts.hook) filter.hook = opts.hook;
        const { since } = timeRange(opts);
        if (since !== undefined) filter.since = since;
        const runs = await client.hookRuns(filter);
        if (ctx.json) return printJson(runs);
        process.stdout.write(table(HEADER, runs.map(row)));
      }),
    );
}
