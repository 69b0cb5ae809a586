// upk check-config: read every configuration file and list every problem; touches nothing.
import type { Command } from 'commander';
import { ExitCode, checkConfiguration, formatConfigIssue } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { counted, printJson } from '../output.js';

export function registerCheckConfig(program: Command, ctx: Context): void {
  program
    .command('check-config')
    .description(`check the controller file and every service file; exits ${ExitCode.CONFIG_INVALID} on any problem`)
    .action(() => {
      const config = ctx.options().config;
      const r = checkConfiguration({ ...(config === undefined ? {} : { config }), env: process.env });
      if (!r.ok) ctx.fail(ExitCode.CONFIG_INVALID);
      if (ctx.json) return printJson(r);
      for (const issue of r.issues) process.stdout.write(formatConfigIssue(issue) + '\n');
      const where = r.configFile ?? '(default settings: no controller file)';
      process.stdout.write(
        r.ok
          ? `configuration OK: ${where}, ${counted(r.services.length, 'service')} in ${counted(r.files.length, 'file')}\n`
          : `${r.issues.length} problem${r.issues.length === 1 ? '' : 's'} found\n`,
      );
    });
}
