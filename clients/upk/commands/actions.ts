// upk action NAME ACTION, upk signal NAME SIGNAL
import type { Command } from 'commander';
import { ExitCode } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';

export function registerActions(program: Command, ctx: Context): void {
  program
    .command('action')
    .argument('<name>', 'service')
    .argument('<action>', 'custom action, by name or number (00..31)')
    .description(`run a custom action and print its output; exits ${ExitCode.ACTION_FAILED} when it fails`)
    .action((name: string, action: string) =>
      ctx.withClient(async (client) => {
        const r = await client.action(name, action);
        if (r.code !== 0) ctx.fail(ExitCode.ACTION_FAILED);
        if (ctx.json) return printJson(r);
        process.stdout.write(r.output);
        if (r.code !== 0)
          process.stderr.write(`${name}: ${r.action} ${r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}`}\n`);
      }),
    );

  program
    .command('signal')
    .argument('<name>', 'service')
    .argument('<signal>', 'HUP, SIGUSR1, 15, …')
    .option('-g, --group', "signal the service's whole process group")
    .description("send a signal to a service's process")
    .action((name: string, signal: string, opts: { group?: boolean }) =>
      ctx.withClient(async (client) => {
        const r = await client.signal(name, signal, opts.group ? { group: true } : {});
        if (ctx.json) return printJson(r);
        process.stdout.write(`${name}: sent ${signal} to ${opts.group ? 'process group ' : 'pid '}${r.pid}\n`);
      }),
    );
}
