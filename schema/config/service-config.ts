// One service: checks its keys, layers built-in defaults → ServiceDefaults → its own keys, builds the record.
import type { ConfigIssue, CustomAction, InitialState, ServiceConfig } from './types.js';
import { type JsonNode, type Pos, setOwn, toValue } from './json-node.js';
import type { CheckContext } from './check-value.js';
import { type KeySpec, SERVICE_KEYS } from './keys.js';
import { type Layer, checkServiceKeys } from './service-layer.js';
import { MAX_CUSTOM_ACTIONS } from '../run-dir.js';
import { tooManyActions } from './check-objects.js';
import { INSTANCE_PLACEHOLDER, PLACEHOLDERS, type ExecKey, substitute, usedExecKeys, withShebang } from './scripts.js';
import { expectedGot, joinKey, makeIssue } from './issues.js';
import { NAME_RE } from './names.js';
import type { EnvFileRef } from '../env-file.js';
import type { UnwellAction } from '../event-details.js';
import { LISTEN_FDS_START, type ListenSocket } from '../listen.js';
import { overlapRefused, type RestartMode } from '../restart-mode.js';

/** A service entry as found in a service file. */
export interface ServiceEntry {
  id: string;
  package: string | null;
  name: string;
  file: string;
  /** Position of the id (the entry's key). */
  keyPos: Pos;
  node: JsonNode;
}

/** One service checked and layered: null when it has issues; `instances` is its Instances key, null when not written. */
export interface BuiltService {
  service: ServiceConfig | null;
  issues: ConfigIssue[];
  instances: number | null;
}

const NOTIFY_AS_OTHER_USER =
  '"notify" cannot be used with SetUID: the service could not reach NOTIFY_SOCKET in the run directory (use ReadyFd or ReadyLine)';

