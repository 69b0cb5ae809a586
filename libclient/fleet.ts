// Many hosts' services at once, each through ssh, in parallel, each within its own time limit (`upk list --hosts`).
import type { ControllerProblem } from '../schema/client-protocol.js';
import { ErrorCode, UpkError, toUpkError } from '../schema/errors.js';
import type { ServiceStatus } from '../schema/records.js';
import { Client, type ConnectOptions } from './client.js';

/** What one host answered: its services and the controller's problems, or why there is no answer. */
export interface HostListing {
  host: string;
  services: ServiceStatus[] | null;
  problems: ControllerProblem[];
  error: UpkError | null;
}

export interface ListHostsOptions extends ConnectOptions {
  /** Each host's limit, from the start of its ssh to its answer (default 10000 ms). */
  hostTimeoutMs?: number;
}

/** The default of ListHostsOptions.hostTimeoutMs. */
export const HOST_TIMEOUT_MS = 10_000;

/**
 * Every host's services (`list()`) and controller problems, asked of all hosts at once through ssh
 * (ConnectOptions.host, docs/fleet.md), in the order given. A host that cannot be reached, or does not
 * answer within `hostTimeoutMs`, has its error (TIMEOUT then) and no services; the others are listed.
 */
export function listHosts(hosts: string[], options: ListHostsOptions = {}): Promise<HostListing[]> {
  return Promise.all(hosts.map((host) => listHost(host, options)));
}

async function listHost(host: string, options: ListHostsOptions): Promise<HostListing> {
  const limit = options.hostTimeoutMs ?? HOST_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UpkError(ErrorCode.TIMEOUT, `${host}: no answer within ${limit} ms`, { details: { host } })),
      limit,
    );
  });
  const connecting = Client.connect({ ...options, host, timeoutMs: limit, reconnectMs: 0 });
  const ask = async (): Promise<HostListing> => {
    const client = await connecting;
    const [services, status] = await Promise.all([client.list(), client.controllerStatus()]);
    return { host, services, problems: status.problems, error: null };
  };
  try {
    return await Promise.race([ask(), expired]);
  } catch (err) {
    return { host, services: null, problems: [], error: toUpkError(err) };
  } finally {
    clearTimeout(timer);
    // Its ssh ends now, even when it connects after the time was up.
    connecting.then(
      (client) => client.abort(),
      () => undefined,
    );
  }
}
