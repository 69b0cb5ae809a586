// upk startup [--print] [--system --user NAME], upk unstartup: systemd starts the controller at login or at boot.
import type { Command } from 'commander';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  Client,
  ErrorCode,
  ExitCode,
  UpkError,
  startController,
  startupUnit,
  startupUnitFile,
  stopController,
  type ControllerInfo,
  type DiscoveryOptions,
  type StartupUnit,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson, shellWord } from '../output.js';
import { bootedWithSystemd, lingers, mainPid, managerReachable, systemctl, type Scope } from '../systemctl.js';

interface Options {
  print?: boolean;
  system?: boolean;
  user?: string;
}

/** How long systemd's controller may take to answer. */
const ANSWER_MS = 15_000;

export function registerStartup(program: Command, ctx: Context): void {
  program
    .command('startup')
    .option('--print', 'only print the unit: nothing is written or enabled')
    .option('--system', 'a system unit, /etc/systemd/system/upkeeper-NAME.service, started at boot (as root, with --user)')
    .option('--user <name>', 'with --system: the user the controller runs as')
    .description('write and enable a systemd unit that starts the controller at login (or at boot: --system, or loginctl enable-linger)')
    .action((opts: Options) => startup(ctx, opts));

  program
    .command('unstartup')
    .option('--system', 'the system unit of upk startup --system')
    .option('--user <name>', 'with --system: the user it runs the controller as')
    .description('disable and remove the unit of upk startup; a controller it runs goes on outside systemd')
    .action((opts: Options) => unstartup(ctx, opts));
}

function systemUser(opts: Options): string | undefined {
  if (opts.system && opts.user === undefined)
    throw new UpkError(ErrorCode.BAD_REQUEST, '--system needs --user NAME: the user the controller runs as');
  if (!opts.system && opts.user !== undefined)
    throw new UpkError(ErrorCode.BAD_REQUEST, '--user NAME goes with --system; without both, the unit is your own user unit');
  return opts.user;
}

/** `systemctl --user` or `systemctl`, as a person would type it. */
/** What --json tells of a unit, with or without its text. */
const aboutUnit = (unit: StartupUnit): Pick<StartupUnit, 'name' | 'file' | 'scope' | 'user' | 'configFile'> => ({
  name: unit.name,
  file: unit.file,
  scope: unit.scope,
  user: unit.user,
  configFile: unit.configFile,
});

const typed = (scope: Scope, args: string): string => `systemctl${scope === 'user' ? ' --user' : ''} ${args}`;

