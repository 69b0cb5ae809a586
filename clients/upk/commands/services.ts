// upk list, upk status [NAME…]
import type { Command } from 'commander';
import { ExitCode } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { healthLine, inDesiredState, previousLine, printJson, problemLines, statusTable, unsupervisedLine } from '../output.js';

export function registerServices(program: Command, ctx: Context): void {
  program
    .command('list')
    .alias('ls')
    .description('every service with its state')
    .action(() =>
      ctx.withClient(async (client) => {
        const all = await client.list();
        if (ctx.json) return printJson(all);
        // What is wrong with the controller (a full disk, services without a buddy) heads the table.
        const { problems } = await client.controllerStatus();
        const head = problemLines(problems)
          .map((l) => l + '\n')
          .join('');
        process.stdout.write(head + (all.length === 0 ? 'no services configured\n' : statusTable(all)));
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
        const notes = statuses
          .flatMap((s) => [
            unsupervisedLine(s),
            s.statusText ? `${s.name}: says ${JSON.stringify(s.statusText)}` : null,
            s.listen ? `${s.name}: listening on ${s.listen.addresses.join(', ')} (held by pid ${s.listen.holder})` : null,
            s.previous ? `${s.name}: ${previousLine(s)}` : null,
            s.health && (s.health.status === 'unhealthy' || s.health.failures > 0) ? `${s.name}: ${healthLine(s)}` : null,
          ])
          .filter((l) => l !== null)
          .map((l) => l + '\n')
          .join('');
        process.stdout.write(statusTable(statuses) + notes);
      }),
    );
}
