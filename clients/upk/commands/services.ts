// upk list, upk status [NAME…]; with --at TIME, as they were then (from the audit history)
import type { Command } from 'commander';
import { ErrorCode, ExitCode, UpkError, type ServiceStatus, type StatusAtResult } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import {
  beforeHistory,
  healthLine,
  inDesiredState,
  previousLine,
  printJson,
  problemLines,
  statusRows,
  statusTable,
  table,
  unsupervisedLine,
} from '../output.js';
import { atHelp, parseTime, wholeNumber } from '../time.js';
import { listFleet, type FleetOptions } from './fleet.js';

const AT = ['--at <time>', atHelp('as it was then, from the audit history')] as const;
const FLEET = [
  '--fleet',
  "with --at: every host's, from the fleet's PostgreSQL database (--host H,…: only theirs; docs/fleet.md)",
] as const;

export function registerServices(program: Command, ctx: Context): void {
  program
    .command('list')
    .alias('ls')
    .description('every service with its state')
    .option(...AT, (v: string) => parseTime(v))
    .option('--hosts <hosts>', 'the services of these hosts (comma-separated), each through ssh, in one table (docs/fleet.md)')
    .option('--hosts-file <file>', 'the hosts to list, one a line (# begins a comment)')
    .option('--host-timeout <seconds>', "each host's limit with --hosts (default 10)", wholeNumber(1, 3600))
    .option(...FLEET)
    .action((opts: { at?: string; fleet?: boolean } & FleetOptions) => {
      if (opts.fleet) {
        if (opts.hosts !== undefined || opts.hostsFile !== undefined)
          throw new UpkError(ErrorCode.BAD_REQUEST, '--fleet reads the fleet database: name its hosts with --host, not --hosts');
        return pastFleet(ctx, opts.at, [], false);
      }
      if (opts.hosts === undefined && opts.hostsFile === undefined) return listOne(ctx, opts);
      if (opts.at !== undefined) throw new UpkError(ErrorCode.BAD_REQUEST, '--at is not taken with --hosts');
      return listFleet(ctx, opts);
    });

  program
    .command('status')
    .argument('[name...]', 'services (default: all)')
    .option(...AT, (v: string) => parseTime(v))
    .option(...FLEET)
    .description(`status of services; exits ${ExitCode.NOT_IN_DESIRED_STATE} when one is not in its desired state (marked !)`)
    .action((names: string[], opts: { at?: string; fleet?: boolean }) => {
      if (opts.fleet) return pastFleet(ctx, opts.at, names, true);
      return ctx.withClient(async (client) => {
        const asked = names.length > 0 ? names : undefined;
        const past = opts.at === undefined ? null : await client.statusAt(opts.at, asked);
        if (past) warnBeforeHistory(past);
        const statuses = past?.services ?? (await client.status(asked));
        if (statuses.some((s) => !inDesiredState(s))) ctx.fail(ExitCode.NOT_IN_DESIRED_STATE);
        if (ctx.json) return printJson(statuses);
        const notes = statuses
          .flatMap((s) => notesOf(s))
          .map((l) => l + '\n')
          .join('');
        process.stdout.write(statusTable(statuses, past ? Date.parse(past.at) : Date.now()) + notes);
      });
    });
}

/**
 * `upk list|status --at TIME --fleet [--host H,…] [NAME…]`: each host's services then, from the fleet
 * database, as each host tells its own (`--json`: a host's answer per host); a HOST column first.
 * `status` exits as it does on a host when one is not in its desired state.
 */
async function pastFleet(ctx: Context, at: string | undefined, names: string[], status: boolean): Promise<void> {
  if (at === undefined)
    throw new UpkError(ErrorCode.BAD_REQUEST, '--fleet tells the past (--at TIME); the services now: upk list --hosts H1,H2');
  const answers = await ctx.withFleet((fleet) => fleet.statusAt(at, { ...ctx.fleetHosts, names }));
  for (const a of answers) {
    const warning = beforeHistory(a);
    if (warning !== null) process.stderr.write(`upk: warning: ${a.host}: ${warning}\n`);
  }
  if (status && answers.some((a) => a.services.some((s) => !inDesiredState(s)))) ctx.fail(ExitCode.NOT_IN_DESIRED_STATE);
  if (ctx.json) return printJson(answers);
  const { header } = statusRows([], 0);
  const blank = header.slice(2).map(() => '-');
  const rows = answers.flatMap((a) =>
    a.services.length === 0 ? [[a.host, '-', 'none', ...blank]] : statusRows(a.services, Date.parse(a.at)).rows.map((r) => [a.host, ...r]),
  );
  process.stdout.write(answers.length === 0 ? 'no hosts in the fleet database\n' : table(['HOST', ...header], rows));
}

/** `upk list` of one controller (this machine's, or --host's). */
function listOne(ctx: Context, opts: { at?: string }): Promise<void> {
  return ctx.withClient(async (client) => {
    if (opts.at !== undefined) {
      const past = await client.statusAt(opts.at);
      warnBeforeHistory(past);
      if (ctx.json) return printJson(past.services);
      return void process.stdout.write(
        past.services.length === 0 ? `no services configured at ${past.at}\n` : statusTable(past.services, Date.parse(past.at)),
      );
    }
    const all = await client.list();
    if (ctx.json) return printJson(all);
    // What is wrong with the controller (a full disk, services without a buddy) heads the table.
    const { problems } = await client.controllerStatus();
    const head = problemLines(problems)
      .map((l) => l + '\n')
      .join('');
    process.stdout.write(head + (all.length === 0 ? 'no services configured\n' : statusTable(all)));
  });
}

/** On standard error: the time asked about is before the history kept (beforeHistory). */
function warnBeforeHistory(past: StatusAtResult): void {
  const warning = beforeHistory(past);
  if (warning !== null) process.stderr.write(`upk: warning: ${warning}\n`);
}

/** The lines under the table: what a service says, its sockets, the run it replaces, its health. */
function notesOf(s: ServiceStatus): string[] {
  return [
    unsupervisedLine(s),
    s.statusText ? `${s.name}: says ${JSON.stringify(s.statusText)}` : null,
    s.listen ? `${s.name}: listening on ${s.listen.addresses.join(', ')} (held by pid ${s.listen.holder})` : null,
    s.previous ? `${s.name}: ${previousLine(s)}` : null,
    s.health && (s.health.status === 'unhealthy' || s.health.failures > 0) ? `${s.name}: ${healthLine(s)}` : null,
  ].filter((l) => l !== null);
}
