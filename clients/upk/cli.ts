// upk: the upkeeper command line. It reaches the controller only through libclient. Started by main.ts.
import { Command, CommanderError } from 'commander';
import { ErrorCode, ExitCode, UpkError, exitCodeFor, upkeeperVersion } from '../../libclient/index.js';
import { registerActions } from './commands/actions.js';
import { registerAdd } from './commands/add.js';
import { registerAudit } from './commands/audit.js';
import { registerBridge } from './commands/bridge.js';
import { registerCheckConfig } from './commands/check-config.js';
import { registerCompletion } from './commands/completion.js';
import { registerConfigHistory } from './commands/config-history.js';
import { registerConfiguration } from './commands/configuration.js';
import { registerControl } from './commands/control.js';
import { registerCorrelate } from './commands/correlate.js';
import { registerController } from './commands/controller.js';
import { registerEvents } from './commands/events.js';
import { registerHooks } from './commands/hooks.js';
import { registerLogs } from './commands/logs.js';
import { registerScale } from './commands/scale.js';
import { registerServe } from './commands/serve.js';
import { registerServices } from './commands/services.js';
import { registerStartup } from './commands/startup.js';
import { registerTimeline } from './commands/timeline.js';
import { registerTrend } from './commands/trend.js';
import { registerWhy } from './commands/why.js';
import { Context, type GlobalOptions } from './context.js';
import { shellWord } from './output.js';

const program = new Command('upk')
  .description('control and inspect services supervised by upkeeper')
  .option('-c, --config <file>', 'controller configuration (default: $UPKEEPER_CONFIG, then $XDG_CONFIG_HOME/upkeeper/upkeeper.conf)')
  .option('--json', 'print data as JSON')
  .option('-H, --host <[user@]host>', 'the host whose controller to reach, through your ssh (default: $UPKEEPER_HOST; docs/fleet.md)')
  .option('--ssh-config <file>', "ssh's configuration file for --host (ssh -F; default: $UPKEEPER_SSH_CONFIG, else ssh's own)")
  .option('--remote-upk <command>', 'the command that runs upk on the host (default: $UPKEEPER_REMOTE_UPK, else upk)')
  .option(
    '--fleet-database <url>',
    "the fleet's PostgreSQL database, for --fleet (default: $UPKEEPER_FLEET_DATABASE, else FleetDatabase of the configuration; docs/fleet.md)",
  )
  .version(upkeeperVersion())
  .enablePositionalOptions(false)
  .showHelpAfterError()
  .exitOverride();

const ctx = new Context(() => program.opts<GlobalOptions>());
registerController(program, ctx);
registerServices(program, ctx);
registerControl(program, ctx);
registerActions(program, ctx);
registerEvents(program, ctx);
registerLogs(program, ctx);
registerTrend(program, ctx);
registerWhy(program, ctx);
registerCorrelate(program, ctx);
registerHooks(program, ctx);
registerConfigHistory(program, ctx);
registerAudit(program, ctx);
registerTimeline(program, ctx);
registerCheckConfig(program, ctx);
registerConfiguration(program, ctx);
registerAdd(program, ctx);
registerScale(program, ctx);
registerStartup(program, ctx);
registerServe(program, ctx);
registerCompletion(program, ctx);
registerBridge(program, ctx);
// `--json` is accepted after the command too: upk status --json
for (const command of program.commands) {
  const all = [command, ...command.commands];
  for (const c of all) if (c.commands.length === 0) c.option('--json', 'print data as JSON');
}
let commandName = '';
/** What works on this machine's files and processes alone: refused with a --host (Context.refuseHost). */
const LOCAL_ONLY = new Set([
  'controller start',
  'controller stop',
  'controller restart',
  'check-config',
  'add',
  'scale',
  'startup',
  'unstartup',
]);
program.hook('preAction', (_root, action) => {
  if (action.opts().json) program.setOptionValue('json', true);
  commandName = action.parent && action.parent !== program ? `${action.parent.name()} ${action.name()}` : action.name();
  if (LOCAL_ONLY.has(commandName)) ctx.refuseHost(commandName);
  const { config, host } = program.opts<GlobalOptions>();
  // With --fleet, --host filters the fleet database's rows: nothing goes through ssh.
  if (config !== undefined && host !== undefined && action.opts().fleet !== true) {
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      "--config names this machine's configuration: with --host, the host's upk finds its own (UPKEEPER_CONFIG in its environment, or its default file)",
    );
  }
});

/** After "the controller is not running": the command that starts one for the configuration it named. */
function startHint(err: UpkError): string | null {
  const details = err.details as { configFile?: string | null } | undefined;
  if (err.code !== ErrorCode.CONTROLLER_NOT_RUNNING || details?.configFile === undefined || commandName === 'controller stop') return null;
  return `start one with: upk${details.configFile === null ? '' : ` --config ${shellWord(details.configFile)}`} controller start`;
}

/**
 * A reader that went away (`upk events | head -1`): every command ends there, quietly, with exit 0
 * (as `git log | head` does) unless it had already failed. Any other failure to write ends it with exit 1, said on standard error when it still can be.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // A failure already known (a service that did not stop) still decides the exit: `set -o pipefail` sees it.
    if (err.code === 'EPIPE') process.exit(ctx.exitCode);
    if (stream === process.stdout) process.stderr.write(`upk: cannot write to standard output: ${err.message}\n`);
    process.exit(ExitCode.ERROR);
  });
}

/** Runs the command line of this process (process.argv), and sets its exit code. */
export async function main(): Promise<void> {
  try {
    await program.parseAsync();
    process.exitCode = ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    } else if (err instanceof UpkError) {
      const hint = startHint(err);
      process.stderr.write(`upk: ${err.message}\n${hint ? `upk: ${hint}\n` : ''}`);
      process.exitCode = exitCodeFor(err.code);
    } else {
      process.stderr.write(`upk: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = ExitCode.ERROR;
    }
  }
}
