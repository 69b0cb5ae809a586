// What every upk command gets: global options, a way to reach the controller, and the exit code to end with.
import { connect, type Client } from '../../libclient/index.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

export class Context {
  exitCode = 0;
  constructor(readonly options: () => GlobalOptions) {}

  get json(): boolean {
    return this.options().json === true;
  }

  connectOptions(): { config?: string; client: string } {
    const config = this.options().config;
    return config === undefined ? { client: 'upk' } : { config, client: 'upk' };
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

  /** Keep the worst (highest) exit code seen. */
  fail(code: number): void {
    this.exitCode = Math.max(this.exitCode, code);
  }
}
