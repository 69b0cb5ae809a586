// upk serve: the HTTP API (clients/http/server.ts), loaded only by this command: no other upk pays for node:http.
import type { Command } from 'commander';
import type { Context } from '../context.js';

export function registerServe(program: Command, ctx: Context): void {
  program
    .command('serve')
    .description(
      'serve the HTTP API (docs/http.md) on a Unix socket (default StateDir/http.sock; with --host, StateDir/http@HOST.sock) and/or a TCP port, until SIGTERM or SIGINT',
    )
    .option('--socket <path>', 'listen on this Unix socket (mode 0600)')
    .option('--listen <[host:]port>', 'listen on this TCP port (host 127.0.0.1 unless given); every request needs the bearer token')
    .option('--token-file <file>', 'the bearer token for --listen (default StateDir/http-token, made at first use, mode 0600)')
    .action(async (opts: { socket?: string; listen?: string; tokenFile?: string }) => {
      const { serve } = await import('../../http/server.js');
      const config = ctx.options().config;
      await serve({
        ...opts,
        ...(config === undefined ? {} : { config }),
        connect: ctx.connectOptions(),
        onListening: (where) => {
          const host = ctx.host;
          const through = host === null ? '' : `; serving the controller of ${host}, through ssh`;
          process.stdout.write(`upk serve: listening on ${where.join(' and ')}${through}\n`);
        },
      });
    });
}
