// `upk correlate --fleet`: what fails together, read from the fleet's PostgreSQL database with the
// statistic of a host's own `upk correlate` (schema/correlation-math.ts, schema/correlation-rank.ts: one
// definition) and the same rules (docs/correlation.md): around the last failures of a service on one
// host, the events of every service of the hosts named (across hosts: `db` on host b failing before
// `web` on host a), or the pairs of services of those hosts whose failures co-occur. Read by
// fleet-correlate-reads.ts, bounded: n onsets held, the other services' times streamed in pages.
import {
  CORRELATION_FAILURES,
  CORRELATION_KINDS,
  CORRELATION_LIMIT,
  correlationValidators,
  type Correlation,
  type CorrelationResult,
} from '../schema/correlation-protocol.js';
import { FiguresSum, type Figures } from '../schema/correlation-math.js';
import {
  FailuresAround,
  LastEpisodes,
  correlationRow,
  pairsResult,
  ranked,
  resultOf,
  type CorrelationAsk,
  type Failing,
  type LastFailures,
} from '../schema/correlation-rank.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { isoTime } from '../schema/records.js';
import { correlateQuery, type CorrelateOptions } from './client.js';
import type { FleetDatabase } from './fleet-database.js';
import { refuseUnknownHosts } from './fleet-sql.js';
import { FleetCorrelationReads, type FleetService } from './fleet-correlate-reads.js';

/** The most services (ids, each on its host) one fleet correlation compares: past it, name fewer hosts. */
export const FLEET_CORRELATE_SERVICES_MAX = 500;

/**
 * What `FleetReader.correlate()` looks at: `correlate()`'s options (CorrelateOptions: the window, the
 * range, the failures counted, the rows), and the hosts. `service`: the subject, `NAME` on `host`, or
 * `HOST/NAME`; absent, the pairs of services whose failures co-occur. `hosts`: whose services are
 * compared (default: the subject's host; for the pairs, every host).
 */
export interface FleetCorrelateOptions extends CorrelateOptions {
  /** The subject's host, when `service` does not name it (`HOST/NAME`). */
  host?: string;
  hosts?: string[];
}

/** The subject named: `HOST/NAME`, or NAME on `host`. */
export function fleetSubject(service: string, host: string | undefined): { host: string; name: string } {
  const slash = service.lastIndexOf('/'); // a service id holds no /, a FleetHost may
  if (slash > 0) {
    const named = service.slice(0, slash);
    if (host !== undefined && host !== named)
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `${service} names the host ${named}, and the subject's host is given as ${host}: choose one`,
      );
    return { host: named, name: service.slice(slash + 1) };
  }
  if (host === undefined)
    throw new UpkError(ErrorCode.BAD_REQUEST, `which host's ${service}? name it: HOST/${service}, or one host with --host HOST`);
  return { host, name: service };
}

/** Whether a service id is what `name` means as a command names a service: its id, its bare name, or the service with Instances it is one of. */
function means(id: string, name: string): boolean {
  const group = id.replace(/@[0-9]+$/, '');
  return id === name || group === name || group.replace(/^.*::/, '') === name;
}

/** The services of the hosts read, each host's oldest event, and the names rows give them. */
interface Fleet {
  services: FleetService[];
  /** The latest of the hosts' oldest events (null: no event): before it, some host's history is not known. */
  oldest: number | null;
  /** `host/id` when more than one host is read, else the id. */
  name: (s: FleetService) => string;
}

export class FleetCorrelations {
  private readonly reads: FleetCorrelationReads;

  /** `page`: the times read in one statement (fleet-correlate-reads.ts, FLEET_CORRELATE_PAGE). */
  constructor(
    private readonly db: FleetDatabase,
    page?: number,
  ) {
    this.reads = new FleetCorrelationReads(db, page);
  }

