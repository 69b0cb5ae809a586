// A service's configuration change in words, as `upk reload-config` and config_changes tell it: the
// keys the user wrote, and when each takes effect (now, the next time a script runs, at the next start).
import type { ConfigChangeRecord as ConfigChange } from '../schema/client-protocol.js';
import type { ControllerConfig, EventHook } from '../schema/config/types.js';
import { configKeyName, writtenFields } from '../schema/config-diff.js';
import type { ServiceEntry } from './service-entry.js';

/** Keys whose change alters the service's scripts, which run anew only at its next start. */
const SCRIPT_KEYS = new Set([
  'execStart',
  'execStop',
  'execReload',
  'startScript',
  'stopScript',
  'reloadScript',
  'customActions',
  'pipeStdoutScript',
  'pipeStderrScript',
]);
/**
 * Keys whose change reaches a running service only when it starts again (what its process starts with:
 * ReadyFd is a descriptor it is given, Type notify its NOTIFY_SOCKET). ServiceConfig's field names.
 */
const NEXT_START_KEYS = new Set([
  'execStart',
  'listen',
  'startScript',
  'environment',
  'environmentFiles',
  'workingDirectory',
  'setUid',
  'setGid',
  'readyFd',
  'serviceType',
]);

/** A configured service's change, in words: which keys, and when each takes effect. */
export function changed(e: ServiceEntry, keys: string[], wasMissing: boolean): ConfigChange {
  const scripts = keys.filter((k) => SCRIPT_KEYS.has(k));
  const named = writtenFields(keys);
  const parts = [wasMissing ? 'back in the configuration files' : named.map(configKeyName).join(', ')];
  const atStart = named.filter((k) => NEXT_START_KEYS.has(k));
  const running = e.status?.pid != null && (e.status.state === 'running' || e.status.state === 'starting');
  if (atStart.length > 0) {
    const when = running ? `at its next start: upk restart ${e.config.id}, or upk reload-config --restart` : 'at its next start';
    parts.push(`${atStart.map(configKeyName).join(', ')} take${atStart.length === 1 ? 's' : ''} effect ${when}`);
  }
  const otherScripts = scripts.filter((k) => !NEXT_START_KEYS.has(k));
  if (otherScripts.length > 0) parts.push('its other scripts are regenerated: they take effect the next time they run');
  if (keys.some((k) => !SCRIPT_KEYS.has(k) && !NEXT_START_KEYS.has(k))) parts.push('the other settings apply now');
  const change: ConfigChange = {
    service: e.config.id,
    uuid: e.uuid,
    change: 'changed',
    message: parts.join('; '),
    keys: named.map(configKeyName),
  };
  if (atStart.length > 0 && running) change.restart = true;
  return change;
}

/** ServiceConfig fields of the id itself: a rename changes them together. */
const ID_FIELDS = new Set(['id', 'name', 'package']);

/**
 * A service renamed (its fixed UUID under a new id), in words. Its run directory is named by its id, so
 * the buddy under the old id is shut down with what it runs, and a new buddy supervises it under the
 * new one, starting it again when it is wanted running: every other key changed takes effect then.
 */
export function renamedChange(e: ServiceEntry, from: string, keys: string[]): ConfigChange {
  const named = writtenFields(keys);
  const others = named.filter((k) => !ID_FIELDS.has(k)).map(configKeyName);
  const parts = [`renamed from ${from} (UUID ${e.uuid})`];
  parts.push(
    e.desired === 'running'
      ? `its buddy under ${from} stopped with what it ran, and it starts again as ${e.config.id}`
      : `its buddy under ${from} stopped, and it stays stopped as ${e.config.id}`,
  );
  if (others.length > 0)
    parts.push(`also changed: ${others.join(', ')}, in force from ${e.desired === 'running' ? 'this' : 'its next'} start`);
  return { service: e.config.id, uuid: e.uuid, change: 'changed', message: parts.join('; '), keys: named.map(configKeyName) };
}

/** What a reload's change record names when the controller's own settings changed (not a service's name). */
export const CONTROLLER_CHANGE = '(controller)';

/** The controller's keys a reload applies (StateDir and SvcRunPath cannot change while it runs). */
const CONTROLLER_FIELDS: readonly [string, keyof ControllerConfig][] = [
  ['SvcConfigPath', 'svcConfigPath'],
  ['BuddyPollingInterval', 'buddyPollingInterval'],
  ['UpkBuddyPath', 'upkBuddyPath'],
  ['AuditMaxAge', 'auditMaxAge'],
  ['AuditMaxRecords', 'auditMaxRecords'],
  ['OnEvent', 'onEvent'],
  ['FleetDatabase', 'fleetDatabase'],
  ['FleetHost', 'fleetHost'],
  ['ServiceDefaults', 'serviceDefaults'],
];

/** The controller's own settings a reload changed, in words; null when none did. */
export function controllerChanged(before: ControllerConfig, after: ControllerConfig): ConfigChange | null {
  const comparable = (c: ControllerConfig, field: keyof ControllerConfig): string =>
    field === 'onEvent' ? c.onEvent.map(hookAsRun).join('\n') : canonical(c[field]);
  const keys = CONTROLLER_FIELDS.filter(([, field]) => comparable(before, field) !== comparable(after, field)).map(([key]) => key);
  if (keys.length === 0) return null;
  return { service: CONTROLLER_CHANGE, uuid: null, change: 'changed', message: `${keys.join(', ')}; in force now`, keys };
}

/** Whether two lists of hooks run alike (a reload that changed neither tells nothing of them). */
export function sameHooks(a: readonly EventHook[], b: readonly EventHook[]): boolean {
  return a.map(hookAsRun).join('\n') === b.map(hookAsRun).join('\n');
}

/** A hook as it runs: where its Command is written, and the order of its Events and Services, are no part of it. */
function hookAsRun({ commandAt: _, events, services, ...hook }: EventHook): string {
  return canonical({ ...hook, events: [...events].sort(), services: services && [...services].sort() });
}

/** JSON with every object's keys sorted: the same settings written in another order are equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
