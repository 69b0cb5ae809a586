// OnEvent: the hooks the controller runs for chosen events, checked field by field (controller/event-hooks.ts runs them).
import path from 'node:path';
import { DURATION_PATTERN } from '../durations.js';
import { EVENT_TYPE_NAMES, type EventType } from '../records.js';
import { type CheckContext, checkValue } from './check-value.js';
import { expectedGot, joinKey, makeIssue, nearestName, unknownKeyMessage } from './issues.js';
import type { JsonNode } from './json-node.js';
import { toValue } from './json-node.js';
import { duplicateKeyIssues } from './jsonc.js';
import { HOOK_MIN_INTERVAL_DEFAULT, HOOK_TIMEOUT_DEFAULT, type ValueType } from './keys.js';
import { NAME_PATTERN, NAME_RE, NAME_RULE, SERVICE_ID_PATTERN, isValidServiceId, serviceIdProblem } from './names.js';
import { resolvePath } from './paths.js';
import { findOnPath, unrunnable } from '../programs.js';
import type { ConfigIssue, EventHook } from './types.js';

/** One field of a hook, for the checks, the JSON Schema and the docs. */
export interface HookField {
  readonly name: 'Name' | 'Events' | 'Services' | 'Command' | 'MinInterval' | 'Timeout';
  readonly required: boolean;
  readonly defaultText: string;
  readonly description: string;
}

export const HOOK_FIELDS: readonly HookField[] = [
  {
    name: 'Name',
    required: false,
    defaultText: 'the file name of the program (the last part of Command[0])',
    description: `The hook's name, in the log, in upk hooks and in the database, and how a run is known to have happened once (${NAME_RULE}). Each hook needs its own.`,
  },
  {
    name: 'Events',
    required: true,
    defaultText: 'none: required',
    description: 'The event types that run the hook (docs/events.md), a non-empty list.',
  },
  {
    name: 'Services',
    required: false,
    defaultText: 'null: every service',
    description:
      'Only the events of these services: service ids; the id of a service with Instances means each of its instances. null: every service.',
  },
  {
    name: 'Command',
    required: true,
    defaultText: 'none: required',
    description:
      'The program and its arguments, a list of strings run as written (never by a shell). A program with a "/" is relative to the folder of this file (~ is the home directory); one without is looked up in PATH.',
  },
  {
    name: 'MinInterval',
    required: false,
    defaultText: `${HOOK_MIN_INTERVAL_DEFAULT} (1 minute)`,
    description:
      'At most one run of the hook per service within this many seconds (or a duration such as "5m"); the events in between are recorded as skipped. 0: no limit.',
  },
  {
    name: 'Timeout',
    required: false,
    defaultText: `${HOOK_TIMEOUT_DEFAULT} (30 seconds)`,
    description: 'Seconds (or a duration) a run may take: then its process group gets SIGTERM, and SIGKILL 2 s later.',
  },
];

const MIN_INTERVAL: ValueType = { kind: 'number', integer: false, seconds: true, min: 0 };
const TIMEOUT: ValueType = { kind: 'number', integer: false, seconds: true, min: 0, minExclusive: true };

/** The JSON Schema of OnEvent (json-schema.ts). */
export function onEventSchema(): Record<string, unknown> {
  const seconds = (min: Record<string, number>) => ({ type: ['number', 'string'], pattern: DURATION_PATTERN, ...min });
  const schemas: Record<HookField['name'], Record<string, unknown>> = {
    Name: { type: 'string', pattern: `^${NAME_PATTERN}$` },
    Events: { type: 'array', minItems: 1, items: { type: 'string', enum: [...EVENT_TYPE_NAMES] } },
    Services: { type: ['array', 'null'], minItems: 1, items: { type: 'string', pattern: SERVICE_ID_PATTERN } },
    Command: { type: 'array', minItems: 1, items: [{ type: 'string', minLength: 1 }], additionalItems: { type: 'string' } },
    MinInterval: { ...seconds({ minimum: 0 }), default: HOOK_MIN_INTERVAL_DEFAULT },
    Timeout: { ...seconds({ exclusiveMinimum: 0 }), default: HOOK_TIMEOUT_DEFAULT },
  };
  return {
    type: 'array',
    items: {
      type: 'object',
      properties: Object.fromEntries(HOOK_FIELDS.map((f) => [f.name, { description: f.description, ...schemas[f.name] }])),
      required: HOOK_FIELDS.filter((f) => f.required).map((f) => f.name),
      additionalProperties: false,
    },
  };
}

interface Checked {
  value: unknown;
  issues: ConfigIssue[];
}

