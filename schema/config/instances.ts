// Instances: a service with `Instances: N` is the services NAME@1 … NAME@N, each a service of its own.
import type { ServiceConfig } from './types.js';
import { substituteInstance } from './scripts.js';

/** The id (or name) of instance `n` of a service: `web@2`, `acme::web@2`. */
export function instanceId(id: string, n: number): string {
  return `${id}@${n}`;
}

/** The service as the files write it: its own id, or for an instance the id of the service it is an instance of. */
export function groupOf(svc: Pick<ServiceConfig, 'id' | 'instanceOf'>): string {
  return svc.instanceOf ?? svc.id;
}

/**
 * The `count` instances of a service: ids and names `@1` … `@count`, %(INSTANCE) replaced by the
 * number in the scripts (and the Exec commands they hold), and the number kept in `instance`.
 */
export function expandInstances(svc: ServiceConfig, count: number): ServiceConfig[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const sub = <T extends string | null>(text: T): T => (text === null ? text : (substituteInstance(text, n) as T));
    return {
      ...svc,
      id: instanceId(svc.id, n),
      name: instanceId(svc.name, n),
      instance: n,
      instanceOf: svc.id,
      execStart: sub(svc.execStart),
      execStop: sub(svc.execStop),
      execReload: sub(svc.execReload),
      startScript: sub(svc.startScript),
      stopScript: sub(svc.stopScript),
      reloadScript: sub(svc.reloadScript),
    };
  });
}
