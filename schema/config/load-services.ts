// Reads every service file (*.conf in SvcConfigPath), checks each service, and reports duplicate ids and UUIDs.
import fs from 'node:fs';
import path from 'node:path';
import { conflictsOf, findCycle, providersOf } from './dependencies.js';
import type { ListenSocket } from '../listen.js';
import type { ConfigIssue, ControllerConfig, LoadedServices, ServiceConfig } from './types.js';
import { type JsonNode, type Pos, fromValue, toValue } from './json-node.js';
import { Accounts, type Host, currentHost } from './accounts.js';
import type { CheckContext } from './check-value.js';
import { parseTree } from './jsonc.js';
import { expectedGot, makeIssue, sortIssues } from './issues.js';
import { parseServiceId, serviceIdProblem } from './names.js';
import { type Layer, checkServiceKeys } from './service-layer.js';
import { buildService } from './service-config.js';
import { expandInstances, instanceId } from './instances.js';
import { readText } from './read-file.js';

/** Names the source of ServiceDefaults in issues when the config was not read from a file. */
const NO_FILE = '(ServiceDefaults given in code)';

/** Where a service id was first defined. */
interface Definition {
  id: string;
  file: string;
  pos: Pos;
  /** For the id of an instance: the service with Instances that makes it. */
  instanceOf: { id: string; count: number } | null;
  /** The folded id of the entry that claimed it (set by claim). */
  owner?: string;
}

/**
 * Claim a service id (ids differing only in letter case are the same). null when it was free; else
 * the first claim and an issue at each place, naming the other.
 */
function claim(ids: Map<string, Definition>, def: Definition): { first: Definition; issues: ConfigIssue[] } | null {
  const folded = def.id.toLowerCase();
  const owner = (def.instanceOf?.id ?? def.id).toLowerCase();
  const first = ids.get(folded);
  if (first === undefined) {
    ids.set(folded, { ...def, owner });
    return null;
  }
  const made = (d: Definition): string =>
    d.instanceOf === null ? '' : ` (an instance of ${JSON.stringify(d.instanceOf.id)}, which has Instances ${d.instanceOf.count})`;
  const same = first.id === def.id ? '' : ` (as ${JSON.stringify(first.id)}; ids differing only in letter case collide)`;
  return {
    first,
    issues: [
      makeIssue(
        def.file,
        def.pos,
        def.instanceOf?.id ?? def.id,
        `service ${JSON.stringify(def.id)}${made(def)} is already defined ${where(first, def.file)}${made(first)}${same}`,
      ),
      makeIssue(
        first.file,
        first.pos,
        first.instanceOf?.id ?? first.id,
        `service ${JSON.stringify(first.id)}${made(first)} is defined again ${where(def, first.file)}${made(def)}`,
      ),
    ],
  };
}

/**
 * Read every `*.conf` in config.svcConfigPath (sorted by file name, not recursive; hidden files skipped),
 * layer and check each service. Bad services/files are left out of `services` and reported in `issues`;
 * good ones are returned. A missing SvcConfigPath directory means no services (no issue).
 */
export function loadServices(config: ControllerConfig, env: NodeJS.ProcessEnv = process.env): LoadedServices {
  return loadServicesWith(config, env, currentHost());
}

