// The controller config file (upkeeper.conf): which file, reading it, checking it, filling in defaults.
import path from 'node:path';
import type { ConfigIssue, ControllerConfig } from './types.js';
import { type JsonObjectNode, toValue } from './json-node.js';
import { Accounts, type Host, currentHost } from './accounts.js';
import { type CheckContext, checkValue } from './check-value.js';
import { AUDIT_MAX_AGE_DEFAULT, AUDIT_MAX_RECORDS_DEFAULT, CONTROLLER_KEYS, SERVICE_KEYS, findKey } from './keys.js';
import { duplicateMessage, parseTree } from './jsonc.js';
import { expectedGot, makeIssue, sortIssues, unknownKeyMessage } from './issues.js';
import { defaultConfigFile, defaultStateDir, resolvePath } from './paths.js';
import { checkServiceKeys, layerToObject } from './service-layer.js';
import { checkOnEvent } from './on-event.js';
import { readText } from './read-file.js';

export interface ConfigOptions {
  config?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * Which controller config file to read: opts.config, else env.UPKEEPER_CONFIG, else
 * $XDG_CONFIG_HOME/upkeeper/upkeeper.conf (XDG_CONFIG_HOME defaults to ~/.config). explicit=false only for
 * the default path. A relative path resolves against the current directory; `~/` expands.
 */
export function resolveConfigFile(opts: ConfigOptions): { file: string; explicit: boolean } {
  const env = opts.env ?? process.env;
  const given = opts.config !== undefined && opts.config !== '' ? opts.config : env['UPKEEPER_CONFIG'];
  if (given === undefined || given === '') return { file: defaultConfigFile(env), explicit: false };
  const resolved = resolvePath(given, process.cwd(), env);
  return { file: 'path' in resolved ? resolved.path : path.resolve(given), explicit: true };
}

/**
 * Read and check the controller config. A missing *default* file is not an error: defaults apply and
 * config.file is null. A missing explicit file is an issue.
 *
 * config is null whenever there is an issue: a file with any problem is not used, so nothing runs
 * with settings other than those written (a misspelt SetUID in ServiceDefaults must not fall back to
 * another user). config.serviceDefaults holds the checked ServiceDefaults keys, canonical name → value.
 */
export function loadControllerConfig(opts: ConfigOptions): { config: ControllerConfig | null; issues: ConfigIssue[] } {
  return loadControllerConfigWith(opts, currentHost());
}

/** loadControllerConfig with the process facts (uid, gid, account files) given. */
export function loadControllerConfigWith(opts: ConfigOptions, host: Host): { config: ControllerConfig | null; issues: ConfigIssue[] } {
  const env = opts.env ?? process.env;
  const { file, explicit } = resolveConfigFile(opts);
  const read = readText(file);
  if (!('text' in read)) {
    if (read.missing && !explicit) return { config: defaults(null, file, env, {}), issues: [] };
    return { config: null, issues: [makeIssue(file, null, '', read.message)] };
  }
  const { node, issues } = parseTree(read.text, file);
  if (node === null) return { config: null, issues };
  if (node.kind !== 'object') {
    return { config: null, issues: [makeIssue(file, node.pos, '', expectedGot('an object of controller keys', toValue(node)))] };
  }
  const ctx: CheckContext = { file, baseDir: path.dirname(file), env, accounts: new Accounts(host) };
  const { values, serviceDefaults, issues: keyIssues } = checkControllerKeys(node, ctx);
  if (keyIssues.length > 0) return { config: null, issues: sortIssues(keyIssues) };
  return { config: defaults(file, file, env, values, serviceDefaults), issues: [] };
}

function checkControllerKeys(node: JsonObjectNode, ctx: CheckContext) {
  const values: Record<string, unknown> = {};
  let serviceDefaults: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, JsonObjectNode['entries'][number]>();
  for (const entry of node.entries) {
    if (entry.key.toLowerCase() === '$schema') {
      if (entry.value.kind !== 'string')
        issues.push(makeIssue(ctx.file, entry.value.pos, '$schema', expectedGot('the URL or path of a JSON Schema', toValue(entry.value))));
      continue;
    }
    const spec = findKey(CONTROLLER_KEYS, entry.key);
    if (spec === undefined) {
      issues.push(makeIssue(ctx.file, entry.keyPos, entry.key, unknownControllerKey(entry.key)));
      continue;
    }
    const first = seen.get(spec.name);
    if (first !== undefined) {
      issues.push(makeIssue(ctx.file, entry.keyPos, spec.name, duplicateMessage(entry.key, first)));
      continue;
    }
    seen.set(spec.name, entry);
    if (spec.type.kind === 'defaults') {
      if (entry.value.kind !== 'object') {
        issues.push(makeIssue(ctx.file, entry.value.pos, spec.name, expectedGot('an object of service keys', toValue(entry.value))));
        continue;
      }
      const checked = checkServiceKeys(entry.value, spec.name, ctx, 'defaults');
      issues.push(...checked.issues);
      serviceDefaults = layerToObject(checked.layer);
      continue;
    }
    const checked =
      spec.type.kind === 'hooks' ? checkOnEvent(entry.value, spec.name, ctx) : checkValue(spec.type, entry.value, spec.name, ctx);
    issues.push(...checked.issues);
    if (checked.issues.length === 0) values[spec.name] = checked.value;
  }
  return { values, serviceDefaults, issues };
}

function unknownControllerKey(written: string): string {
  const serviceKey = findKey(SERVICE_KEYS, written);
  if (serviceKey !== undefined) return `${serviceKey.name} is a service key, not a controller key: put it inside ServiceDefaults`;
  return unknownKeyMessage(
    written,
    CONTROLLER_KEYS.map((spec) => spec.name),
  );
}

/** The config with every key not given filled in; `where` is the path of the config file, read or not. */
function defaults(
  file: string | null,
  where: string,
  env: NodeJS.ProcessEnv,
  values: Record<string, unknown>,
  serviceDefaults: Record<string, unknown> = {},
): ControllerConfig {
  const given = (name: string): unknown => values[name] ?? null;
  const stateDir = (given('StateDir') as string | null) ?? defaultStateDir(env);
  return {
    file,
    stateDir,
    svcConfigPath: (given('SvcConfigPath') as string | null) ?? path.join(path.dirname(where), 'upkeeper.d'),
    svcRunPath: (given('SvcRunPath') as string | null) ?? path.join(stateDir, 'run'),
    buddyPollingInterval: (given('BuddyPollingInterval') as number | null) ?? 0.5,
    upkBuddyPath: given('UpkBuddyPath') as string | null,
    // null written in the file means no limit; not written means the built-in one.
    auditMaxAge: 'AuditMaxAge' in values ? (values['AuditMaxAge'] as number | null) : AUDIT_MAX_AGE_DEFAULT,
    auditMaxRecords: 'AuditMaxRecords' in values ? (values['AuditMaxRecords'] as number | null) : AUDIT_MAX_RECORDS_DEFAULT,
    serviceDefaults,
    onEvent: (values['OnEvent'] as ControllerConfig['onEvent'] | undefined) ?? [],
    fleetDatabase: given('FleetDatabase') as string | null,
    fleetHost: given('FleetHost') as string | null,
  };
}