/** Check and layer one service. service is null when it has issues. */
export function buildService(entry: ServiceEntry, defaults: Layer, ctx: CheckContext): BuiltService {
  const { node, id } = entry;
  if (node.kind !== 'object') {
    return {
      service: null,
      issues: [makeIssue(entry.file, node.pos, id, expectedGot('an object of service keys', toValue(node)))],
      instances: null,
    };
  }
  const { layer: own, issues, badKeys } = checkServiceKeys(node, id, ctx, 'service');
  issues.push(...identityIssues(entry, own));

  const value = (name: string): unknown => resolve(name, defaults, own);
  const at = (name: string): Pos => own.get(name)?.pos ?? entry.keyPos;

  const exec: Record<ExecKey, string | null> = {
    ExecStart: value('ExecStart') as string | null,
    ExecStop: value('ExecStop') as string | null,
    ExecReload: value('ExecReload') as string | null,
  };
  const scripts: Record<string, string> = {};
  for (const scriptKey of ['StartScript', 'StopScript', 'ReloadScript']) {
    const text = value(scriptKey) as string;
    if (!badKeys.has(scriptKey)) {
      for (const execKey of usedExecKeys(text)) {
        if (exec[execKey] !== null || badKeys.has(execKey)) continue;
        const placeholder = PLACEHOLDERS.find((p) => p.key === execKey)?.placeholder ?? '';
        issues.push(makeIssue(entry.file, at(execKey), joinKey(id, execKey), `required: ${scriptKey} runs ${placeholder}`));
      }
    }
    scripts[scriptKey] = withShebang(substitute(text, exec));
  }
  const instances = (own.get('Instances')?.value as number | undefined) ?? null;
  issues.push(...instanceIssues(entry, own, instances, value, badKeys));
  for (const [key, message] of [...limitProblems(value), ...jobProblems(value, badKeys)])
    issues.push(makeIssue(entry.file, at(key), joinKey(id, key), message));

  const actions = Object.entries(value('CustomActions') as Record<string, string>);
  if (actions.length > MAX_CUSTOM_ACTIONS && !badKeys.has('CustomActions')) {
    issues.push(
      makeIssue(
        entry.file,
        at('CustomActions'),
        joinKey(id, 'CustomActions'),
        `${tooManyActions(actions.length)} (with those of ServiceDefaults)`,
      ),
    );
  }
  // A service run as another user runs in that user's primary group unless SetGID says otherwise;
  // a uid without an entry in /etc/passwd has no known group, and must not keep upkeeper's.
  const setUid = value('SetUID') as number | null;
  let setGid = value('SetGID') as number | null;
  if (setUid !== null && setGid === null && !badKeys.has('SetUID') && !badKeys.has('SetGID')) {
    const group = ctx.accounts.primaryGroup(setUid);
    if ('id' in group) setGid = group.id;
    else issues.push(makeIssue(entry.file, at('SetUID'), joinKey(id, 'SetUID'), group.message));
  }
  issues.push(...listenIssues(entry, own, value, instances));
  // NOTIFY_SOCKET is in the 0700 run directory, which another user cannot reach.
  if (setUid !== null && value('Type') === 'notify' && !badKeys.has('Type'))
    issues.push(makeIssue(entry.file, at('Type'), joinKey(id, 'Type'), NOTIFY_AS_OTHER_USER));
  issues.push(...adoptionIssues(entry, own, value, instances, badKeys));
  if (issues.length > 0) return { service: null, issues, instances };

  const customActions: CustomAction[] = actions.map(([name, script]) => ({ name, script: withShebang(script) }));
  const pipe = (name: string): string | null => {
    const text = value(name) as string | null;
    return text === null ? null : withShebang(text);
  };
  const service: ServiceConfig = {
    id,
    name: entry.name,
    package: entry.package,
    file: entry.file,
    line: entry.keyPos.line,
    uuid: value('UUID') as string | null,
    provides: value('Provides') as string[],
    shortDescription: value('ShortDescription') as string | null,
    longDescription: value('LongDescription') as string | null,
    prerequisites: value('Prerequisites') as string[],
    conflicts: value('Conflicts') as string[],
    startPriority: value('StartPriority') as number,
    killTimeout: value('KillTimeout') as number,
    maxConsecutiveFailures: value('MaxConsecutiveFailures') as number,
    userMaxRestarts: orDefault('UserMaxRestarts', value),
    userRestartWindow: orDefault('UserRestartWindow', value),
    userRateLimit: orDefault('UserRateLimit', value),
    randomizeRateLimit: value('RandomizeRateLimit') as boolean,
    minUptime: value('MinUptime') as number,
    serviceType: value('Type') as ServiceConfig['serviceType'],
    schedule: value('Schedule') as string | null,
    scheduleOverlap: value('ScheduleOverlap') as 'skip' | 'queue',
    cronRestart: value('CronRestart') as string | null,
    pidFile: value('PidFile') as string | null,
    processMatch: value('ProcessMatch') as string | null,
    readyFd: value('ReadyFd') as number | null,
    listen: (value('Listen') as ListenSocket[]).map((s) => ({ ...s, name: s.name || entry.name })),
    restartMode: value('RestartMode') as RestartMode,
    readyLine: value('ReadyLine') as string | null,
    startTimeout: value('StartTimeout') as number | null,
    watchdogSec: value('WatchdogSec') as number | null,
    maxRunTime: value('MaxRunTime') as number | null,
    setUid,
    setGid,
    ringbufferSize: value('RingbufferSize') as number,
    reconnectRetries: value('ReconnectRetries') as number,
    journalMaxEvents: value('JournalMaxEvents') as number,
    logMaxSize: value('LogMaxSize') as number,
    logKeep: value('LogKeep') as number,
    logTimestamps: value('LogTimestamps') as boolean,
    sampleInterval: sampleInterval(value),
    healthCheck: value('HealthCheck') as string | null,
    healthInterval: value('HealthInterval') as number,
    healthTimeout: value('HealthTimeout') as number,
    healthRetries: value('HealthRetries') as number,
    healthRecoveries: value('HealthRecoveries') as number,
    healthStartPeriod: value('HealthStartPeriod') as number,
    healthAction: value('HealthAction') as UnwellAction,
    healthExpect: value('HealthExpect') as string | null,
    healthFailLine: value('HealthFailLine') as string | null,
    readyCheck: value('ReadyCheck') as string | null,
    readyCheckInterval: value('ReadyCheckInterval') as number,
    maxMemory: value('MaxMemory') as number | null,
    maxMemoryAction: value('MaxMemoryAction') as UnwellAction,
    maxCpu: value('MaxCPU') as number | null,
    maxCpuWindow: value('MaxCPUWindow') as number,
    maxCpuAction: value('MaxCPUAction') as UnwellAction,
    activityFile: value('ActivityFile') as string | null,
    activityTimeout: value('ActivityTimeout') as number,
    activityAction: value('ActivityAction') as UnwellAction,
    execStart: exec.ExecStart,
    execStop: exec.ExecStop,
    execReload: exec.ExecReload,
    startScript: scripts['StartScript'] as string,
    stopScript: scripts['StopScript'] as string,
    reloadScript: scripts['ReloadScript'] as string,
    customActions,
    pipeStdoutScript: pipe('PipeStdoutScript'),
    pipeStderrScript: pipe('PipeStderrScript'),
    redirectStdout: value('RedirectStdout') as string | null,
    redirectStderr: value('RedirectStderr') as string | null,
    initialState: value('InitialState') as InitialState,
    unconfigureOnFileRemoval: value('UnconfigureOnFileRemoval') as boolean,
    preferBuddyStateForStopped: value('PreferBuddyStateForStopped') as boolean,
    preferBuddyStateForRunning: value('PreferBuddyStateForRunning') as boolean,
    environment: value('Environment') as Record<string, string | null>,
    environmentFiles: value('EnvironmentFile') as EnvFileRef[],
    workingDirectory: value('WorkingDirectory') as string | null,
  };
  return { service, issues: [], instances };
}

