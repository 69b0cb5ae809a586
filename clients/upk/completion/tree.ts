// What shell completion knows of upk, read from commander's command tree: commands, options, arguments.
import type { Command, Option } from 'commander';
import { EVENT_TYPE_NAMES, TREND_METRICS } from '../../../libclient/index.js';

/** What a value or an argument is completed with. */
export type Completion =
  | { kind: 'service' } // a service id, from the controller or else the files (`upk __complete services`)
  | { kind: 'action' } // an action of the service named before it (`upk __complete actions NAME`)
  | { kind: 'command' } // a command of upk (`upk help COMMAND`)
  | { kind: 'file' }
  | { kind: 'words'; words: string[] }
  | { kind: 'none' };

export interface OptionSpec {
  /** `-c`, `--config`. */
  flags: string[];
  description: string;
  /** What its value is completed with; null for an option that takes no value. */
  value: Completion | null;
}

export interface ArgumentSpec {
  completion: Completion;
  variadic: boolean;
}

export interface CommandSpec {
  /** The names from the root, e.g. ['controller', 'start']; [] for upk itself. */
  path: string[];
  /** Its name and aliases (`list`, `ls`). */
  names: string[];
  description: string;
  commands: CommandSpec[];
  /** Its own options, and upk's global ones (accepted after any command). */
  options: OptionSpec[];
  arguments: ArgumentSpec[];
}

/** Signals people send by name (`upk signal`, `upk events --signal`). */
export const SIGNALS = ['HUP', 'INT', 'QUIT', 'KILL', 'USR1', 'USR2', 'TERM', 'CONT', 'STOP', 'TSTP', 'WINCH', 'ALRM'];

/** Option values upk knows, by long flag (choices declared with commander come first). */
const OPTION_VALUES: Record<string, Completion> = {
  '--config': { kind: 'file' },
  '--cwd': { kind: 'file' },
  '--environment-file': { kind: 'file' },
  '--output': { kind: 'file' },
  '--error': { kind: 'file' },
  '--type': { kind: 'words', words: [...EVENT_TYPE_NAMES] },
  '--metric': { kind: 'words', words: [...TREND_METRICS] },
  '--signal': { kind: 'words', words: SIGNALS },
  '--service': { kind: 'service' },
};

/** Arguments by their name in the command's definition (`.argument('<name...>')`). */
const ARGUMENTS: Record<string, Completion> = {
  name: { kind: 'service' },
  action: { kind: 'action' },
  signal: { kind: 'words', words: SIGNALS },
  command: { kind: 'command' },
};

function optionSpec(option: Option): OptionSpec {
  const flags = [option.short, option.long].filter((f): f is string => f !== undefined);
  const takesValue = option.required || option.optional;
  const value = !takesValue
    ? null
    : option.argChoices
      ? { kind: 'words' as const, words: option.argChoices }
      : (OPTION_VALUES[option.long ?? ''] ?? { kind: 'none' as const });
  return { flags, description: option.description, value };
}

/** The visible tree under `command` (hidden commands and options left out). */
export function commandTree(program: Command): CommandSpec {
  const help = program.createHelp();
  const global = help
    .visibleOptions(program)
    .filter((o) => o.long !== '--help' && o.long !== '--version')
    .map(optionSpec);
  const walk = (command: Command, path: string[]): CommandSpec => {
    const own = help.visibleOptions(command).map(optionSpec);
    const options = path.length === 0 ? own : [...own, ...global.filter((g) => !own.some((o) => o.flags.some((f) => g.flags.includes(f))))];
    return {
      path,
      names: [command.name(), ...command.aliases()],
      description: command.description(),
      commands: help.visibleCommands(command).map((c) => walk(c, [...path, c.name()])),
      options,
      arguments: command.registeredArguments.map((a) => ({
        completion: a.argChoices ? { kind: 'words', words: a.argChoices } : (ARGUMENTS[a.name()] ?? { kind: 'none' }),
        variadic: a.variadic,
      })),
    };
  };
  return walk(program, []);
}

/** Every command of the tree, upk itself first. */
export function allCommands(root: CommandSpec): CommandSpec[] {
  return [root, ...root.commands.flatMap(allCommands)];
}

/** A completion as one word of a script: `service`, `action`, `command`, `file`, `none` or `words:a,b,c`. */
export function token(completion: Completion): string {
  return completion.kind === 'words' ? `words:${completion.words.filter((w) => /^[\w.@:+-]+$/.test(w)).join(',')}` : completion.kind;
}

/** The arguments of a command as words of a script, `...` after one that repeats (`service...`). */
export function argumentTokens(command: CommandSpec): string[] {
  return command.arguments.map((a) => token(a.completion) + (a.variadic ? '...' : ''));
}

/** What an option's value is completed with, as a word of a script; `flag` for an option without a value. */
export function valueToken(option: OptionSpec): string {
  return option.value === null ? 'flag' : token(option.value);
}

/** A command's path as scripts match it: `controller start`, '' for upk itself. */
export const pathKey = (command: CommandSpec): string => command.path.join(' ');

/** The first line of a description, without what shells would trip on. */
export const oneLine = (text: string): string => text.split('\n')[0]!.replace(/\s+/g, ' ').trim();
