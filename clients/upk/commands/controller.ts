// upk controller start|stop|status
import type { Command } from 'commander';
import { restartController, startController, stopController } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { duration, printJson, problemLines } from '../output.js';

export function registerController(program: Command, ctx: Context): void {
  const controller = program.command('controller').description('start, stop or inspect the controller (services are not touched)');

  controller
    .command('start')
    .description('start the controller in the background; returns once it answers')
    .action(async () => {
      const started = await startController(ctx.connectOptions());
      if (ctx.json) return printJson(started);
      const c = started.controller;
      process.stdout.write(
        started.alreadyRunning ? `controller already running (pid ${c.pid})\n` : `controller started (pid ${c.pid}, log ${started.log})\n`,
      );
    });

  controller
    .command('stop')
    .description('stop the controller alone: buddies and services keep running')
    .action(async () => {
      const info = await stopController(ctx.connectOptions());
      if (ctx.json) return printJson({ stopped: true, pid: info.pid });
      process.stdout.write(`controller ${info.pid} stopped; services keep running\n`);
    });

  controller
    .command('restart')
    .description('replace the running controller with a new one (for an upgrade); services keep running')
    .action(async () => {
      const r = await restartController(ctx.connectOptions());
      if (ctx.json) return printJson(r);
      const was = r.previous
        ? `controller ${r.previous.pid} replaced by ${r.controller.pid}`
        : `controller started (pid ${r.controller.pid}; none was running)`;
      process.stdout.write(`${was}; services keep running\n`);
    });

  controller
    .command('status')
    .description("the controller's pid, uptime, socket and version")
    .action(() =>
      ctx.withClient(async (client) => {
        const s = await client.controllerStatus();
        if (ctx.json) return printJson(s);
        const lines = [
          `pid       ${s.pid}`,
          `uptime    ${duration(s.uptimeMs)} (since ${s.startedAt})`,
          `version   ${s.version} (protocol ${s.protocol})`,
          `socket    ${s.socket}`,
          `state     ${s.stateDir}`,
          `config    ${s.configFile ?? '(defaults)'}`,
          `services  ${s.services} (${s.buddies} buddies reachable)`,
          `clients   ${s.clients} connected (at most ${s.maxClients} at once)`,
        ];
        const st = s.stats; // absent from a controller before them
        if (st) {
          const mean = st.pollRounds > 0 ? ` (${((st.pollSeconds / st.pollRounds) * 1000).toFixed(1)} ms each on average)` : '';
          lines.push(
            `events    ${st.eventsStored} stored since its start, ${st.eventsPending} waiting in buddies`,
            `polling   ${st.pollRounds} rounds${mean}, ${st.buddyPolls} polls of buddies`,
          );
        }
        if (s.fleet) {
          const f = s.fleet;
          const behind = Object.values(f.behind).reduce((a, b) => a + b, 0);
          const sent = Object.values(f.exported).reduce((a, b) => a + b, 0);
          lines.push(
            `fleet     ${f.up ? 'exporting' : 'not exporting'} to ${f.database} as ${f.host}: ${sent} rows exported since the start, ` +
              `${behind} behind${f.lastExport ? `; last batch ${f.lastExport}` : ''}`,
          );
        }
        if (s.configIssues.length > 0) lines.push(`config problems: ${s.configIssues.length} (run upk check-config)`);
        lines.push(...(s.problems.length > 0 ? problemLines(s.problems) : ['problems  none']));
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