/** loadServices with the process facts (uid, gid, account files) given. */
export function loadServicesWith(config: ControllerConfig, env: NodeJS.ProcessEnv, host: Host): LoadedServices {
  const accounts = new Accounts(host);
  const defaultsFile = config.file ?? NO_FILE;
  const defaults = checkDefaults(config, env, accounts);
  const issues: ConfigIssue[] = [...defaults.issues];
  const listed = listServiceFiles(config.svcConfigPath);
  if ('message' in listed) {
    issues.push(makeIssue(config.svcConfigPath, null, '', listed.message));
    return { services: [], issues, files: [] };
  }
  const files: string[] = [];
  // foldedId: the entry's id, folded; every instance of an entry shares it, and is left out with it.
  const candidates: { service: ServiceConfig; foldedId: string; uuidPos: Pos; keyPos: (key: string) => Pos }[] = [];
  const ids = new Map<string, Definition>();
  const duplicated = new Set<string>();

  for (const file of listed.files) {
    const read = readText(file);
    if (!('text' in read)) {
      issues.push(makeIssue(file, null, '', read.message));
      continue;
    }
    files.push(file);
    const { node, issues: syntax } = parseTree(read.text, file);
    issues.push(...syntax);
    if (node === null) continue;
    if (node.kind !== 'object') {
      issues.push(makeIssue(file, node.pos, '', expectedGot('an object of services (service id → service keys)', toValue(node))));
      continue;
    }
    const ctx: CheckContext = { file, baseDir: path.dirname(file), env, accounts };
    for (const entry of node.entries) {
      const top = topLevelKey(entry.key, entry.value, file, entry.keyPos);
      if (top !== undefined) {
        issues.push(...top);
        continue;
      }
      const parsed = parseServiceId(entry.key);
      if (parsed === null) {
        issues.push(makeIssue(file, entry.keyPos, entry.key, serviceIdProblem(entry.key)));
        continue;
      }
      // The ids this entry claims: its own (first, so that its duplicate is told before its other
      // problems), then those of its instances.
      const foldedId = entry.key.toLowerCase();
      const claimId = (id: string, instanceOf: Definition['instanceOf']): void => {
        const clash = claim(ids, { id, file, pos: entry.keyPos, instanceOf });
        if (clash === null) return;
        duplicated.add(clash.first.owner!);
        duplicated.add(foldedId);
        issues.push(...clash.issues);
      };
      claimId(entry.key, null);
      const built = buildService({ id: entry.key, ...parsed, file, keyPos: entry.keyPos, node: entry.value }, defaults.layer, ctx);
      issues.push(...built.issues);
      for (let n = 1; n <= (built.instances ?? 0); n++) claimId(instanceId(entry.key, n), { id: entry.key, count: built.instances! });
      if (built.service !== null) {
        const keyPos = (key: string): Pos =>
          entry.value.kind === 'object'
            ? (entry.value.entries.find((e) => e.key.toLowerCase() === key)?.value.pos ?? entry.keyPos)
            : entry.keyPos;
        const services = built.instances === null ? [built.service] : expandInstances(built.service, built.instances);
        for (const service of services) candidates.push({ service, foldedId, uuidPos: keyPos('uuid'), keyPos });
      }
    }
  }

  const unique = dropDuplicateUuids(
    candidates.filter((c) => !duplicated.has(c.foldedId)),
    issues,
  );
  const defined = [...ids.values()].map((d) => d.id);
  const services = checkDependencies(unique, candidates, issues, defined);
  issues.push(...listenClashes(services, candidates));
  return { services, issues: sortIssues(issues, [defaultsFile, config.svcConfigPath, ...listed.files]), files };
}

/**
 * Two services that Listen on the same address could not both run (the second start fails with
 * "Address already in use"), unless they are alternatives: one lists the other in Conflicts.
 */