  /** The answer to `upk correlate [NAME] --fleet` (docs/fleet.md, "upk correlate --fleet"). */
  async correlate(options: FleetCorrelateOptions, hostsKnown: readonly string[]): Promise<CorrelationResult> {
    const q = correlationValidators.correlate(correlateQuery(options));
    const known = new Set(hostsKnown);
    const subject = q.service === undefined ? null : fleetSubject(q.service, options.host);
    if (subject === null && options.host !== undefined)
      throw new UpkError(ErrorCode.BAD_REQUEST, 'host is the host of the service asked about: for the pairs, name the hosts (hosts)');
    const hosts = options.hosts ?? (subject ? [subject.host] : [...known]);
    if (hosts.length === 0) throw new UpkError(ErrorCode.BAD_REQUEST, 'hosts: none named');
    refuseUnknownHosts([...(subject ? [subject.host] : []), ...hosts], known);
    const fleet = await this.fleet([...new Set([...(subject ? [subject.host] : []), ...hosts])], subject === null ? null : new Set(hosts));
    const own = subject === null ? null : this.subjectOf(fleet, subject.host, subject.name);
    // As the host's handler: the name first (unknown: exit 4), then the range, which ends now at the latest, after since, and not before the history kept.
    const now = Date.now();
    const until = Math.min(q.until === undefined ? now : Date.parse(q.until), now);
    if (until <= Date.parse(q.since)) throw new UpkError(ErrorCode.BAD_REQUEST, 'since must be before until and before now');
    if (fleet.oldest !== null && until < fleet.oldest)
      throw new UpkError(
        ErrorCode.BAD_REQUEST,
        `the range ends at ${isoTime(until)}, before the history kept begins (${isoTime(fleet.oldest)}): nothing to correlate`,
      );
    const ask: CorrelationAsk = {
      windowMs: q.windowMs,
      since: Date.parse(q.since),
      until,
      failures: q.failures ?? CORRELATION_FAILURES,
      limit: q.limit ?? CORRELATION_LIMIT,
    };
    if (own === null) return this.pairs(fleet, ask);
    const others = fleet.services.filter((s) => hosts.includes(s.host));
    return this.around(fleet, own, others, ask, await this.prerequisites(own, others));
  }

