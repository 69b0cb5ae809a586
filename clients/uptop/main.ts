#!/usr/bin/env node
// uptop: upkeeper's live status viewer, like top for the services of a controller.
import { Command, CommanderError } from 'commander';
import { ExitCode, upkeeperVersion } from '../../libclient/index.js';
import { atHelp, parseTime } from '../upk/time.js';
import { App } from './app.js';

const program = new Command('uptop')
  .description('live view of the services supervised by upkeeper (keys: ? for help, q to quit)')
  .option('-c, --config <file>', 'controller configuration (default: $UPKEEPER_CONFIG, then $XDG_CONFIG_HOME/upkeeper/upkeeper.conf)')
  .option('--at <time>', atHelp('the services at a past time, read-only'))
  .option('--no-color', 'no colours (also when the environment variable NO_COLOR is set and not empty)')
  .version(upkeeperVersion())
  .exitOverride();

try {
  program.parse();
} catch (err) {
  process.exit(err instanceof CommanderError && err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE);
}
const opts = program.opts<{ config?: string; color: boolean; at?: string }>();
let at: number | undefined;
try {
  at = opts.at === undefined ? undefined : Date.parse(parseTime(opts.at));
} catch (err) {
  process.stderr.write(`uptop: --at: ${(err as Error).message}\n`);
  process.exit(ExitCode.USAGE);
}
if (at !== undefined && at > Date.now()) {
  process.stderr.write(`uptop: --at: ${opts.at} is still to come\n`);
  process.exit(ExitCode.USAGE);
}
if (!process.stdout.isTTY || !process.stdin.isTTY) {
  process.stderr.write('uptop: needs a terminal (for a list that a program can read, use upk list --json)\n');
  process.exit(ExitCode.USAGE);
}
const noColor = !opts.color || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '');
const connectTo = opts.config === undefined ? { client: 'uptop' } : { config: opts.config, client: 'uptop' };
const app = new App(at === undefined ? { connect: connectTo, noColor } : { connect: connectTo, noColor, at });
process.on('uncaughtException', (err) => app.abort(err));
process.on('unhandledRejection', (err) => app.abort(err instanceof Error ? err : new Error(String(err))));
app.run().catch((err: Error) => app.abort(err));
