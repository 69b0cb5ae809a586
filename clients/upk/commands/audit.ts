// upk audit [--since TIME] [--until TIME] [--client NAME] [--service NAME] [--limit N]: the audit trail,
// the client requests that changed something (today's by default): who, from which process, what, outcome.
import type { Command } from 'commander';
import { REQUESTS_MAX, type ClientRequestRecord, type FleetRequestRecord, type RequestFilter } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { duration, plain, printJson, table } from '../output.js';
import { readTime, sinceHelp, timeRange, UNTIL_HELP, wholeNumber, type TimeArg } from '../time.js';

/** The OUTCOME column's widest text. */
const OUTCOME_MAX = 80;

/** The start of today, local time (the default of --since). */
export function startOfToday(now = new Date()): string {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

/** The request with what it named besides the service: `action rotate`, `signal HUP`, `restart --overlap`. */
export function requestCell(r: Pick<ClientRequestRecord, 'request' | 'params'>): string {
  const p = (r.params ?? {}) as Record<string, unknown>;
  const extra = [
    typeof p.action === 'string' ? p.action : null,
    typeof p.signal === 'string' ? p.signal : null,
    p.group === true ? '--group' : null,
    p.overlap === true ? '--overlap' : null,
    p.restart === true ? '--restart' : null,
  ].filter((x): x is string => x !== null);
  return plain([r.request, ...extra].join(' '));
}

/** The mark of a request about no one service (config.reload, shutdown, controller.stop): it concerns them all. */
export const ALL_SERVICES = '(all)';

/** The service a request was about; `remove`'s services; ALL_SERVICES for one about no service. */
export function serviceCell(r: Pick<ClientRequestRecord, 'service' | 'params'>): string {
  if (r.service !== null) return r.service;
  const services = (r.params as { services?: unknown } | null)?.services;
  return Array.isArray(services) && services.length > 0 ? plain(services.join(',')) : ALL_SERVICES;
}

function row(r: Omit<ClientRequestRecord, 'id'> & { host?: string }, withRequester: boolean): string[] {
  return [
    ...(r.host === undefined ? [] : [r.host]),
    r.time,
    plain(r.client),
    r.pid === null ? '-' : String(r.pid),
    plain(r.user ?? '-'),
    ...(withRequester ? [plain(r.requester ?? '-')] : []),
    requestCell(r),
    serviceCell(r),
    r.ok === null ? 'running' : r.ok ? 'ok' : 'failed',
    r.durationMs === null ? '-' : duration(r.durationMs),
    plain(r.outcome ?? '', OUTCOME_MAX),
  ];
}

interface Options {
  since?: TimeArg;
  until?: TimeArg;
  client?: string;
  service?: string;
  limit?: number;
  fleet?: boolean;
}

export function registerAudit(program: Command, ctx: Context): void {
  program
    .command('audit')
    .option('-s, --since <time>', sinceHelp('the start of today, local time'), readTime)
    .option('-u, --until <time>', UNTIL_HELP, readTime)
    .option('--client <name>', 'only requests whose client or requester contains this text (any letter case)')
    .option(
      '--service <name>',
      `only requests about this service, and those about no one service (config.reload, shutdown), marked ${ALL_SERVICES}`,
    )
    .option('-n, --limit <n>', 'at most the newest N requests (default 100)', wholeNumber(1, REQUESTS_MAX))
    .option('--fleet', "every host's finished requests, from the fleet's PostgreSQL database (--host H,…: only theirs; docs/fleet.md)")
    .description(
      'the audit trail: the client requests that changed something (today by default), who asked, from which process, how each ended',
    )
    .action(async (opts: Options) => {
      const range = timeRange(opts);
      const since = range.since ?? startOfToday();
      const filter: RequestFilter = { since, limit: opts.limit ?? 100 };
      if (range.until !== undefined) filter.until = range.until;
      if (opts.client) filter.client = opts.client;
      if (opts.service) filter.service = opts.service;
      const requests: (ClientRequestRecord | FleetRequestRecord)[] = opts.fleet
        ? await ctx.withFleet((fleet) => fleet.requests({ ...filter, ...ctx.fleetHosts }))
        : await ctx.withClient((client) => client.requests(filter));
      if (ctx.json) return printJson(requests);
      if (requests.length === 0) {
        process.stdout.write(`no client requests recorded since ${since}${range.until === undefined ? '' : ` until ${range.until}`}\n`);
        return;
      }
      const withRequester = requests.some((r) => r.requester !== null);
      const header = [
        ...(opts.fleet ? ['HOST'] : []),
        'TIME',
        'CLIENT',
        'PID',
        'USER',
        ...(withRequester ? ['REQUESTER'] : []),
        'REQUEST',
        'SERVICE',
        'RESULT',
        'TOOK',
        'OUTCOME',
      ];
      process.stdout.write(
        table(
          header,
          requests.map((r) => row(r, withRequester)),
        ),
      );
    });
}
