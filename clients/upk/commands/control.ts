// upk start|stop|restart|reload NAME…|all, and upk shutdown
import type { Command } from 'commander';
import { ExitCode, type OutcomeItem } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson, printOutcomes } from '../output.js';

const VERBS = {
  start: 'start services and wait until each is up (MinUptime) or has failed',
  stop: 'stop services and wait until nothing of them is left',
  restart: 'stop, then start services',
  reload: 'run the reload script of running services',
} as const;

function report(items: OutcomeItem[], ctx: Context): void {
  if (items.some((i) => !i.ok)) ctx.fail(ExitCode.ACTION_FAILED);
  if (ctx.json) return printJson(items);
  printOutcomes(items);
}

export function registerControl(program: Command, ctx: Context): void {
  for (const [verb, description] of Object.entries(VERBS) as [keyof typeof VERBS, string][]) {
    program
      .command(verb)
      .argument('<name...>', 'services, or all')
      .description(description)
      .action((names: string[]) => ctx.withClient(async (client) => report(await client[verb](names), ctx)));
  }

  program
    .command('shutdown')
    .description('stop every service and buddy, then the controller: nothing of upkeeper runs after it')
    .action(() =>
      ctx.withClient(async (client) => {
        const items = await client.shutdown();
        report(items, ctx);
        if (!ctx.json) process.stdout.write('controller stopped\n');
      }),
    );
}
