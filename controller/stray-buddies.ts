// Stray buddies: buddies that answer in a run directory but serve no configured service (a removed
// service, or an identity that changed). Each hands over its events, then it and its service stop.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceConfig } from '../schema/config/types.js';
import { RUN_DIR } from '../schema/run-dir.js';
import { processAlive } from '../system/process-group.js';
import type { AuditStore } from './audit-store.js';
import { BuddyLink } from './buddy-link.js';
import type { Logger } from './log.js';
import { ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';
import { storedConfig } from '../schema/stored-config.js';

/** What retiring strays needs of the buddies' keeper. */
export interface StrayParts {
  readonly services: Pick<ServiceTable, 'all' | 'byUuid'>;
  readonly store: Pick<AuditStore, 'openBuddies' | 'endBuddy' | 'serviceByUuid' | 'recordForgotten' | 'markRemoved'>;
  readonly log: Logger;
  svcRunPath(): string;
  /** Bind a buddy to a service entry (its events are then polled). */
  bind(entry: ServiceEntry, link: BuddyLink): void;
  /** Collect every event its buddy holds. */
  drain(entry: ServiceEntry): Promise<void>;
  shutdown(entry: ServiceEntry): Promise<unknown>;
}

export class StrayBuddies {
  constructor(private readonly c: StrayParts) {}

  /** Every stray buddy in SvcRunPath retired, and every buddy row still open that no attached buddy holds checked. */
  async retireAll(): Promise<void> {
    const svcRunPath = this.c.svcRunPath();
    const known = new Set(this.c.services.all().map((e) => e.runDir));
    let dirs: string[] = [];
    try {
      dirs = readdirSync(svcRunPath).map((d) => join(svcRunPath, d));
    } catch {
      /* no run directories yet */
    }
    for (const dir of dirs.filter((d) => !known.has(d))) {
      const link = await BuddyLink.connect(join(dir, RUN_DIR.socket)).catch(() => null);
      if (link) await this.retire(dir, link);
    }
    const attached = new Set(this.c.services.all().map((e) => e.link?.buddyId));
    for (const row of this.c.store.openBuddies()) {
      if (attached.has(row.id)) continue;
      if (!processAlive(row.pid)) this.c.store.endBuddy(row.id, 'gone');
      else this.c.log.warn(`buddy ${row.pid} (instance ${row.instance}) still runs but answers on no run directory's socket`);
    }
  }

  /** Collect a stray buddy's events, then shut it and its service down (its service was removed). */
  async retire(runDir: string, link: BuddyLink): Promise<void> {
    const { store, log } = this.c;
    const uuid = link.hello.status.uuid;
    const id = link.hello.status.service;
    const stored = store.serviceByUuid(uuid);
    if (!stored) {
      store.recordForgotten(uuid, id);
      log.warn(`${runDir}: buddy ${link.pid} serves uuid ${uuid}, which the database never knew; recorded as removed`);
    }
    // Its stored configuration (its stop's timeouts), under the id its buddy serves (a renamed uuid's
    // stored one is under the new id); a forgotten service has nothing but that id.
    const config = { ...((stored && storedConfig(stored.config)) ?? {}), id } as ServiceConfig;
    const entry = ServiceEntry.stray(config, uuid, runDir);
    this.c.bind(entry, link);
    // A uuid configured under another run directory was renamed (a fixed UUID under a new id): it lives on there.
    const renamed = this.c.services.byUuid(uuid);
    const what = renamed ? `the service now named ${renamed.config.id}, under its old run directory` : 'a removed service';
    log.warn(`${config.id}: buddy ${link.pid} serves ${what} (uuid ${uuid}); collecting its events and shutting it down`);
    await this.c.drain(entry);
    await this.c.shutdown(entry).catch((err: Error) => log.warn(`${config.id}: ${err.message}`));
    if (!renamed) store.markRemoved(uuid);
  }
}
