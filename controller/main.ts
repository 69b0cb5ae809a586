#!/usr/bin/env node
// upk-controller [--config FILE]: the controller daemon, in the foreground (`upk controller start` runs it in the background).
import { Command } from 'commander';
import { formatIssue, loadControllerConfig } from '../schema/config/index.js';
import { ExitCode, exitCodeFor } from '../schema/exit-codes.js';
import { UpkError } from '../schema/errors.js';
import { upkeeperVersion } from '../schema/version.js';
import { closeInheritedDescriptors } from '../system/inherited-fds.js';
import { Controller } from './controller.js';
import { createLogger, stderrSink } from './log.js';

const program = new Command('upk-controller')
  .description('the upkeeper controller: supervises buddies, records events, serves clients')
  .option('-c, --config <file>', 'controller configuration file (default: $UPKEEPER_CONFIG, then $XDG_CONFIG_HOME/upkeeper/upkeeper.conf)')
  .version(upkeeperVersion())
  .exitOverride((err) => process.exit(err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE))
  .parse();

const options = program.opts<{ config?: string }>();
// A log that cannot be written (a full disk) is shown as a problem of the controller, never thrown.
let controller: Controller | null = null;
const log = createLogger({
  ...stderrSink(),
  onTrouble: (error) => (error ? controller?.problems.set('log', `cannot write the log: ${error}`) : controller?.problems.clear('log')),
});
const { config, issues } = loadControllerConfig({ config: options.config, env: process.env });
for (const issue of issues) process.stderr.write(`upk-controller: ${formatIssue(issue)}\n`);
if (!config) process.exit(ExitCode.CONFIG_INVALID);

// What the controller inherited without close-on-exec would reach every buddy and service.
const inherited = closeInheritedDescriptors();
if (inherited.length > 0) log.info(`closed the descriptors it inherited (${inherited.join(', ')}): no buddy or service gets them`);

controller = new Controller(config, log);
// Stopping the controller never stops a buddy or a service.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    log.info(`${signal}: stopping the controller (services keep running)`);
    void controller.stop();
  });
}
// SIGHUP: reload the configuration (all of it, or nothing: on any error the last good one stays).
process.on('SIGHUP', () => {
  void controller.reloadConfiguration().catch((err: Error) => log.error(`SIGHUP: ${err.message}`));
});
process.on('uncaughtException', (err) => log.error(`uncaught: ${err.stack ?? err.message}`));
process.stderr.on('error', () => undefined); // stderr is written through the log, which counts its failures
process.on('unhandledRejection', (err) => log.error(`unhandled rejection: ${String(err)}`));

try {
  await controller.start();
} catch (err) {
  const e = err instanceof UpkError ? err : null;
  process.stderr.write(`upk-controller: ${(err as Error).message}\n`);
  process.exit(e ? exitCodeFor(e.code) : ExitCode.ERROR);
}
await controller.done;
process.exit(ExitCode.OK);
