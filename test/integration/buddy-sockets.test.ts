// Nothing on the buddies' sockets is trusted: buddy.sock and the controller's buddies.sock take
// `hello` first (within the deadline, of the right version), and a delivery is checked field by field
// and must carry on from what is stored, so a forged sequence number acknowledges nothing away.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUDDY_PROTOCOL } from '../../schema/buddy-protocol.js';
import { jsonCodec } from '../../schema/codec.js';
import { HELLO_DEADLINE_MS } from '../../schema/rpc.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { Sandbox } from '../helpers/sandbox.js';

describe('buddy sockets', { timeout: 90_000 }, () => {
  let box: Sandbox;
  let endpoint = '';
  let uuid = '';
  before(async () => {
    box = new Sandbox('bsock');
    endpoint = join(box.stateDir, 'buddies.sock');
    box.writeServices({
      // Restarts every 0.2 s: real events keep coming from its buddy.
      tick: { ExecStart: `sh -c 'sleep 0.2; exit 1'`, InitialState: 'running', MinUptime: 0, UserRateLimit: 0.05, UserMaxRestarts: -1 },
    });
    await box.startController();
    const [s] = await (await box.client()).status('tick');
    uuid = s!.uuid;
  });
  after(() => box.cleanup());

  const log = (): string => readFileSync(join(box.stateDir, 'controller.log'), 'utf8');
  const identity = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    instance: randomUUID(),
    uuid,
    service: 'tick',
    pid: process.pid,
    started: new Date().toISOString(),
    ...over,
  });
  async function greeted(): Promise<RawPeer> {
    const peer = await RawPeer.connect(endpoint, jsonCodec);
    peer.send({ id: 1, method: 'hello', params: { protocol: BUDDY_PROTOCOL } });
    assert.deepEqual((await peer.answer(1))?.result, { protocol: BUDDY_PROTOCOL });
    return peer;
  }

  it('buddies.sock: deliver before hello is refused and closed; a wrong version is closed', async () => {
    const early = await RawPeer.connect(endpoint, jsonCodec);
    early.send({ id: 1, method: 'deliver', params: { buddy: identity(), events: [] } });
    assert.equal((await early.answer(1))?.error?.code, 'PROTOCOL_ERROR');
    // Closed at once: the hello deadline would close them only after 10 s.
    assert.ok(await early.closesWithin(5000));
    const wrong = await RawPeer.connect(endpoint, jsonCodec);
    wrong.send({ id: 1, method: 'hello', params: { protocol: 99 } });
    assert.equal((await wrong.answer(1))?.error?.code, 'PROTOCOL_ERROR');
    assert.ok(await wrong.closesWithin(5000), 'closed after a hello of the wrong version');
  });

  it('buddies.sock: a forged sequence number is refused, and the real events are still stored', async () => {
    const c = await box.client();
    const [s] = await c.status('tick');
    const buddy = await box.waitFor('the buddy instance', () => {
      const db = box.db();
      try {
        return db.prepare('SELECT instance FROM buddies WHERE pid = ? ORDER BY id DESC').get(s!.buddyPid) as
          { instance: string } | undefined;
      } finally {
        db.close();
      }
    });
    const peer = await greeted();
    const forged = { seq: 1_000_000_000, time: Date.now(), type: 'stopped' };
    peer.send({ id: 2, method: 'deliver', params: { buddy: identity({ instance: buddy.instance, pid: s!.buddyPid }), events: [forged] } });
    const answer = await peer.answer(2);
    assert.equal(answer?.error?.code, 'BAD_REQUEST');
    assert.match(answer.error.message, /deliveries carry on from what is stored/);
    const before = box.events('tick').length;
    await box.waitFor('the real buddy still collected', () => box.events('tick').length > before + 3);
    assert.ok(!box.events('tick').some((e) => e.seq === 1_000_000_000));
    assert.match(log(), /buddies\.sock: refused: deliver: events from seq 1000000000/);
    peer.close();
  });

  it('buddies.sock: garbage in any field is a BAD_REQUEST, never an internal error', async () => {
    const peer = await greeted();
    const cases: [string, Record<string, unknown>][] = [
      ['buddy.started', { buddy: identity({ started: 'garbage' }), events: [] }],
      ['buddy.instance', { buddy: identity({ instance: 'not-a-uuid' }), events: [] }],
      ['type', { buddy: identity(), events: [{ seq: 1, time: Date.now(), type: 'nonsense' }] }],
      ['seq', { buddy: identity(), events: [{ seq: -1, time: Date.now(), type: 'stopped' }] }],
      ['time', { buddy: identity(), events: [{ seq: 1, time: 'now', type: 'stopped' }] }],
      ['detail', { buddy: identity(), events: [{ seq: 1, time: Date.now(), type: 'stopped', detail: 'x' }] }],
      [
        'larger',
        {
          buddy: identity(),
          events: [
            { seq: 2, time: 1, type: 'stopped' },
            { seq: 2, time: 1, type: 'stopped' },
          ],
        },
      ],
      ['usage', { buddy: identity(), events: [{ seq: 1, time: 1, type: 'usage', detail: { from: 'x' } }] }],
      ['no process', { buddy: identity({ pid: 999_999_999 }), events: [{ seq: 1, time: 1, type: 'stopped' }] }],
    ];
    let id = 10;
    for (const [what, params] of cases) {
      peer.send({ id: ++id, method: 'deliver', params });
      const answer = await peer.answer(id);
      assert.equal(answer?.error?.code, 'BAD_REQUEST', `${what}: ${JSON.stringify(answer)}`);
    }
    // A frame that is no JSON closes this connection, and is logged.
    peer.socket.write(Buffer.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]));
    assert.ok(await peer.closesWithin(5000));
    await box.waitFor('the refusal logged', () => /buddies\.sock: refused: connection dropped: undecodable json frame/.test(log()));
    assert.doesNotMatch(log(), /INTERNAL|constraint/i);
  });

  it('buddy.sock: poll and ack before hello are refused; a wrong version is closed', async () => {
    const socket = join(box.runDir('tick'), 'buddy.sock');
    const peer = await RawPeer.connect(socket, jsonCodec);
    peer.send({ id: 1, method: 'poll', params: {} });
    assert.equal((await peer.answer(1))?.error?.code, 'PROTOCOL_ERROR');
    assert.ok(await peer.closesWithin(5000));
    const ack = await RawPeer.connect(socket, jsonCodec);
    ack.send({ id: 1, method: 'ack', params: { seq: 1_000_000 } });
    assert.equal((await ack.answer(1))?.error?.code, 'PROTOCOL_ERROR');
    const wrong = await RawPeer.connect(socket, jsonCodec);
    wrong.send({ id: 1, method: 'hello', params: { protocol: BUDDY_PROTOCOL + 1 } });
    assert.equal((await wrong.answer(1))?.error?.code, 'PROTOCOL_ERROR');
    assert.ok(await wrong.closesWithin(5000));
    const before = box.events('tick').length;
    await box.waitFor('the buddy still collected', () => box.events('tick').length > before);
  });

  it(`both sockets close a peer silent for ${HELLO_DEADLINE_MS / 1000} s`, async () => {
    const quiet = [await RawPeer.connect(endpoint, jsonCodec), await RawPeer.connect(join(box.runDir('tick'), 'buddy.sock'), jsonCodec)];
    const t0 = Date.now();
    for (const q of quiet) assert.ok(await q.closesWithin(HELLO_DEADLINE_MS + 5000)); // room for a loaded machine
    assert.ok(Date.now() - t0 >= HELLO_DEADLINE_MS - 500);
  });
});
