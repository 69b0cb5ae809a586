// upk add NAME [options] -- COMMAND [ARGS…]: a command run as a service, through a service file of its own.
import { lstatSync, mkdirSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  ErrorCode,
  ExitCode,
  UpkError,
  addedFileText,
  findServiceDefinitions,
  isValidServiceId,
  parseDuration,
  readControllerConfig,
  type OutcomeItem,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { applyFileChange, discoveryOptions, editingServiceFiles, printRefusal } from '../file-change.js';
import { onFile } from '../file-error.js';
import { printJson, printOutcomes } from '../output.js';
import { wholeNumberArgument } from '../time.js';

interface AddOptions {
  cwd?: string;
  env?: string[];
  environmentFile?: string;
  rateLimit?: string;
  killTimeout?: string;
  instances?: string;
  description?: string;
  stopped?: boolean;
  logTimestamps?: boolean;
  output?: string;
  error?: string;
}

const usage = (message: string): UpkError => new UpkError(ErrorCode.BAD_REQUEST, message);

/** The keys of the file: exactly the options given, the command as a list (never re-parsed by a shell). */
function serviceKeys(command: string[], o: AddOptions, cwd = process.cwd()): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  if (o.description !== undefined) keys.ShortDescription = o.description;
  keys.ExecStart = command;
  if (o.cwd !== undefined) {
    const dir = resolve(cwd, o.cwd);
    if (!onFile('cannot look at', dir, () => statSync(dir, { throwIfNoEntry: false }))?.isDirectory())
      throw usage(`--cwd ${o.cwd}: ${dir} is not a directory`);
    keys.WorkingDirectory = dir;
  }
  if (o.env !== undefined) {
    const env: Record<string, string> = {};
    for (const pair of o.env) {
      const eq = pair.indexOf('=');
      if (eq < 1) throw usage(`--env ${JSON.stringify(pair)}: expected NAME=VALUE`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    keys.Environment = env;
  }
  // A leading "-": optional, as in the key (a missing file is then fine).
  if (o.environmentFile !== undefined) {
    const optional = o.environmentFile.startsWith('-');
    keys.EnvironmentFile = `${optional ? '-' : ''}${resolve(cwd, optional ? o.environmentFile.slice(1) : o.environmentFile)}`;
  }
  if (o.instances !== undefined) keys.Instances = wholeNumberArgument('--instances', o.instances, 1);
  if (o.output !== undefined) keys.RedirectStdout = resolve(cwd, o.output);
  if (o.error !== undefined) keys.RedirectStderr = resolve(cwd, o.error);
  if (o.logTimestamps === true) keys.LogTimestamps = true;
  if (o.rateLimit !== undefined) keys.UserRateLimit = seconds('--rate-limit', o.rateLimit);
  if (o.killTimeout !== undefined) keys.KillTimeout = seconds('--kill-timeout', o.killTimeout);
  keys.InitialState = o.stopped === true ? 'stopped' : 'running';
  return keys;
}

/** A number of seconds as a number; a duration ("90s") as written, for the configuration to read. */
function seconds(option: string, text: string): number | string {
  if (/^-?\d+(?:\.\d+)?$/.test(text)) return Number(text);
  if (parseDuration(text) === null) throw usage(`${option} ${text}: expected a number of seconds or a duration ("90s", "15m")`);
  return text;
}

export function registerAdd(program: Command, ctx: Context): void {
  program
    .command('add')
    .usage('NAME [options] -- COMMAND [ARGS…]')
    .argument('<new-name>', 'the new service id: name or package::name')
    .argument('<command...>', 'after --: the program and its arguments, each passed as written (no shell)')
    .description('run a command as a service: write SvcConfigPath/NAME.conf, apply it (all or nothing), start it')
    .option('--cwd <dir>', 'working directory (WorkingDirectory; default: its run directory)')
    .option('--env <name=value>', 'an environment variable (Environment); repeat it for more', (v: string, all: string[] = []) => [
      ...all,
      v,
    ])
    .option('--environment-file <file>', 'a file of NAME=VALUE lines read at every start (EnvironmentFile; a leading - makes it optional)')
    .option('--output <file>', 'standard output to this file instead of log/stdout (RedirectStdout)')
    .option('--error <file>', 'standard error to this file instead of log/stderr (RedirectStderr)')
    .option('--log-timestamps', 'begin each line in the log files with when it was written (LogTimestamps)')
    .option('--rate-limit <seconds>', 'least time between two starts (UserRateLimit)')
    .option('--kill-timeout <seconds>', 'time a stop allows before SIGTERM, twice that before SIGKILL (KillTimeout)')
    .option('--instances <n>', 'run N instances, NAME@1 … NAME@N (Instances)')
    .option('--description <text>', 'a brief description (ShortDescription)')
    .option('--stopped', 'add it without starting it (InitialState stopped)')
    .action((name: string, command: string[], o: AddOptions) => add(ctx, name, command, o));
}

async function add(ctx: Context, name: string, command: string[], o: AddOptions): Promise<void> {
  if (!isValidServiceId(name)) {
    throw usage(
      `invalid service name ${JSON.stringify(name)}: expected name or package::name, each 1 to 64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit`,
    );
  }
  if (name.toLowerCase() === 'all') throw usage('"all" cannot name a service: in commands it means every service');
  const keys = serviceKeys(command, o);
  const options = discoveryOptions(ctx.options().config);
  const folder = readControllerConfig(options).svcConfigPath;
  const file = join(folder, `${name}.conf`);
  await ctx.withClient(async (client) => {
    const applied = await editingServiceFiles(options, async () => {
      const defined = findServiceDefinitions(name, options);
      if (defined.length > 0) {
        const d = defined[0]!;
        const what = d.instance === null ? `service ${d.id}` : `instance ${d.instance} of ${d.id} (Instances ${d.instances})`;
        throw usage(`a service named ${name} exists: ${what}, defined in ${d.file} at line ${d.line}`);
      }
      const known = (await client.list()).find((s) => s.name.toLowerCase() === name.toLowerCase());
      if (known)
        throw usage(
          `a service named ${known.name} is still known to the controller, though no file defines it: upk remove ${known.name} first`,
        );
      const present = onFile('cannot look at', file, () => lstatSync(file, { throwIfNoEntry: false }));
      if (present?.isSymbolicLink()) {
        const target = readlinkSync(file);
        const dangling = statSync(file, { throwIfNoEntry: false }) === undefined;
        throw usage(
          `${file} exists already: a symbolic link to ${target}${dangling ? ', which does not exist' : ''} (it defines no service ${name})`,
        );
      }
      if (present) throw usage(`${file} exists already (it defines no service ${name})`);

      // Mode 0600: --env values are often secrets.
      const text = addedFileText(name, keys, new Date());
      return applyFileChange(client, {
        apply: () => {
          onFile('cannot create the folder', folder, () => mkdirSync(folder, { recursive: true }));
          onFile('cannot write', file, () => writeFileSync(file, text, { flag: 'wx', mode: 0o600 }));
        },
        undo: () => onFile('cannot delete', file, () => unlinkSync(file)),
      });
    });
    if (!applied.ok) {
      ctx.fail(ExitCode.CONFIG_INVALID);
      if (ctx.json) return printJson({ ok: false, file, issues: applied.issues });
      return printRefusal(applied.issues, `${name} not added (${file} removed)`);
    }
    const outcomes: OutcomeItem[] = o.stopped === true ? [] : await client.start([name]);
    if (outcomes.some((x) => !x.ok)) ctx.fail(ExitCode.ACTION_FAILED);
    if (ctx.json) return printJson({ ok: true, file, changes: applied.reload.changes, outcomes });
    process.stdout.write(`${name}: added: ${file}\n`);
    if (o.stopped === true) process.stdout.write(`${name}: stopped; start it with: upk start ${name}\n`);
    printOutcomes(outcomes);
  });
}
