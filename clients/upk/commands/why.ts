// upk why NAME: the story of the service's last failure, in plain words.
import type { Command } from 'commander';
import { describeFailure } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';
import { parseWindow } from './correlate.js';

export function registerWhy(program: Command, ctx: Context): void {
  program
    .command('why')
    .argument('<name>', 'the service')
    .option(
      '-w, --window <duration>',
      "for what fails with it: how far before or after a failure another service's event counts (default 30s)",
      parseWindow,
    )
    .description("the story of the service's last failure: what ended, how, its last output, what happened next, what fails with it")
    .action((name: string, opts: { window?: number }) =>
      ctx.withClient(async (client) => {
        const story = await client.why(name, opts.window === undefined ? {} : { window: opts.window });
        if (ctx.json) return printJson(story);
        process.stdout.write(describeFailure(story).join('\n') + '\n');
      }),
    );
}
