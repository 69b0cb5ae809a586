#!/usr/bin/env node
// uptop: upkeeper's live status viewer, like top for the services of a controller.
import { Command, CommanderError } from 'commander';
import { ExitCode, checkHost, upkeeperVersion, type ConnectOptions } from '../../libclient/index.js';
import { atHelp, parseTime } from '../upk/time.js';
import { App } from './app.js';

const program = new Command('uptop')
  .description('live view of the services supervised by upkeeper (keys: ? for help, q to quit)')
  .option('-c, --config <file>', 'controller configuration (default: $UPKEEPER_CONFIG, then $XDG_CONFIG_HOME/upkeeper/upkeeper.conf)')
  .option('-H, --host <[user@]host>', 'the services of this host, through your ssh (default: $UPKEEPER_HOST; docs/fleet.md)')
  .option('--ssh-config <file>', "ssh's configuration file for --host (ssh -F; default: $UPKEEPER_SSH_CONFIG, else ssh's own)")
  .option('--remote-upk <command>', 'the command that runs upk on the host (default: $UPKEEPER_REMOTE_UPK, else upk)')
  .option('--at <time>', atHelp('the services at a past time, read-only'))
  .option('--no-color', 'no colours (also when the environment variable NO_COLOR is set and not empty)')
  .version(upkeeperVersion())
  .exitOverride();

try {
  program.parse();
} catch (err) {
  process.exit(err instanceof CommanderError && err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE);
}
const opts = program.opts<{ config?: string; color: boolean; at?: string; host?: string; sshConfig?: string; remoteUpk?: string }>();
if (opts.config !== undefined && opts.host !== undefined) {
  process.stderr.write(
    "uptop: --config names this machine's configuration: with --host, the host's upk finds its own (UPKEEPER_CONFIG in its environment, or its default file)\n",
  );
  process.exit(ExitCode.USAGE);
}
/** The host reached through ssh (--host, else $UPKEEPER_HOST, as libclient's connect() reads it), or null. */
let host: string | null = opts.host ?? (process.env.UPKEEPER_HOST || null);
try {
  host = host === null ? null : checkHost(host);
} catch (err) {
  process.stderr.write(`uptop: ${(err as Error).message}\n`);
  process.exit(ExitCode.USAGE);
}
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
// Every connection (the first, each reconnection, each request) goes through ssh again when a host is named.
const connectTo: ConnectOptions & { client: string } = { client: 'uptop' };
if (opts.config !== undefined) connectTo.config = opts.config;
if (host !== null) connectTo.host = host;
if (opts.sshConfig !== undefined) connectTo.sshConfig = opts.sshConfig;
if (opts.remoteUpk !== undefined) connectTo.remoteUpk = opts.remoteUpk;
const app = new App(at === undefined ? { connect: connectTo, noColor, host } : { connect: connectTo, noColor, host, at });
process.on('uncaughtException', (err) => app.abort(err));
process.on('unhandledRejection', (err) => app.abort(err instanceof Error ? err : new Error(String(err))));
app.run().catch((err: Error) => app.abort(err));
