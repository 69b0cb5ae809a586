// upk why NAME: the story of the service's last failure, in plain words.
import type { Command } from 'commander';
import {
  describeFailure,
  ErrorCode,
  UpkError,
  type FailureStory,
  type FleetEvent,
  type FleetFailureStory,
} from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';
import { parseWindow } from './correlate.js';

export function registerWhy(program: Command, ctx: Context): void {
  program
    .command('why')
    .argument('<name>', 'the service')
    .option(
      '-w, --window <duration>',
      "for what fails with it: how far before or after a failure another service's event counts (default 30s)",
      parseWindow,
    )
    .option('--fleet', "from the fleet's PostgreSQL database: the story on the host --host names (docs/fleet.md)")
    .description("the story of the service's last failure: what ended, how, its last output, what happened next, what fails with it")
    .action((name: string, opts: { window?: number; fleet?: boolean }) => {
      if (opts.fleet) return fleetWhy(ctx, name, opts);
      return ctx.withClient(async (client) => {
        const story = await client.why(name, opts.window === undefined ? {} : { window: opts.window });
        if (ctx.json) return printJson(story);
        process.stdout.write(describeFailure(story).join('\n') + '\n');
      });
    });
}

/** `upk why NAME --fleet --host H`: the story on H from the fleet database, in the same words (what fails with it too); what it cannot tell, said. */
async function fleetWhy(ctx: Context, name: string, opts: { window?: number }): Promise<void> {
  const hosts = ctx.fleetHosts.hosts ?? [];
  if (hosts.length !== 1) throw new UpkError(ErrorCode.BAD_REQUEST, 'upk why --fleet tells the story on one host: name it with --host H');
  const host = hosts[0]!;
  const story = await ctx.withFleet((fleet) => fleet.why(host, name, opts.window === undefined ? {} : { window: opts.window }));
  if (ctx.json) return printJson(story);
  const lines = describeFailure(asHostStory(story));
  // The last line tells the service now, which the database does not know.
  lines[lines.length - 1] = `Now: not in the fleet database; ask the host: upk --host ${host} status ${story.service}`;
  process.stdout.write(`${host}:\n` + lines.join('\n') + '\n');
}

/** The fleet's story in the shape `describeFailure` reads (its events' local ids, which it does not print, as 0). */
function asHostStory(s: FleetFailureStory): FailureStory {
  const event = (e: FleetEvent): FailureStory['after'][number] => ({ ...e, id: 0 });
  return {
    ...s,
    failure: s.failure && {
      ...s.failure,
      event: s.failure.event && event(s.failure.event),
      signals: s.failure.signals.map(event),
      unwell: s.failure.unwell && event(s.failure.unwell),
    },
    after: s.after.map(event),
  };
}