/** OnEvent: a list of hooks, each checked; names must differ (a run is known by its hook's name and event). */
export function checkOnEvent(node: JsonNode, key: string, ctx: CheckContext): Checked {
  if (node.kind !== 'array')
    return { value: undefined, issues: [makeIssue(ctx.file, node.pos, key, expectedGot('a list of hooks', toValue(node)))] };
  const issues: ConfigIssue[] = [];
  const hooks: EventHook[] = [];
  const named = new Map<string, number>();
  node.items.forEach((item, i) => {
    const at = `${key}[${i}]`;
    const checked = checkHook(item, at, ctx);
    issues.push(...checked.issues);
    if (!checked.hook) return;
    const first = named.get(checked.hook.name.toLowerCase());
    if (first !== undefined) {
      const message = `${key}[${first}] is named ${JSON.stringify(checked.hook.name)} too: give each hook its own Name`;
      issues.push(makeIssue(ctx.file, item.pos, joinKey(at, 'Name'), message));
      return;
    }
    named.set(checked.hook.name.toLowerCase(), i);
    hooks.push(checked.hook);
  });
  return issues.length > 0 ? { value: undefined, issues } : { value: hooks, issues };
}

function checkHook(node: JsonNode, at: string, ctx: CheckContext): { hook: EventHook | null; issues: ConfigIssue[] } {
  if (node.kind !== 'object') {
    return {
      hook: null,
      issues: [makeIssue(ctx.file, node.pos, at, expectedGot('a hook: an object with Events and Command', toValue(node)))],
    };
  }
  const issues = duplicateKeyIssues(node, ctx.file, at);
  const given = new Map<HookField['name'], JsonNode>();
  for (const entry of node.entries) {
    const field = HOOK_FIELDS.find((f) => f.name.toLowerCase() === entry.key.toLowerCase());
    if (field === undefined) {
      const names = HOOK_FIELDS.map((f) => f.name);
      issues.push(
        makeIssue(ctx.file, entry.keyPos, joinKey(at, entry.key), `${unknownKeyMessage(entry.key, names)}: a hook has ${names.join(', ')}`),
      );
    } else if (!given.has(field.name)) given.set(field.name, entry.value);
  }
  for (const field of HOOK_FIELDS) {
    if (field.required && !given.has(field.name))
      issues.push(makeIssue(ctx.file, node.pos, joinKey(at, field.name), `${field.name} is required`));
  }
  const value = <T>(name: HookField['name'], check: (v: JsonNode, key: string) => Checked, fallback: T): T => {
    const v = given.get(name);
    if (v === undefined) return fallback;
    const checked = check(v, joinKey(at, name));
    issues.push(...checked.issues);
    return checked.issues.length === 0 ? (checked.value as T) : fallback;
  };
  const command = value<string[] | null>('Command', (v, key) => checkCommand(v, key, ctx), null);
  const hook: EventHook = {
    name: value('Name', (v, key) => checkName(v, key, ctx.file), command ? path.basename(command[0]!) : ''),
    events: value<EventType[]>('Events', (v, key) => checkEvents(v, key, ctx.file), []),
    services: value<string[] | null>('Services', (v, key) => checkServices(v, key, ctx.file), null),
    command: command ?? [],
    minInterval: value('MinInterval', (v, key) => checkValue(MIN_INTERVAL, v, key, ctx), HOOK_MIN_INTERVAL_DEFAULT),
    timeout: value('Timeout', (v, key) => checkValue(TIMEOUT, v, key, ctx), HOOK_TIMEOUT_DEFAULT),
    ...(given.has('Command') ? { commandAt: given.get('Command')!.pos } : {}),
  };
  if (command && !given.has('Name') && !NAME_RE.test(hook.name)) {
    issues.push(
      makeIssue(ctx.file, node.pos, joinKey(at, 'Name'), `${JSON.stringify(hook.name)} (from Command) is no name (${NAME_RULE}): set Name`),
    );
  }
  return { hook: issues.length === 0 ? hook : null, issues };
}

function checkName(node: JsonNode, key: string, file: string): Checked {
  if (node.kind === 'string' && NAME_RE.test(node.value)) return { value: node.value, issues: [] };
  return { value: undefined, issues: [makeIssue(file, node.pos, key, expectedGot(`a name (${NAME_RULE})`, toValue(node)))] };
}

