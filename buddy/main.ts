#!/usr/bin/env node
// upk-buddy RUN_DIR: supervises the one service of RUN_DIR. Started by the controller, detached from it.
import { randomUuid } from '../system/random-uuid.js';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { BuddyIdentity } from '../schema/buddy-protocol.js';
import { RUN_DIR } from '../schema/run-dir.js';
import { BuddyServer } from './buddy-server.js';
import { EventQueue } from './event-queue.js';
import { JournalFile, setAsideOldJournal } from './journal-file.js';
import { LastResort } from './last-resort.js';
import { previousStatus, readSettings } from '../schema/run-dir-read.js';
import { survives } from '../system/process-group.js';
import { Supervisor } from './supervisor.js';
import { stderrLines } from '../system/log-line.js';
import { closeInheritedDescriptors } from '../system/inherited-fds.js';

/** How long a buddy that is exiting waits for the controller to collect its last events. */
const EXIT_GRACE_MS = 5000;

/**
 * V8's memory reducer returns what the start left on the heap (two full collections, ~10–30 ms of
 * CPU once, heap 4.4 → 3.7 MB) 2 s after the start instead of 8 s: a buddy is small soon after it
 * starts, and an idle system quiet from then on (docs/architecture.md, "Beside the peers"). Set here,
 * not on node's command line, where a flag a later V8 lacks would stop every buddy from starting
 * ("bad option"); here it is one line in buddy.log.
 */
const V8_FLAGS = '--gc-memory-reducer-start-delay-ms=2000';

// Lines go to fd 2 (log/buddy.log) directly: a full disk loses lines, counted, and never loops.
const log = stderrLines(() => `${new Date().toISOString()} buddy[${process.pid}]`);
process.stderr.on('error', () => undefined);

async function main(): Promise<void> {
  setFlagsFromString(V8_FLAGS);
  const runDir = process.argv[2];
  if (!runDir || !isAbsolute(runDir) || process.argv.length !== 3) {
    process.stderr.write('usage: upk-buddy RUN_DIR (an absolute path; the controller starts buddies)\n');
    process.exit(2);
  }
  // (The controller closes what it inherited; a buddy started by hand, or by an older controller, may have more.)
  const inherited = closeInheritedDescriptors();
  if (inherited.length > 0) log(`closed the descriptors it inherited (${inherited.join(', ')}): its service does not get them`);
  process.chdir(runDir);
  const settings = readSettings(RUN_DIR.settings);
  // Read before this buddy writes its own status: what a lost buddy left running is adopted.
  const previous = previousStatus(RUN_DIR.status, settings.uuid);
  const firstHere = previous === null && !existsSync(RUN_DIR.status); // (missing, not merely unreadable)
  const identity = { instance: randomUuid(), started: Date.now() };
  const me: BuddyIdentity = {
    instance: identity.instance,
    uuid: settings.uuid,
    service: settings.service,
    pid: process.pid,
    started: new Date(identity.started).toISOString(),
  };
  const aside = setAsideOldJournal(RUN_DIR.journal);
  if (aside) log(`a journal of a previous buddy is left as ${aside} for the controller`);
  const journal = new JournalFile(`${runDir}/${RUN_DIR.journal}`, { journal: 1, ...me });
  const queue = new EventQueue(settings.ringbufferSize, journal, settings.journalMaxEvents);
  let journalErrorAt = 0;
  queue.onJournalError = (message) => {
    if (Date.now() - journalErrorAt < 60_000) return; // once a minute at most
    journalErrorAt = Date.now();
    log(`cannot write ${RUN_DIR.journal} (events that overflow the ring are lost, and counted): ${message}`);
  };
  const supervisor = new Supervisor(runDir, settings, queue, identity, log);
  const server = new BuddyServer(supervisor, queue, identity, RUN_DIR.settings, log);
  await server.listen(RUN_DIR.socket);
  const lastResort = new LastResort(
    () => supervisor.currentSettings,
    me,
    queue,
    log,
    (seq) => supervisor.ack(seq),
  );
  supervisor.onEvent = () => {
    server.announce();
    if (lastResort.urgent(Date.now() - server.lastDrained)) void lastResort.deliver('ring 75 % full');
  };

  let exiting = false;
  let finished = false;
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    // Each step on its own: whatever fails (a log file gone, a full disk), the buddy still exits.
    const step = async (what: string, run: () => unknown): Promise<void> => {
      try {
        await run();
      } catch (err) {
        log(`exiting: ${what}: ${(err as Error).message}`);
      }
    };
    // Whatever no controller took is delivered by the last resort, else kept in the journal.
    await step('keeping undelivered events', async () => {
      if (queue.pending > 0 && !(await lastResort.deliver('exiting', true))) {
        queue.spill(Date.now());
        journal.retire();
        log(`exiting with ${queue.journaled} events in ${RUN_DIR.journal}.${identity.instance} for the next controller`);
      }
    });
    await step('closing the output', () => supervisor.close());
    await step('closing the socket', () => server.close(RUN_DIR.socket));
    log('exiting');
    process.exit(0);
  };
  supervisor.onExit = async () => {
    if (exiting) return;
    exiting = true;
    // Scripts still running (the stop script, say) end first, so that buddy_exiting is the last event.
    const deadline = Date.now() + EXIT_GRACE_MS;
    while (supervisor.actionsRunning && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    supervisor.emitExiting('shutdown');
    // Exit once a controller has every event; without one at all, go on to the last resort at once.
    server.onAck = () => {
      if (queue.pending === 0) void finish();
    };
    // The last controller gone (or `upk shutdown` with none, which hangs up after the answer): the
    // last resort, else the journal, at once.
    server.onClose = () => {
      if (server.controllers === 0) void finish();
    };
    if (server.controllers === 0) void finish();
    else setTimeout(() => void finish(), EXIT_GRACE_MS).unref();
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

  supervisor.open(previous, firstHere);
  if (survives(previous)) {
    supervisor.adopt(previous);
    log(`adopted ${settings.service}: pid ${previous.pid} still runs`);
  }
  log(`supervising ${settings.service} (${settings.uuid}) in ${runDir}`);
}

main().catch((err: Error) => {
  log(`cannot start: ${err.message}`);
  process.exit(1);
});
