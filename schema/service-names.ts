// What a service name means among services: the rule every command applies (ServiceTable.resolve,
// the live services), kept pure so that `status.at` resolves the names of the services then the same.
import { ErrorCode, UpkError } from './errors.js';

/** What names a service: its id (`name` or `package::name`), its bare name, and the service with Instances it is one of. */
export interface ServiceNames {
  id: string;
  name: string;
  instanceOf?: string | undefined;
  instance?: number | undefined;
}

/**
 * What a name means among `services` (ids unique): the service of that id; else every instance of the
 * service with Instances of that id (by number); else the one service of that bare name, or every
 * instance of the one service with Instances of that bare name. Several candidates: AMBIGUOUS_SERVICE;
 * none: NO_SUCH_SERVICE (each naming what was meant).
 */
export function servicesNamed<T>(services: readonly T[], name: string, names: (s: T) => ServiceNames): T[] {
  const exact = services.find((s) => names(s).id === name);
  if (exact !== undefined) return [exact];
  const instancesOf = (test: (id: string) => boolean): T[] =>
    services
      .filter((s) => {
        const of = names(s).instanceOf;
        return of !== undefined && test(of);
      })
      .sort((a, b) => (names(a).instance ?? 0) - (names(b).instance ?? 0));
  const group = instancesOf((id) => id === name);
  if (group.length > 0) return group;
  const matches = services.filter((s) => names(s).name === name);
  const groups = new Set(services.map((s) => names(s).instanceOf).filter((id) => id?.endsWith(`::${name}`)));
  if (matches.length === 1 && groups.size === 0) return matches;
  if (matches.length === 0 && groups.size === 1) return instancesOf((id) => groups.has(id));
  if (matches.length + groups.size > 1) {
    const candidates = [...matches.map((s) => names(s).id), ...[...groups].map(String)];
    throw new UpkError(ErrorCode.AMBIGUOUS_SERVICE, `${name} is ambiguous: ${candidates.join(', ')}`, { details: { candidates } });
  }
  throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service named ${JSON.stringify(name)}`, { details: { service: name } });
}
