// upk reload-config, upk remove NAME…
import type { Command } from 'commander';
import { ExitCode, formatConfigIssue } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { counted, printJson } from '../output.js';

export function registerConfiguration(program: Command, ctx: Context): void {
  program
    .command('reload-config')
    .description(`make the controller read its configuration again: all of it, or nothing (exit ${ExitCode.CONFIG_INVALID} and the problems)`)
    .option('--restart', 'then restart the running services whose changes take effect only at their next start')
    .action((opts: { restart?: boolean }) =>
      ctx.withClient(async (client) => {
        const r = await client.reloadConfig(opts.restart ? { restart: true } : {});
        if (!r.ok) ctx.fail(ExitCode.CONFIG_INVALID);
        if (ctx.json) return printJson(r);
        for (const issue of r.issues) process.stdout.write(formatConfigIssue(issue) + '\n');
        if (!r.ok) {
          process.stdout.write(`${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}: nothing changed; the configuration in force stays\n`);
          return;
        }
        for (const c of r.changes) process.stdout.write(`${c.service}: ${c.change}: ${c.message}\n`);
        process.stdout.write(r.changes.length === 0 ? 'configuration reloaded: no change\n' : `configuration reloaded: ${counted(r.changes.length, 'change')}\n`);
        for (const item of r.restarted ?? []) {
          process.stdout.write(`${item.service}: restarted: ${item.ok ? 'ok' : 'FAILED'}: ${item.message}\n`);
          if (!item.ok) ctx.fail(ExitCode.ACTION_FAILED);
        }
      }),
    );

  program
    .command('remove')
    .argument('<name...>', 'services no longer in the configuration files')
    .description('stop and forget services the configuration no longer defines (their history stays)')
    .action((names: string[]) =>
      ctx.withClient(async (client) => {
        const changes = await client.remove(names);
        if (ctx.json) return printJson(changes);
        for (const c of changes) process.stdout.write(`${c.service}: ${c.message}\n`);
      }),
    );
}