  /** The services of `hosts` (more than FLEET_CORRELATE_SERVICES_MAX: refused), `compared` those whose services are the others. */
  async fleet(hosts: string[], compared: ReadonlySet<string> | null = null): Promise<Fleet> {
    const services: FleetService[] = [];
    let oldest: number | null = null;
    for (const host of [...hosts].sort()) {
      const found = await this.reads.services(host);
      services.push(...found.services);
      if (found.oldest !== null) oldest = Math.max(oldest ?? -Infinity, found.oldest);
      const counted = compared === null ? services.length : services.filter((s) => compared.has(s.host)).length;
      if (counted > FLEET_CORRELATE_SERVICES_MAX)
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `the hosts named have more than ${FLEET_CORRELATE_SERVICES_MAX} services: one fleet correlation compares at most ` +
            `${FLEET_CORRELATE_SERVICES_MAX}; name fewer hosts with --host`,
          { details: { limit: FLEET_CORRELATE_SERVICES_MAX } },
        );
    }
    const many = hosts.length > 1;
    return { services, oldest, name: (s) => (many ? `${s.host}/${s.id}` : s.id) };
  }

  /** The service `name` means on `host` (an unknown name: NO_SUCH_SERVICE; two ids but instances of one: AMBIGUOUS_SERVICE). */
  subjectOf(fleet: Fleet, host: string, name: string): FleetService {
    if (name === 'all' || name === '') throw new UpkError(ErrorCode.BAD_REQUEST, 'this takes one service, not all: name one');
    const found = fleet.services.filter((s) => s.host === host && means(s.id, name));
    if (found.length === 0)
      throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service named ${JSON.stringify(name)} on ${host} in the fleet database`, {
        details: { service: name, host },
      });
    const exact = found.find((s) => s.id === name);
    if (exact) return exact;
    if (found.length === 1) return found[0]!;
    // The instances of a service with Instances that the host has now, together (as a host takes the group's name).
    if (found.every((s) => s.id.replace(/@[0-9]+$/, '') === name)) {
      const now = found.filter((s) => !s.removed);
      if (now.length === 1) return now[0]!; // one instance left: that one, as a host resolves the name
      return { host, id: name, uuids: (now.length > 0 ? now : found).flatMap((s) => s.uuids) };
    }
    const ids = found.map((s) => s.id);
    throw new UpkError(ErrorCode.AMBIGUOUS_SERVICE, `${name} is ambiguous on ${host}: ${ids.join(', ')}`, { details: { candidates: ids } });
  }

  /**
   * The others that provide the subject's Prerequisites: services of its host that the names its last
   * configuration recorded in PostgreSQL lists mean (as `upk why --fleet` matches them).
   */
  async prerequisites(subject: FleetService, others: FleetService[]): Promise<Set<FleetService>> {
    const rows = await this.db.query<{ prerequisites: string[] | null }>(
      `SELECT ARRAY(SELECT jsonb_array_elements_text(coalesce(config->'prerequisites', '[]'))) AS prerequisites
       FROM config_changes WHERE host = $1 AND (service = $2 OR service_uuid = ANY($3::uuid[])) AND config IS NOT NULL ORDER BY time DESC LIMIT 1`,
      [subject.host, subject.id, subject.uuids],
    );
    const refs = rows[0]?.prerequisites ?? [];
    return new Set(others.filter((o) => o.host === subject.host && refs.some((r) => means(o.id, r))));
  }

  /** The last failures of `s` (LastEpisodes) from `from` to `ask.until`. */
  private async lastFailures(s: FleetService, ask: CorrelationAsk, from: number): Promise<LastFailures> {
    const walk = new LastEpisodes(ask.failures, ask.windowMs, from, ask.until);
    await this.reads.failuresNewestFirst(s, from, ask.until, (t) => walk.add(t));
    return walk.result();
  }

  /** The events of every other service near the last failures of `subject`, by kind, ranked (as controller/correlation.ts, around). */
  async around(
    fleet: Fleet,
    subject: FleetService,
    others: FleetService[],
    ask: CorrelationAsk,
    prerequisites: ReadonlySet<FleetService>,
  ): Promise<CorrelationResult> {
    const from = Math.max(ask.since, fleet.oldest ?? ask.since);
    const { failures, range } = await this.lastFailures(subject, ask, from);
    const result = resultOf(fleet.name(subject), ask, range, failures.length);
    if (failures.length === 0) return result;
    const own = new Set(subject.uuids);
    const rows: Correlation[] = [];
    for (const other of others.filter((o) => o.host !== subject.host || !o.uuids.some((u) => own.has(u)))) {
      for (const kind of CORRELATION_KINDS) {
        const sum = new FiguresSum(failures, ask.windowMs, range);
        await this.reads.times(other, kind, range.from - ask.windowMs, range.to + ask.windowMs, (t) => sum.add(t));
        const f = sum.figures();
        if (f.together > 0) rows.push(correlationRow(fleet.name(subject), fleet.name(other), kind, prerequisites.has(other), f));
      }
    }
    result.correlations = ranked(rows).slice(0, ask.limit);
    return result;
  }

  /** The pairs of services whose failures co-occur (as controller/correlation.ts, fleet). */
  private async pairs(fleet: Fleet, ask: CorrelationAsk): Promise<CorrelationResult> {
    const from = Math.max(ask.since, fleet.oldest ?? ask.since);
    const failing: (Failing & { service: FleetService })[] = [];
    for (const s of fleet.services) {
      const last = await this.lastFailures(s, ask, from);
      if (last.failures.length > 0) failing.push({ ...last, id: fleet.name(s), service: s });
    }
    const found = failing.map(() => new Map<number, Figures>());
    for (const [bIndex, b] of fleet.services.entries()) {
      const around = new FailuresAround(failing, fleet.name(b), ask.windowMs, ask.until);
      if (around.from === null) continue;
      await this.reads.times(b, 'failed', around.from, around.to, (t) => around.add(t));
      for (const [a, f] of around.found()) found[a]!.set(bIndex, f);
    }
    return pairsResult(failing, fleet.services.map(fleet.name), found, ask);
  }
}