/**
 * Instances and what goes with it: the instances' names must follow the name rule, a UUID cannot be
 * shared by instances, and %(INSTANCE) has a number to stand for only in a service with Instances.
 */
function instanceIssues(
  entry: ServiceEntry,
  own: Layer,
  instances: number | null,
  value: (name: string) => unknown,
  badKeys: Set<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const issue = (key: string, message: string): void => {
    issues.push(makeIssue(entry.file, own.get(key)?.pos ?? entry.keyPos, joinKey(entry.id, key), message));
  };
  if (instances !== null) {
    if (!NAME_RE.test(`${entry.name}@${instances}`)) {
      issue(
        'Instances',
        `the instances' names (${entry.name}@1 … ${entry.name}@${instances}) would break the name rule: a name is at most 64 characters`,
      );
    }
    if (own.get('UUID')?.value != null)
      issue('UUID', 'UUID cannot be set together with Instances: each instance gets a UUID of its own from the controller');
    return issues;
  }
  if (badKeys.has('Instances')) return issues;
  for (const scriptKey of ['StartScript', 'StopScript', 'ReloadScript']) {
    const text = value(scriptKey) as string;
    const keys = text.includes(INSTANCE_PLACEHOLDER)
      ? [scriptKey]
      : usedExecKeys(text).filter((k) => ((value(k) as string | null) ?? '').includes(INSTANCE_PLACEHOLDER));
    for (const key of keys) {
      if (!issues.some((i) => i.key === joinKey(entry.id, key))) issue(key, `${INSTANCE_PLACEHOLDER} is only for a service with Instances`);
    }
  }
  return issues;
}

/** SampleInterval when not set: a measurement a minute, or every 10 s for MaxMemory and MaxCPU to act on. */
export const SAMPLE_INTERVAL_DEFAULT = 60;
export const SAMPLE_INTERVAL_LIMITED = 10;

