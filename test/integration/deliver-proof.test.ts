// A delivery on buddies.sock is taken only from the buddy it names: the buddy that answers on the
// service's own socket must be that instance and hold those very events. A real buddy's delivery is
// stored; a forged one that carries on from the stored sequence numbers, with the real instance, is
// refused, and the real events behind it are stored afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { AuditStore } from '../../controller/audit-store.js';
import { BuddyEndpoint } from '../../controller/buddy-endpoint.js';
import { BuddyLink } from '../../controller/buddy-link.js';
import { createLogger } from '../../controller/log.js';
import { buddySettings, prepareRunDir } from '../../controller/run-dir.js';
import { ServiceEntry } from '../../controller/service-entry.js';
import { ServiceTable } from '../../controller/service-table.js';
import { BUDDY_PROTOCOL } from '../../schema/buddy-protocol.js';
import { jsonCodec } from '../../schema/codec.js';
import { loadControllerConfig, loadServices } from '../../schema/config/index.js';
import type { BuddyEvent } from '../../schema/records.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { Sandbox, alive, sleep } from '../helpers/sandbox.js';

const BUDDY = fileURLToPath(new URL('../../buddy/main.js', import.meta.url));

describe('a delivery proves where it comes from', { timeout: 60_000 }, () => {
  let box: Sandbox;
  let store: AuditStore;
  let endpoint: BuddyEndpoint;
  let link: BuddyLink;
  let entry: ServiceEntry;
  const endpointPath = (): string => join(box.dir, 'buddies.sock');
  const logged: string[] = [];

  before(async () => {
    box = new Sandbox('proof');
    box.writeServices({ tick: { ExecStart: `sh -c 'sleep 0.05; exit 1'`, MinUptime: 0, UserRateLimit: 0.05, UserMaxRestarts: -1 } });
    const { config } = loadControllerConfig({ config: box.configFile, env: box.env });
    const svc = loadServices(config!, box.env).services[0]!;
    mkdirSync(box.stateDir, { recursive: true, mode: 0o700 });
    store = new AuditStore(join(box.stateDir, 'upkeeper.db'));
    const { uuid } = store.upsertService(svc);
    const runDir = join(box.stateDir, 'run', 'tick');
    mkdirSync(join(box.stateDir, 'run'), { recursive: true });
    prepareRunDir(runDir, svc, buddySettings(svc, uuid, runDir, { PATH: process.env.PATH! }, null));
    spawn(process.execPath, [BUDDY, runDir], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH! } }).unref();
    link = await box.waitFor('the buddy', () => BuddyLink.connect(join(runDir, 'buddy.sock')).catch(() => undefined));
    entry = new ServiceEntry(svc, uuid, runDir, 'running', link.hello.status);
    const services = new ServiceTable();
    services.set(entry);
    const log = createLogger({ write: (line) => void logged.push(line) });
    endpoint = new BuddyEndpoint(endpointPath(), { services, store, log, reattach: () => undefined });
    await endpoint.listen();
    await link.call('start', {});
    await sleep(500); // a few crashes: events wait in the buddy
  });

  after(async () => {
    await link.call('shutdown', {}).catch(() => undefined);
    link.close();
    endpoint.close();
    await box.waitFor('the buddy gone', () => !alive(link.pid), 10_000).catch(() => undefined);
    store.close();
    await box.cleanup();
  });

  async function deliver(
    events: BuddyEvent[],
    instance = link.instance,
  ): Promise<{ result?: unknown; error?: { code: string; message: string } } | null> {
    const peer = await RawPeer.connect(endpointPath(), jsonCodec);
    try {
      peer.send({ id: 1, method: 'hello', params: { protocol: BUDDY_PROTOCOL } });
      await peer.answer(1);
      const buddy = { instance, uuid: entry.uuid, service: 'tick', pid: link.pid, started: link.hello.status.buddyStarted };
      peer.send({ id: 2, method: 'deliver', params: { buddy, events } });
      return await peer.answer(2);
    } finally {
      peer.close();
    }
  }

  /** The sequence numbers stored for the buddy, read through a connection of the test's own. */
  const stored = (): number[] => {
    const db = new Database(join(box.stateDir, 'upkeeper.db'), { readonly: true });
    try {
      return db
        .prepare<[string], { seq: number }>(
          'SELECT e.seq FROM events e JOIN buddies b ON b.id = e.buddy_id WHERE b.instance = ? ORDER BY e.seq',
        )
        .all(link.instance)
        .map((r) => r.seq);
    } finally {
      db.close();
    }
  };

  it('takes the delivery of the buddy that holds the events', async () => {
    // What the buddy would deliver: its oldest, unacknowledged.
    const events = await box.waitFor('events in the buddy', async () => {
      const page = (await link.call('poll', {})).events;
      return page.length > 5 ? page : undefined;
    });
    const answer = await deliver(events);
    assert.deepEqual(answer?.result, { ack: events.at(-1)!.seq });
    assert.deepEqual(
      stored().slice(0, events.length),
      events.map((e) => e.seq),
    );
    await link.call('ack', { seq: events.at(-1)!.seq });
  });

  it('refuses a forged delivery that carries on from what is stored, with the real instance; the real events are stored after', async () => {
    const last = stored().at(-1)!;
    const forged: BuddyEvent[] = Array.from({ length: 50 }, (_, i) => ({
      seq: last + 1 + i,
      time: Date.now(),
      type: 'spawned',
      pid: 4242,
      detail: { forged: true },
    }));
    const answer = await deliver(forged);
    assert.equal(answer?.error?.code, 'BAD_REQUEST');
    assert.match(answer.error.message, /not delivered by buddy .*: it does not hold event \d+ as delivered/);
    assert.equal(stored().at(-1), last, 'nothing forged stored');
    const fake = await deliver(
      forged.slice(0, 1).map((e) => ({ ...e, seq: 1 })),
      '00000000-0000-4000-8000-00000000abcd',
    );
    assert.match(String(fake?.error?.message), /the buddy of tick is instance/);
    // The real ones, with the same sequence numbers, are still the buddy's, and are stored.
    const events = await box.waitFor("the buddy's next events", async () => {
      const page = (await link.call('poll', {})).events;
      return page.length > 0 ? page : undefined;
    });
    assert.deepEqual(await deliver(events).then((a) => a?.result), { ack: events.at(-1)!.seq });
    assert.ok(events.every((e) => e.type !== 'spawned' || e.pid !== 4242));
    assert.ok(stored().includes(last + 1));
    assert.ok(logged.some((l) => /buddies\.sock: refused: deliver: not delivered by buddy/.test(l)));
  });
});
