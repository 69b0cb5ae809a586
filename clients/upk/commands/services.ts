// upk list, upk status [NAME…]
import type { Command } from 'commander';
import { ExitCode } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { inDesiredState, printJson, statusTable } from '../output.js';

export function registerServices(program: Command, ctx: Context): void {
  program
    .command('list')
    .alias('ls')
    .description('every service with its state')
    .action(() =>
      ctx.withClient(async (client) => {
        const all = await client.list();
        if (ctx.json) return printJson(all);
        process.stdout.write(all.length === 0 ? 'no services configured\n' : statusTable(all));
      }),
    );

  program
    .command('status')
    .argument('[name...]', 'services (default: all)')
    .description(`status of services; exits ${ExitCode.NOT_IN_DESIRED_STATE} when one is not in its desired state (marked !)`)
    .action((names: string[]) =>
      ctx.withClient(async (client) => {
        const statuses = await client.status(names.length > 0 ? names : undefined);
        if (statuses.some((s) => !inDesiredState(s))) ctx.fail(ExitCode.NOT_IN_DESIRED_STATE);
        if (ctx.json) return printJson(statuses);
        process.stdout.write(statusTable(statuses));
      }),
    );
}
