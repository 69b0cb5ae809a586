// upk list --hosts a,b,c (or --hosts-file FILE): many hosts' services in one table, asked in parallel through ssh.
import { readFileSync } from 'node:fs';
import { ErrorCode, HOST_TIMEOUT_MS, UpkError, exitCodeFor, listHosts, type HostListing } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { onFile } from '../file-error.js';
import { printJson, statusRows, table } from '../output.js';

export interface FleetOptions {
  hosts?: string;
  hostsFile?: string;
  hostTimeout?: number;
}

/** The hosts of --hosts (comma-separated) and --hosts-file (one a line; `#` begins a comment), in order, each once. */
export function fleetHosts(opts: FleetOptions): string[] {
  const named = (opts.hosts ?? '').split(',');
  const listed =
    opts.hostsFile === undefined
      ? []
      : onFile('read', opts.hostsFile, () => readFileSync(opts.hostsFile!, 'utf8'))
          .split('\n')
          .map((line) => line.replace(/#.*/, ''));
  return [...new Set([...named, ...listed].map((h) => h.trim()).filter((h) => h !== ''))];
}

/**
 * Every host's services, a HOST column first; a host without an answer is one row (its STATE `error`)
 * and a line under the table saying why. Exits with the worst exit code of the hosts that failed.
 */
export async function listFleet(ctx: Context, opts: FleetOptions): Promise<void> {
  const hosts = fleetHosts(opts);
  if (hosts.length === 0) throw new UpkError(ErrorCode.BAD_REQUEST, '--hosts and --hosts-file named no host');
  const { config: _local, host: _one, ...options } = ctx.connectOptions();
  const listings = await listHosts(hosts, { ...options, hostTimeoutMs: (opts.hostTimeout ?? HOST_TIMEOUT_MS / 1000) * 1000 });
  for (const l of listings) if (l.error) ctx.fail(exitCodeFor(l.error.code));
  if (ctx.json) return printJson(listings.map(jsonOf));
  const now = Date.now();
  const { header } = statusRows([], now);
  const blank = header.slice(2).map(() => '-');
  const rows = listings.flatMap((l) => hostRows(l, now, blank));
  const errors = listings.flatMap((l) => (l.error ? [`${aboutHost(l.host, l.error.message)}\n`] : []));
  const problems = listings.flatMap((l) => l.problems.map((p) => `${l.host}: ${p.message}\n`));
  process.stdout.write(problems.join('') + table(['HOST', ...header], rows) + errors.join(''));
}

/** A host's error on one line that names the host once: libclient's errors of a host begin with `HOST: ` or `cannot reach HOST `. */
function aboutHost(host: string, message: string): string {
  return message.startsWith(`${host}: `) || message.startsWith(`cannot reach ${host} `) ? message : `${host}: ${message}`;
}

/** A host's rows: one per service, or one that says `error` (no answer) or `none` (no services configured). */
function hostRows(l: HostListing, now: number, blank: string[]): string[][] {
  if (l.services === null) return [[l.host, '-', 'error', ...blank]];
  if (l.services.length === 0) return [[l.host, '-', 'none', ...blank]];
  return statusRows(l.services, now).rows.map((r) => [l.host, ...r]);
}

function jsonOf(l: HostListing): object {
  return l.error === null
    ? { host: l.host, services: l.services, problems: l.problems }
    : { host: l.host, error: { code: l.error.code, message: l.error.message, exitCode: exitCodeFor(l.error.code) } };
}
