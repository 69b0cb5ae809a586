// upk start|stop|restart|reload|attach NAME…|all, and upk shutdown
import type { Command } from 'commander';
import { ErrorCode, ExitCode, UpkError, connect, shutdownBuddies, type OutcomeItem } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { counted, printJson, printOutcomes } from '../output.js';

const VERBS = {
  start: 'start services and wait until each is ready (MinUptime, or what it signals) or has failed',
  stop: 'stop services and wait until nothing of them is left',
  restart: 'stop, then start services (RestartMode overlap, or --overlap: start the new run first, and stop the old one once it is ready)',
  reload: 'run the reload script of running services',
  attach: 'take over services whose process runs without upkeeper (found by PidFile or ProcessMatch) instead of starting them',
} as const;

function report(items: OutcomeItem[], ctx: Context): void {
  if (items.some((i) => !i.ok)) ctx.fail(ExitCode.ACTION_FAILED);
  if (ctx.json) return printJson(items);
  printOutcomes(items);
}

export function registerControl(program: Command, ctx: Context): void {
  for (const [verb, description] of Object.entries(VERBS) as [keyof typeof VERBS, string][]) {
    const command = program.command(verb).argument('<name...>', 'services, or all').description(description);
    if (verb === 'restart') {
      command
        .option('--overlap', 'start each new run beside the running one, which drains once the new one is ready (as RestartMode overlap)')
        .action((names: string[], o: { overlap?: boolean }) =>
          ctx.withClient(async (client) => report(await client.restart(names, { overlap: o.overlap === true }), ctx)),
        );
    } else command.action((names: string[]) => ctx.withClient(async (client) => report(await client[verb](names), ctx)));
  }

  program
    .command('shutdown')
    .description('stop every service and buddy, then the controller: nothing of upkeeper runs after it')
    .action(async () => {
      let client;
      try {
        client = await connect(ctx.connectOptions());
      } catch (err) {
        // Through ssh, the buddies' sockets are the host's: not reached.
        if (!(err instanceof UpkError) || err.code !== ErrorCode.CONTROLLER_NOT_RUNNING || ctx.host !== null) throw err;
        return shutdownWithoutController(ctx);
      }
      try {
        const items = await client.shutdown();
        report(items, ctx);
        if (!ctx.json) process.stdout.write('controller stopped\n');
      } finally {
        client.close();
      }
    });
}

/** No controller runs: the buddies left running are asked to stop, each on its own socket. */
async function shutdownWithoutController(ctx: Context): Promise<void> {
  const outcomes = await shutdownBuddies(ctx.connectOptions());
  if (outcomes.some((o) => !o.ok)) ctx.fail(ExitCode.ACTION_FAILED);
  if (ctx.json) return printJson(outcomes);
  if (outcomes.length === 0) {
    process.stdout.write('no controller runs, and no buddy: nothing of upkeeper runs\n');
    return;
  }
  process.stdout.write(
    `no controller runs: stopped ${counted(outcomes.length, 'buddy', 'buddies')} directly (their last events wait in their journals for the next controller)\n`,
  );
  for (const o of outcomes) process.stdout.write(`${o.service}: ${o.ok ? 'ok' : 'FAILED'}: ${o.message}\n`);
}
