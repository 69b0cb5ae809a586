// What every upk command gets: global options, a way to reach the controller, and the exit code to end with.
import {
  ErrorCode,
  FleetReader,
  UpkError,
  connect,
  fleetDatabaseUrl,
  refuseUnknownHosts,
  type Client,
  type ConnectOptions,
  type FleetHosts,
} from '../../libclient/index.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  host?: string;
  sshConfig?: string;
  remoteUpk?: string;
  fleetDatabase?: string;
}

export class Context {
  exitCode = 0;
  constructor(readonly options: () => GlobalOptions) {}

  get json(): boolean {
    return this.options().json === true;
  }

  connectOptions(): ConnectOptions & { client: string } {
    const { config, host, sshConfig, remoteUpk } = this.options();
    const options: ConnectOptions & { client: string } = { client: 'upk' };
    if (config !== undefined) options.config = config;
    if (host !== undefined) options.host = host;
    if (sshConfig !== undefined) options.sshConfig = sshConfig;
    if (remoteUpk !== undefined) options.remoteUpk = remoteUpk;
    return options;
  }

  /** The host the commands reach through ssh (--host, else $UPKEEPER_HOST), or null: this machine's controller. */
  get host(): string | null {
    return this.options().host ?? (process.env.UPKEEPER_HOST || null);
  }

  /** BAD_REQUEST with a host: `what` works on this machine's files or processes, which ssh does not reach. */
  refuseHost(what: string): void {
    const host = this.host;
    if (host === null) return;
    throw new UpkError(
      ErrorCode.BAD_REQUEST,
      `upk ${what} works on this machine's files and processes, not through ssh (--host ${host}): run it on the host (ssh ${host} upk ${what} …)`,
    );
  }

  /** Connect, run, close. */
  async withClient<T>(run: (client: Client) => Promise<T>): Promise<T> {
    const client = await connect(this.connectOptions());
    try {
      return await run(client);
    } finally {
      client.close();
    }
  }

  /** With --fleet: the hosts --host names (a comma-separated list), as a filter; none: every host. */
  get fleetHosts(): FleetHosts {
    const given = this.options().host;
    if (given === undefined) return {};
    const hosts = given
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    return hosts.length > 0 ? { hosts } : {};
  }

  /** Open the fleet database (--fleet-database, $UPKEEPER_FLEET_DATABASE, FleetDatabase of the configuration), run, close. */
  async withFleet<T>(run: (fleet: FleetReader) => Promise<T>): Promise<T> {
    const { config, fleetDatabase } = this.options();
    const { url } = fleetDatabaseUrl({
      ...(config === undefined ? {} : { config }),
      ...(fleetDatabase === undefined ? {} : { url: fleetDatabase }),
    });
    const fleet = await FleetReader.open(url);
    try {
      await this.checkFleetHosts(fleet);
      return await run(fleet);
    } finally {
      fleet.close();
    }
  }

  /** --host with --fleet names hosts the fleet database knows: a typo, an empty list or an ssh form (user@host) is an error, not an empty answer. */
  private async checkFleetHosts(fleet: FleetReader): Promise<void> {
    const given = this.options().host;
    if (given === undefined) return;
    const named = this.fleetHosts.hosts ?? [];
    if (named.length === 0) throw new UpkError(ErrorCode.BAD_REQUEST, `--host: no host named in ${JSON.stringify(given)}`);
    refuseUnknownHosts(named, new Set(await fleet.hosts()), '--host: ');
  }

  /** Keep the worst (highest) exit code seen. */
  fail(code: number): void {
    this.exitCode = Math.max(this.exitCode, code);
  }
}
