// Takes in the journals that gone buddies left in a run directory (journal.<instance>): their events
// go into the database like any others (exactly once), and the file is removed.
import { readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readJournal } from '../schema/journal.js';
import { RUN_DIR } from '../schema/run-dir.js';
import type { AuditStore } from './audit-store.js';

/** Events read from a journal per transaction. */
const BATCH = 5000;

/** Returns how many events were new to the database. */
export function takeInJournals(store: AuditStore, runDir: string, serviceUuid: string, log: (m: string) => void): number {
  let files: string[];
  try {
    files = readdirSync(runDir).filter((f) => f.startsWith(`${RUN_DIR.journal}.`) && !f.endsWith('.unreadable'));
  } catch {
    return 0;
  }
  let stored = 0;
  for (const name of files) {
    const file = join(runDir, name);
    try {
      const first = readJournal(file, 0, BATCH);
      const header = first.header;
      if (!header || header.uuid !== serviceUuid) {
        renameSync(file, `${file}.unreadable`);
        log(`${file}: no header of this service; set aside as ${name}.unreadable`);
        continue;
      }
      const buddyId = store.buddyId(header.instance, serviceUuid, header.pid, Date.parse(header.started));
      let read = first;
      let fromFile = 0;
      for (;;) {
        const events = read.events.map((r) => r.event);
        fromFile += store.insertEvents([{ serviceUuid, service: header.service, instance: header.instance, buddyId, events }]);
        if (read.events.length < BATCH) break;
        read = readJournal(file, read.events[read.events.length - 1]!.end, BATCH);
      }
      unlinkSync(file);
      store.endBuddy(buddyId, 'gone');
      stored += fromFile;
      log(`${file}: took in ${fromFile} events of buddy ${header.pid} (instance ${header.instance})`);
    } catch (err) {
      log(`${file}: cannot take it in: ${(err as Error).message}`);
    }
  }
  return stored;
}
