// upk check-config: read every configuration file and list every problem; touches nothing.
import type { Command } from 'commander';
import { ExitCode } from '../../../libclient/index.js';
import { formatIssue, loadControllerConfig, loadServices } from '../../../schema/config/index.js';
import type { ConfigIssue } from '../../../schema/config/types.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';

export function registerCheckConfig(program: Command, ctx: Context): void {
  program
    .command('check-config')
    .description(`check the controller file and every service file; exits ${ExitCode.CONFIG_INVALID} on any problem`)
    .action(() => {
      const config = ctx.options().config;
      const loaded = loadControllerConfig({ ...(config === undefined ? {} : { config }), env: process.env });
      const issues: ConfigIssue[] = [...loaded.issues];
      let services: string[] = [];
      let files: string[] = [];
      if (loaded.config) {
        const s = loadServices(loaded.config, process.env);
        issues.push(...s.issues);
        services = s.services.map((x) => x.id);
        files = s.files;
      }
      if (issues.length > 0) ctx.fail(ExitCode.CONFIG_INVALID);
      if (ctx.json) return printJson({ ok: issues.length === 0, configFile: loaded.config?.file ?? null, files, services, issues });
      for (const issue of issues) process.stdout.write(formatIssue(issue) + '\n');
      const where = loaded.config?.file ?? '(default settings: no controller file)';
      process.stdout.write(
        issues.length === 0
          ? `configuration OK: ${where}, ${services.length} services in ${files.length} files\n`
          : `${issues.length} problem${issues.length === 1 ? '' : 's'} found\n`,
      );
    });
}