/** Event types from EVENT_TYPE_NAMES (a misspelt one is named, with the nearest type). */
function checkEvents(node: JsonNode, key: string, file: string): Checked {
  if (node.kind !== 'array' || node.items.length === 0) {
    return { value: undefined, issues: [makeIssue(file, node.pos, key, expectedGot('a non-empty list of event types', toValue(node)))] };
  }
  const issues: ConfigIssue[] = [];
  const types = new Set<EventType>();
  node.items.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (item.kind !== 'string') return issues.push(makeIssue(file, item.pos, at, expectedGot('an event type', toValue(item))));
    if ((EVENT_TYPE_NAMES as readonly string[]).includes(item.value)) return types.add(item.value as EventType);
    const near = nearestName(item.value, EVENT_TYPE_NAMES);
    const hint = near === null ? '' : ` (did you mean ${JSON.stringify(near)}?)`;
    return issues.push(
      makeIssue(
        file,
        item.pos,
        at,
        `unknown event type ${JSON.stringify(item.value)}${hint}; the event types are ${EVENT_TYPE_NAMES.join(', ')}`,
      ),
    );
  });
  return { value: [...types], issues };
}

function checkServices(node: JsonNode, key: string, file: string): Checked {
  if (node.kind === 'null') return { value: null, issues: [] };
  if (node.kind !== 'array' || node.items.length === 0) {
    const what = 'a non-empty list of service ids, or null for every service';
    return { value: undefined, issues: [makeIssue(file, node.pos, key, expectedGot(what, toValue(node)))] };
  }
  const issues: ConfigIssue[] = [];
  const ids: string[] = [];
  node.items.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (item.kind !== 'string') issues.push(makeIssue(file, item.pos, at, expectedGot('a service id', toValue(item))));
    else if (!isValidServiceId(item.value)) issues.push(makeIssue(file, item.pos, at, serviceIdProblem(item.value)));
    else ids.push(item.value);
  });
  return { value: ids, issues };
}

/** The program and its arguments; never a shell line (no user text is ever pasted into a shell). */
function checkCommand(node: JsonNode, key: string, ctx: CheckContext): Checked {
  if (node.kind !== 'array' || node.items.length === 0) {
    const what = 'a list of strings: the program and its arguments (a hook never runs a shell line)';
    return { value: undefined, issues: [makeIssue(ctx.file, node.pos, key, expectedGot(what, toValue(node)))] };
  }
  const issues: ConfigIssue[] = [];
  const argv: string[] = [];
  node.items.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (item.kind !== 'string')
      issues.push(makeIssue(ctx.file, item.pos, at, expectedGot('a string (a program or argument)', toValue(item))));
    else if (item.value.includes('\0')) issues.push(makeIssue(ctx.file, item.pos, at, 'an argument cannot hold a NUL character'));
    else if (i === 0 && item.value.trim() === '')
      issues.push(makeIssue(ctx.file, item.pos, at, 'the program (the first word) cannot be empty'));
    else if (i > 0 || !item.value.includes('/')) argv.push(item.value);
    else {
      const resolved = resolvePath(item.value, ctx.baseDir, ctx.env);
      if ('message' in resolved) issues.push(makeIssue(ctx.file, item.pos, at, resolved.message));
      else argv.push(resolved.path);
    }
  });
  return { value: argv, issues };
}

/** Where a program is looked for without PATH. */
const HOOK_DEFAULT_PATH = '/usr/bin:/bin';

/**
 * The hooks whose program cannot be run (upk check-config): a path that is no executable file, or a
 * name PATH does not find, from `cwd` (where runs run: StateDir). `env` is the checker's, which may differ from the controller's; a reload
 * accepts such a hook (its runs fail, each recorded with why), so that a deleted script never keeps
 * a controller from starting.
 */
export function hookProgramIssues(file: string, hooks: readonly EventHook[], env: NodeJS.ProcessEnv, cwd: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // As a run looks: an empty or relative entry of PATH from where it runs, no PATH as /usr/bin:/bin (execvp's and node's default).
  const search = (env.PATH ?? HOOK_DEFAULT_PATH)
    .split(':')
    .map((dir) => path.resolve(cwd, dir))
    .join(':');
  hooks.forEach((hook, i) => {
    const program = hook.command[0];
    if (program === undefined) return;
    const why = program.includes('/')
      ? unrunnable(program)
      : findOnPath(program, search) === null
        ? `is not found in PATH (${env.PATH ?? `unset: ${HOOK_DEFAULT_PATH}`})`
        : null;
    if (why !== null) {
      issues.push(
        makeIssue(
          file,
          hook.commandAt ?? null,
          `OnEvent[${i}].Command[0]`,
          `${JSON.stringify(program)} ${why}: every run of hook ${hook.name} would fail`,
        ),
      );
    }
  });
  return issues;
}