function sampleInterval(value: (name: string) => unknown): number {
  const set = value('SampleInterval') as number | null;
  if (set !== null) return set;
  const limited = ['MaxMemory', 'MaxCPU'].some((key) => value(key) !== null && value(key) !== 0);
  return limited ? SAMPLE_INTERVAL_LIMITED : SAMPLE_INTERVAL_DEFAULT;
}

/** Limits that could never be seen: measured ones without measurements, an activity file without its timeout. */
function limitProblems(value: (name: string) => unknown): [string, string][] {
  const problems: [string, string][] = [];
  for (const key of ['MaxMemory', 'MaxCPU']) {
    if (value(key) !== null && value(key) !== 0 && value('SampleInterval') === 0)
      problems.push([key, `${key} needs measurements: SampleInterval is 0`]);
  }
  const file = value('ActivityFile') !== null;
  const timeout = (value('ActivityTimeout') as number | undefined) ?? 0;
  if (file && timeout <= 0) problems.push(['ActivityFile', 'ActivityFile needs an ActivityTimeout greater than 0']);
  if (!file && timeout > 0) problems.push(['ActivityTimeout', 'ActivityTimeout needs an ActivityFile to watch']);
  return problems;
}

/** Listen's descriptors come first (3, 4…): ReadyFd must come after them; instances would each bind the same address. */
function listenIssues(entry: ServiceEntry, own: Layer, value: (name: string) => unknown, instances: number | null): ConfigIssue[] {
  const sockets = value('Listen') as ListenSocket[] | undefined;
  if (sockets === undefined || sockets.length === 0) return [];
  const at = (key: string): Pos => own.get(key)?.pos ?? own.get('Listen')?.pos ?? entry.keyPos;
  const issues: ConfigIssue[] = [];
  const readyFd = value('ReadyFd') as number | null | undefined;
  const first = LISTEN_FDS_START + sockets.length;
  if (typeof readyFd === 'number' && readyFd < first) {
    const fds = sockets.length === 1 ? `descriptor ${LISTEN_FDS_START}` : `descriptors ${LISTEN_FDS_START} to ${first - 1}`;
    issues.push(
      makeIssue(
        entry.file,
        at('ReadyFd'),
        joinKey(entry.id, 'ReadyFd'),
        `ReadyFd ${readyFd} is taken: Listen's sockets are ${fds}; use ${first} or more`,
      ),
    );
  }
  if (instances !== null)
    issues.push(
      makeIssue(
        entry.file,
        at('Instances'),
        joinKey(entry.id, 'Listen'),
        'Listen cannot be used with Instances: each instance would open the same addresses',
      ),
    );
  return issues;
}

/**
 * Type oneshot is a job: it runs to its end, so nothing says it is ready, and it runs at times by
 * Schedule; a long-running service (simple, notify) is restarted at times by CronRestart instead.
 */
function jobProblems(value: (name: string) => unknown, badKeys: ReadonlySet<string>): [string, string][] {
  if (badKeys.has('Type')) return [];
  const problems: [string, string][] = [];
  const type = value('Type') as string;
  if (type === 'oneshot') {
    for (const key of ['ReadyFd', 'ReadyLine', 'ReadyCheck'])
      if (value(key) !== null) problems.push([key, `${key} cannot be used with Type oneshot: a job is not "ready", it runs to its end`]);
    if (value('CronRestart') !== null)
      problems.push(['CronRestart', 'CronRestart restarts a long-running service: a Type oneshot job runs at times with Schedule']);
  } else if (value('Schedule') !== null) {
    problems.push([
      'Schedule',
      `Schedule runs a job, which needs Type oneshot (Type is ${JSON.stringify(type)}): a long-running service is restarted at times with CronRestart`,
    ]);
  }
  if (value('RestartMode') === 'overlap' && !badKeys.has('PidFile') && !badKeys.has('ProcessMatch')) {
    const why = overlapRefused({
      serviceType: type,
      pidFile: value('PidFile') as string | null,
      processMatch: value('ProcessMatch') as string | null,
    });
    if (why !== null) problems.push(['RestartMode', `RestartMode overlap: ${why}`]);
  }
  return problems;
}