function listenClashes(services: ServiceConfig[], candidates: { service: ServiceConfig; keyPos: (key: string) => Pos }[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const listening = services.filter((s) => s.listen.length > 0);
  listening.forEach((b, j) => {
    for (const a of listening.slice(0, j)) {
      const clash = b.listen.find((x) => a.listen.some((y) => sameAddress(x, y)));
      if (clash === undefined || conflictsOf(a, services).includes(b)) continue;
      const pos = candidates.find((c) => c.service === b)?.keyPos('listen') ?? null;
      const message = `${clash.address} is also where ${a.id} (${a.file}) listens: both cannot run; give one another address, or make them alternatives with Conflicts`;
      issues.push(makeIssue(b.file, pos, `${b.id}.Listen`, message));
    }
  });
  return issues;
}

/** Whether two sockets take the same address: one Unix path, or one port on the same or every address. */
function sameAddress(x: ListenSocket, y: ListenSocket): boolean {
  if (x.kind !== y.kind) return false;
  if (x.kind === 'unix') return x.path === y.path;
  if (x.port !== y.port) return false;
  // "" and "::" take the port on every address (IPv6 and IPv4); "0.0.0.0" on every IPv4 address.
  const covers = (wide: string, other: string): boolean => wide === '' || wide === '::' || (wide === '0.0.0.0' && !other.includes(':'));
  return x.host === y.host || covers(x.host, y.host) || covers(y.host, x.host);
}

/**
 * Every Prerequisites and Conflicts entry must mean some service, and prerequisites must not form a
 * cycle. A service with such a problem is left out; so, in turn, is one whose prerequisite is left
 * out. (A conflict with a service left out is no problem: it cannot run.)
 */
function checkDependencies(
  services: ServiceConfig[],
  candidates: { service: ServiceConfig; keyPos: (key: string) => Pos }[],
  issues: ConfigIssue[],
  defined: string[],
): ServiceConfig[] {
  const pos = (s: ServiceConfig, key: string): Pos => candidates.find((c) => c.service === s)!.keyPos(key.toLowerCase());
  // Every service the files define, even those left out for their own errors (by id and name only).
  const anywhere = [
    ...candidates.map((c) => c.service),
    ...defined.map((id) => ({ ...parseServiceId(id)!, id, uuid: null, provides: [], prerequisites: [], conflicts: [], startPriority: 0 })),
  ];
  const exists = (ref: string, self: ServiceConfig): boolean => providersOf(ref, anywhere).some((p) => p.id !== self.id);
  const problem = (ref: string, self: ServiceConfig): string =>
    exists(ref, self)
      ? `${JSON.stringify(ref)} means only services left out for their own errors (see them above)`
      : `${JSON.stringify(ref)} is no service's name, id or Provides, nor a package:name or uuid# of a configured service`;
  for (const s of services) {
    for (const ref of s.conflicts) {
      if (!exists(ref, s)) issues.push(makeIssue(s.file, pos(s, 'Conflicts'), `${s.id}.Conflicts`, problem(ref, s)));
    }
  }
  let kept = services.filter((s) => s.conflicts.every((ref) => exists(ref, s)));
  for (;;) {
    const bad = new Set<ServiceConfig>();
    for (const s of kept) {
      for (const ref of s.prerequisites) {
        if (providersOf(ref, kept).some((p) => p !== s)) continue;
        issues.push(makeIssue(s.file, pos(s, 'Prerequisites'), `${s.id}.Prerequisites`, problem(ref, s)));
        bad.add(s);
      }
    }
    if (bad.size === 0) break;
    kept = kept.filter((s) => !bad.has(s));
  }
  const cycle = findCycle(kept);
  if (cycle) {
    const members = new Set(cycle);
    for (const s of kept.filter((x) => members.has(x.id))) {
      issues.push(makeIssue(s.file, pos(s, 'Prerequisites'), `${s.id}.Prerequisites`, `dependency cycle: ${cycle.join(' → ')}`));
    }
    return checkDependencies(
      kept.filter((s) => !members.has(s.id)),
      candidates,
      issues,
      defined,
    );
  }
  return kept;
}

/** `$schema` is allowed and ignored; ServiceDefaults is a mistake here. undefined: an ordinary service id. */
function topLevelKey(key: string, value: JsonNode, file: string, pos: Pos): ConfigIssue[] | undefined {
  if (key.toLowerCase() === '$schema') {
    return value.kind === 'string'
      ? []
      : [makeIssue(file, value.pos, '$schema', expectedGot('the URL or path of a JSON Schema', toValue(value)))];
  }
  if (key.toLowerCase() === 'servicedefaults') {
    return [makeIssue(file, pos, key, 'ServiceDefaults belongs in upkeeper.conf; a service file holds only services')];
  }
  return undefined;
}

/** `at line 3` in the same file, `in web.conf at line 3` in another. */
function where(def: Definition, currentFile: string): string {
  return def.file === currentFile ? `at line ${def.pos.line}` : `in ${path.basename(def.file)} at line ${def.pos.line}`;
}

/** ServiceDefaults from the controller config, checked again so that hand-made configs are safe too. */
function checkDefaults(config: ControllerConfig, env: NodeJS.ProcessEnv, accounts: Accounts): { layer: Layer; issues: ConfigIssue[] } {
  const file = config.file ?? NO_FILE;
  const node = fromValue(config.serviceDefaults ?? {});
  if (node.kind !== 'object') {
    return {
      layer: new Map(),
      issues: [makeIssue(file, null, 'ServiceDefaults', expectedGot('an object of service keys', toValue(node)))],
    };
  }
  const baseDir = config.file === null ? config.svcConfigPath : path.dirname(config.file);
  const checked = checkServiceKeys(node, 'ServiceDefaults', { file, baseDir, env, accounts }, 'defaults');
  return { layer: checked.layer, issues: checked.issues };
}

/** The `*.conf` files of a folder, sorted by name; hidden files are skipped. */
export function listServiceFiles(dir: string): { files: string[] } | { message: string } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { files: [] };
    if (code === 'ENOTDIR') return { message: 'SvcConfigPath is not a directory' };
    return { message: `cannot read the service folder: ${code ?? String(err)}` };
  }
  const files = names.filter((name) => name.endsWith('.conf') && !name.startsWith('.')).sort();
  return { files: files.map((name) => path.join(dir, name)) };
}

/** Two services with the same UUID: both are reported and left out. */
function dropDuplicateUuids(candidates: { service: ServiceConfig; uuidPos: Pos }[], issues: ConfigIssue[]): ServiceConfig[] {
  const byUuid = new Map<string, { service: ServiceConfig; uuidPos: Pos }[]>();
  for (const c of candidates) {
    if (c.service.uuid === null) continue;
    byUuid.set(c.service.uuid, [...(byUuid.get(c.service.uuid) ?? []), c]);
  }
  const dropped = new Set<ServiceConfig>();
  for (const group of byUuid.values()) {
    if (group.length < 2) continue;
    for (const c of group) {
      const others = group
        .filter((o) => o !== c)
        .map(
          (o) =>
            `${JSON.stringify(o.service.id)} (${o.service.file === c.service.file ? '' : `${path.basename(o.service.file)}, `}line ${o.uuidPos.line})`,
        )
        .join(', ');
      const message = `UUID ${c.service.uuid} is also the UUID of service ${others}: each service needs a UUID of its own`;
      issues.push(makeIssue(c.service.file, c.uuidPos, `${c.service.id}.UUID`, message));
      dropped.add(c.service);
    }
  }
  return candidates.map((c) => c.service).filter((s) => !dropped.has(s));
}
