// upk why NAME: the story of the service's last failure, in plain words.
import type { Command } from 'commander';
import { describeFailure } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';

export function registerWhy(program: Command, ctx: Context): void {
  program
    .command('why')
    .argument('<name>', 'the service')
    .description("the story of the service's last failure: what ended, how, its last output, what happened next")
    .action((name: string) =>
      ctx.withClient(async (client) => {
        const story = await client.why(name);
        if (ctx.json) return printJson(story);
        process.stdout.write(describeFailure(story).join('\n') + '\n');
      }),
    );
}