async function startup(ctx: Context, opts: Options): Promise<void> {
  const user = systemUser(opts);
  const config = ctx.options().config;
  const unit = startupUnit({
    ...(config === undefined ? {} : { config }),
    env: process.env,
    ...(user === undefined ? {} : { systemUser: user }),
  });
  if (opts.print) {
    if (ctx.json) return printJson({ ...aboutUnit(unit), text: unit.text });
    process.stdout.write(unit.text);
    return;
  }
  if (unit.scope === 'system' && process.getuid?.() !== 0) {
    throw new UpkError(ErrorCode.INTERNAL, `upk startup --system writes ${unit.file} and runs systemctl: run it as root`);
  }
  const manager = await managerReachable(unit.scope);
  if (!manager.ok) return noManager(ctx, unit, manager.why);

  mkdirSync(dirname(unit.file), { recursive: true });
  writeFileSync(`${unit.file}.new`, unit.text);
  chmodSync(`${unit.file}.new`, 0o644);
  renameSync(`${unit.file}.new`, unit.file);
  if (!ctx.json) process.stdout.write(`wrote ${unit.file}\n`);
  await must(systemctl(unit.scope, ['daemon-reload']));

  // A controller that runs outside systemd holds StateDir: the unit's would exit at once (9). It
  // stops alone, as with upk controller stop; the buddies and services run on.
  const underSystemd = await mainPid(unit.scope, unit.name);
  const running = await answering(unit.discovery);
  let previous: ControllerInfo | null = null;
  if (running && running.pid !== underSystemd) {
    await stopController(unit.discovery);
    previous = running;
    if (!ctx.json) process.stdout.write(`the controller that ran outside systemd (pid ${running.pid}) stopped; services keep running\n`);
  }
  let controller: ControllerInfo | null = null;
  let failure = '';
  const enabled = await systemctl(unit.scope, ['enable', unit.name]);
  if (!enabled.ok) failure = enabled.why;
  else {
    // restart: starts it, or replaces a controller it runs with one of the unit just written.
    const started = await systemctl(unit.scope, ['restart', unit.name]);
    const outcome = started.ok ? await systemdController(unit) : started.why;
    if (typeof outcome === 'string') failure = outcome;
    else controller = outcome;
  }
  if (!controller) {
    const lines = [
      `upk: ${failure}`,
      `upk: see ${typed(unit.scope, `status ${unit.name}`)} and journalctl${unit.scope === 'user' ? ' --user' : ''} -u ${unit.name}`,
    ];
    if (previous) {
      const again = await startController(unit.discovery).then(
        (s) => `upk: started the controller outside systemd again (pid ${s.controller.pid})`,
        (err: Error) => `upk: could not start the controller again: ${err.message}`,
      );
      lines.push(again);
    }
    process.stderr.write(lines.join('\n') + '\n');
    ctx.fail(ExitCode.ERROR);
    return;
  }
  const linger = unit.scope === 'user' && lingers(unit.user);
  if (ctx.json)
    return printJson({
      ...aboutUnit(unit),
      controller,
      previous,
      linger,
    });
  const who = unit.scope === 'system' ? ` as ${unit.user}` : '';
  const lines = [`${unit.name} enabled and started: the controller runs${who} under systemd (pid ${controller.pid})`];
  if (unit.scope === 'system') lines.push('it starts at every boot');
  else if (linger) lines.push(`it starts at every boot (linger is on for ${unit.user})`);
  else {
    lines.push(
      `it starts when ${unit.user}'s systemd starts, at login; that systemd stops at the last logout, and the controller, buddies and services with it.`,
      `To start it at boot and keep it after logout: loginctl enable-linger ${shellWord(unit.user)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

async function unstartup(ctx: Context, opts: Options): Promise<void> {
  const user = systemUser(opts);
  const where = startupUnitFile({ env: process.env, ...(user === undefined ? {} : { systemUser: user }) });
  if (where.scope === 'system' && process.getuid?.() !== 0) {
    throw new UpkError(ErrorCode.INTERNAL, `upk unstartup --system removes ${where.file} and runs systemctl: run it as root`);
  }
  const manager = await managerReachable(where.scope);
  const existed = existsSync(where.file);
  const pid = manager.ok ? await mainPid(where.scope, where.name) : 0;
  if (!existed && pid === 0) {
    if (ctx.json) return printJson({ name: where.name, file: where.file, removed: false, stopped: null, controller: null });
    process.stdout.write(`no unit at ${where.file}: nothing to remove\n`);
    return;
  }
  // Without a manager, disable only removes the links the unit's [Install] made.
  const disabled = await systemctl(where.scope, ['disable', where.name]);
  if (!disabled.ok && manager.ok && existed) await must(disabled);
  if (pid > 0) await must(systemctl(where.scope, ['stop', where.name])); // the controller alone: KillMode=process
  rmSync(where.file, { force: true });
  if (manager.ok) await must(systemctl(where.scope, ['daemon-reload']));
  const lines = [`${where.name} disabled; removed ${where.file}`];
  let controller: ControllerInfo | null = null;
  if (pid > 0 && where.scope === 'user') {
    // The controller it ran stopped alone; one outside systemd carries on supervising.
    const config = ctx.options().config;
    const discovery = { ...(config === undefined ? {} : { config }), env: process.env };
    controller = (await startController(discovery)).controller;
    lines.push(`the controller it ran (pid ${pid}) stopped; one outside systemd took over (pid ${controller.pid}); services keep running`);
  } else if (pid > 0) {
    lines.push(
      `the controller it ran as ${user} (pid ${pid}) stopped; services keep running; to start one as ${user}: su ${shellWord(user!)} -c 'upk controller start'`,
    );
  } else if (!manager.ok) {
    lines.push(`no systemd answers (${manager.why}): a controller such a unit started, if one runs, runs on until upk controller stop`);
  }
  if (ctx.json) return printJson({ name: where.name, file: where.file, removed: true, stopped: pid > 0 ? pid : null, controller });
  process.stdout.write(lines.join('\n') + '\n');
}

/** No systemd answers: nothing is written; say why, and what to do by hand. */
function noManager(ctx: Context, unit: StartupUnit, why: string): void {
  const lines = [`upk: no systemd answers for ${unit.scope === 'user' ? unit.user : 'this machine'} (${why}); nothing was written`];
  if (!bootedWithSystemd()) {
    lines.push(
      `upk: this machine was not booted with systemd (/run/systemd/system is missing): no unit can start the controller here (it would be ${unit.file}; upk startup --print shows it).`,
      `upk: start it by hand, or from this system's own start-up: upk${unit.configFile ? ` --config ${shellWord(unit.configFile)}` : ''} controller start`,
    );
  } else {
    const upk = `upk${unit.configFile ? ` --config ${shellWord(unit.configFile)}` : ''} startup --print${unit.scope === 'system' ? ` --system --user ${shellWord(unit.user)}` : ''}`;
    lines.push(
      unit.scope === 'user'
        ? `upk: run upk startup again in a login session of ${unit.user} (ssh, or a desktop: su and sudo start no user systemd), or do it by hand there:`
        : 'upk: do it by hand, once systemd runs:',
      `  mkdir -p ${shellWord(dirname(unit.file))}`,
      `  ${upk} > ${shellWord(unit.file)}`,
      `  ${typed(unit.scope, 'daemon-reload')}`,
      `  ${typed(unit.scope, `enable --now ${unit.name}`)}`,
    );
    if (unit.scope === 'user') {
      lines.push(
        `upk: loginctl enable-linger ${shellWord(unit.user)} starts ${unit.user}'s systemd now and at every boot; as root, upk startup --system --user ${shellWord(unit.user)} needs no user systemd.`,
      );
    }
  }
  if (ctx.json) printJson({ name: unit.name, file: unit.file, written: false, why });
  process.stderr.write(lines.join('\n') + '\n');
  ctx.fail(ExitCode.ERROR);
}

async function must(ran: Promise<{ ok: boolean; why: string }> | { ok: boolean; why: string }): Promise<void> {
  const r = await ran;
  if (!r.ok) throw new UpkError(ErrorCode.INTERNAL, r.why);
}

/** The controller that answers for these options, or null. */
async function answering(discovery: DiscoveryOptions): Promise<ControllerInfo | null> {
  const client = await Client.connect({ ...discovery, client: 'upk', timeoutMs: 2000, reconnectMs: 0 }).catch(() => null);
  client?.close();
  return client?.controller ?? null;
}

/** The controller the unit started, once it answers; or why there is none. */
async function systemdController(unit: StartupUnit): Promise<ControllerInfo | string> {
  const deadline = Date.now() + ANSWER_MS;
  while (Date.now() < deadline) {
    const info = await answering(unit.discovery);
    if (info) return info;
    const state = await systemctl(unit.scope, ['show', '--property=ActiveState', '--value', unit.name], 10_000);
    if (state.ok && state.stdout.trim() === 'failed') return `${unit.name} failed: its controller exited`;
    await new Promise((r) => setTimeout(r, 200));
  }
  return `${unit.name} started, but no controller answered within ${ANSWER_MS / 1000} s`;
}
