// upk completion bash|zsh|fish: the completion script; upk __complete services|actions NAME: the names it offers.
import { Argument, type Command } from 'commander';
import { configuredServices, connect, upkeeperVersion, type Client } from '../../../libclient/index.js';
import { bashScript } from '../completion/bash.js';
import { fishScript } from '../completion/fish.js';
import { commandTree } from '../completion/tree.js';
import { zshScript } from '../completion/zsh.js';
import type { Context } from '../context.js';

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript };
/** A completion waits this long for the controller before it reads the files instead. */
const CONTROLLER_MS = 500;

export function registerCompletion(program: Command, ctx: Context): void {
  program
    .command('completion')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(Object.keys(SCRIPTS)))
    .description('print the shell completion script for bash, zsh or fish (commands, options, service and action names)')
    .action((shell: keyof typeof SCRIPTS) => {
      process.stdout.write(SCRIPTS[shell](commandTree(program), upkeeperVersion()));
    });

  // What the scripts call at each completion; hidden from the help. Prints nothing on any trouble.
  program
    .command('__complete', { hidden: true })
    .addArgument(new Argument('<what>', 'services, or actions').choices(['services', 'actions']))
    .argument('[name]', 'for actions: the service')
    .description(
      'the service ids, or the actions of service NAME, one a line: from the controller when it answers quickly, else from the files',
    )
    .action(async (what: 'services' | 'actions', name: string | undefined) => {
      const names = what === 'services' ? await serviceIds(ctx) : name === undefined ? [] : await actionNames(ctx, name);
      process.stdout.write(names.map((n) => `${n}\n`).join(''));
    });
}

/** `run` against the controller, if it answers within CONTROLLER_MS; null otherwise. */
async function fromController<T>(ctx: Context, run: (client: Client) => Promise<T>): Promise<T | null> {
  let client: Client | null = null;
  let abandoned = false;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), CONTROLLER_MS)));
  const asked = (async () => {
    const c = await connect({ ...ctx.connectOptions(), timeoutMs: CONTROLLER_MS, reconnectMs: 0 });
    if (abandoned) return (c.close(), null);
    client = c;
    return run(c);
  })().catch(() => null);
  try {
    return await Promise.race([asked, late]);
  } finally {
    abandoned = true;
    clearTimeout(timer);
    (client as Client | null)?.close();
  }
}

function fromFiles(ctx: Context): { id: string; actions: string[] }[] {
  try {
    return configuredServices({ ...ctx.connectOptions(), env: process.env }).map((s) => ({
      id: s.id,
      actions: s.customActions.map((a) => a.name),
    }));
  } catch {
    return [];
  }
}

async function serviceIds(ctx: Context): Promise<string[]> {
  const live = await fromController(ctx, (c) => c.list());
  return live ? live.map((s) => s.name) : fromFiles(ctx).map((s) => s.id);
}

async function actionNames(ctx: Context, service: string): Promise<string[]> {
  const live = await fromController(ctx, async (c) => (await c.status(service))[0]?.actions ?? []);
  if (live) return live;
  const all = fromFiles(ctx);
  // A bare name means the one service of that name in any package, as the controller resolves it.
  const packaged = all.filter((s) => s.id.endsWith(`::${service}`));
  const found = all.find((s) => s.id === service) ?? (packaged.length === 1 ? packaged[0] : undefined);
  return found?.actions ?? [];
}
