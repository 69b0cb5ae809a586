// upk logs NAME [-n N] [--stdout | --stderr]: the last lines of a service's output files.
import type { Command } from 'commander';
import { ErrorCode, UpkError } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';
import { parsePositiveInt } from '../time.js';

interface Options {
  lines?: number;
  stdout?: boolean;
  stderr?: boolean;
}

export function registerLogs(program: Command, ctx: Context): void {
  program
    .command('logs')
    .argument('<name>', 'the service')
    .option('-n, --lines <n>', 'lines of each stream (default 20, at most 1000)', parsePositiveInt)
    .option('--stdout', 'only standard output')
    .option('--stderr', 'only standard error')
    .description("the last lines of the service's standard output and error (log/stdout, log/stderr, or its Redirect* files)")
    .action((name: string, opts: Options) => {
      if (opts.stdout && opts.stderr) throw new UpkError(ErrorCode.BAD_REQUEST, '--stdout and --stderr: choose one, or neither for both');
      return ctx.withClient(async (client) => {
        const tail = await client.logs(name, opts.lines === undefined ? {} : { lines: opts.lines });
        if (ctx.json) return printJson(tail);
        const streams = opts.stdout ? (['stdout'] as const) : opts.stderr ? (['stderr'] as const) : (['stdout', 'stderr'] as const);
        for (const s of streams) {
          if (streams.length > 1) process.stdout.write(`== ${s}: ${tail[s].file}\n`);
          process.stdout.write(tail[s].lines.map((l) => `${l}\n`).join(''));
        }
      });
    });
}
