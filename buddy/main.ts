#!/usr/bin/env node
// upk-buddy RUN_DIR: supervises the one service of RUN_DIR. Started by the controller, detached from it.
import { randomUUID } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { RUN_DIR } from '../schema/run-dir.js';
import { BuddyServer } from './buddy-server.js';
import { EventRing } from './ring.js';
import { readSettings, survivingService } from './settings.js';
import { Supervisor } from './supervisor.js';

/** How long a buddy that is exiting waits for the controller to collect its last events. */
const EXIT_GRACE_MS = 5000;

const log = (message: string): void => {
  process.stderr.write(`${new Date().toISOString()} buddy[${process.pid}] ${message}\n`);
};

async function main(): Promise<void> {
  const runDir = process.argv[2];
  if (!runDir || !isAbsolute(runDir) || process.argv.length !== 3) {
    process.stderr.write('usage: upk-buddy RUN_DIR (an absolute path; the controller starts buddies)\n');
    process.exit(2);
  }
  process.chdir(runDir);
  const settings = readSettings(RUN_DIR.settings);
  // Read before this buddy writes its own status: a service a lost buddy left running is adopted.
  const survivor = survivingService(RUN_DIR.status, settings.uuid);
  const identity = { instance: randomUUID(), started: Date.now() };
  const ring = new EventRing(settings.ringbufferSize);
  const supervisor = new Supervisor(runDir, settings, ring, identity, log);
  const server = new BuddyServer(supervisor, ring, identity, RUN_DIR.settings, log);
  await server.listen(RUN_DIR.socket);
  supervisor.onEvent = () => server.announce();

  let exiting = false;
  const finish = (): void => {
    supervisor.close();
    server.close(RUN_DIR.socket);
    log('exiting');
    process.exit(0);
  };
  supervisor.onExit = () => {
    if (exiting) return;
    exiting = true;
    supervisor.emitExiting('shutdown');
    // Exit once the controller has every event, including those of scripts still running.
    server.onAck = () => {
      if (ring.pending === 0 && !supervisor.actionsRunning) finish();
    };
    setTimeout(finish, EXIT_GRACE_MS).unref();
  };

  process.on('SIGTERM', () => void supervisor.command('shutdown'));
  process.on('SIGINT', () => void supervisor.command('shutdown'));
  process.on('SIGHUP', () => {
    try {
      supervisor.reconfigure(readSettings(RUN_DIR.settings));
    } catch (err) {
      log(`SIGHUP: cannot re-read ${RUN_DIR.settings}: ${(err as Error).message}`);
    }
  });
  // A buddy must outlive its own bugs: its service depends on it. Log and carry on.
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${String(err)}`));

  supervisor.open();
  if (survivor) {
    supervisor.adopt(survivor);
    log(`adopted ${settings.service}: pid ${survivor.pid} still runs`);
  }
  log(`supervising ${settings.service} (${settings.uuid}) in ${runDir}`);
}

main().catch((err: Error) => {
  log(`cannot start: ${err.message}`);
  process.exit(1);
});