/** Name and Package, when written, must agree with the service id. */
function identityIssues(entry: ServiceEntry, own: Layer): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const name = own.get('Name');
  if (name !== undefined && name.value !== entry.name) {
    issues.push(
      makeIssue(
        entry.file,
        name.pos,
        joinKey(entry.id, 'Name'),
        `Name ${JSON.stringify(name.value)} does not match the service id ${JSON.stringify(entry.id)} (name ${JSON.stringify(entry.name)})`,
      ),
    );
  }
  const pkg = own.get('Package');
  if (pkg !== undefined && pkg.value !== entry.package) {
    const idHas = entry.package === null ? 'has no package' : `has package ${JSON.stringify(entry.package)}`;
    issues.push(
      makeIssue(
        entry.file,
        pkg.pos,
        joinKey(entry.id, 'Package'),
        `Package ${JSON.stringify(pkg.value)} does not match the service id ${JSON.stringify(entry.id)}, which ${idHas} (write the id as package::name)`,
      ),
    );
  }
  return issues;
}

/** null in UserMaxRestarts, UserRestartWindow and UserRateLimit means the built-in default. */
function orDefault(name: string, value: (name: string) => unknown): number {
  const v = value(name) as number | null;
  return v ?? (spec(name).default as number);
}

function spec(name: string): KeySpec {
  return SERVICE_KEYS.find((s) => s.name === name) as KeySpec;
}

/** The layered value of one key: lists append, CustomActions and Environment merge by name, the rest replaces. */
export function resolve(name: string, defaults: Layer, own: Layer): unknown {
  const s = spec(name);
  const builtIn = s.default;
  const layers = [builtIn, defaults.get(name)?.value, own.get(name)?.value].filter((v) => v !== undefined);
  switch (s.type.kind) {
    case 'list':
      return [...new Set((layers as string[][]).flat())];
    case 'actions':
      return mergeByName(layers as Record<string, string>[], (k) => k.toLowerCase());
    case 'environment':
      return mergeByName(layers as Record<string, string | null>[], (k) => k);
    default:
      return layers.length === 0 ? null : layers[layers.length - 1];
  }
}

/** Later objects win; an overridden name keeps its first position and takes the later spelling. */
function mergeByName<T>(layers: Record<string, T>[], fold: (key: string) => string): Record<string, T> {
  const merged = new Map<string, [string, T]>();
  for (const layer of layers) for (const [key, v] of Object.entries(layer)) merged.set(fold(key), [key, v]);
  const out: Record<string, T> = {};
  for (const [key, v] of merged.values()) setOwn(out, key, v);
  return out;
}

/**
 * Type forking supervises the process its PidFile names, so it needs one; and instances would all take
 * over the one process a PidFile or ProcessMatch finds.
 */
function adoptionIssues(
  entry: ServiceEntry,
  own: Layer,
  value: (name: string) => unknown,
  instances: number | null,
  badKeys: Set<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const issue = (key: string, message: string): void => {
    issues.push(makeIssue(entry.file, own.get(key)?.pos ?? entry.keyPos, joinKey(entry.id, key), message));
  };
  if (value('Type') === 'forking' && value('PidFile') === null && !badKeys.has('Type') && !badKeys.has('PidFile'))
    issue('Type', '"forking" needs PidFile: the file in which the service writes the pid of the process it leaves running');
  if (instances !== null) {
    for (const key of ['PidFile', 'ProcessMatch']) {
      if (value(key) !== null && !badKeys.has(key))
        issue(key, `cannot be used with Instances: every instance would take over the same process`);
    }
  }
  return issues;
}
