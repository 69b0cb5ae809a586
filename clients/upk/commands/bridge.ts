// upk bridge (hidden): what `upk --host` runs on the host through ssh: standard input and output joined to this machine's controller.
import type { Command } from 'commander';
import { bridge } from '../../../libclient/index.js';
import type { Context } from '../context.js';

export function registerBridge(program: Command, ctx: Context): void {
  program
    .command('bridge', { hidden: true })
    .description(
      "join standard input and output to this machine's controller socket, byte for byte, until either side closes (what --host runs through ssh)",
    )
    .action(async () => {
      const { config } = ctx.connectOptions();
      await bridge({ ...(config === undefined ? {} : { config }), env: process.env }, process.stdin, process.stdout);
    });
}
