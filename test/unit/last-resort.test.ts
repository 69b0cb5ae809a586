// The last resort's bounds: an exiting buddy gives up in bounded time even with ReconnectRetries -1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EventQueue } from '../../buddy/event-queue.js';
import { JournalFile } from '../../buddy/journal-file.js';
import { LastResort, URGENT_FILL } from '../../buddy/last-resort.js';
import type { BuddySettings } from '../../schema/buddy-protocol.js';

describe('last resort', { timeout: 5_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'upk-lr-'));
  const identity = { instance: 'i', uuid: 'u', service: 's', pid: 1, started: 'x' };
  /** A clock whose pauses pass at once (the event loop still turns), and are counted. */
  const virtual = (): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } => {
    let t = 0;
    const slept: number[] = [];
    return {
      now: () => t,
      sleep: (ms) => {
        slept.push(ms);
        t += ms;
        return new Promise((r) => setImmediate(r)); // no time passes, but the event loop turns
      },
      slept,
    };
  };
  const make = (retries: number, clock = virtual()) => {
    const q = new EventQueue(8, new JournalFile(join(dir, `j${retries}`), { journal: 1, ...identity }), 100);
    const settings = { controllerEndpoint: join(dir, 'nobody.sock'), reconnectRetries: retries } as BuddySettings;
    return {
      q,
      clock,
      lr: new LastResort(
        () => settings,
        identity,
        q,
        () => undefined,
        (seq) => q.ack(seq, Date.now()),
        clock,
      ),
    };
  };

  it('exiting with ReconnectRetries -1 gives up after a bounded number of tries', async () => {
    const { q, lr, clock } = make(-1);
    writeFileSync(join(dir, 'nobody.sock'), ''); // something there that refuses: perhaps a controller restarting
    q.push('spawned', {}, 1);
    assert.equal(await lr.deliver('exiting', true), false);
    assert.deepEqual(clock.slept, Array(10).fill(500), '11 tries, 0.5 s apart');
    assert.equal(q.pending, 1, 'nothing was lost: the events wait for the journal');
  });

  it('exiting with no controller socket at all: no tries, the events wait for the journal at once', async () => {
    const { q, lr, clock } = make(-1);
    rmSync(join(dir, 'nobody.sock'), { force: true });
    q.push('spawned', {}, 1);
    assert.equal(await lr.deliver('exiting', true), false);
    assert.deepEqual(clock.slept, [], 'no tries after the first');
    assert.equal(q.pending, 1);
  });

  it('an exit ends a round of unbounded tries (ReconnectRetries -1) under way: the buddy still exits', async () => {
    const { q, lr } = make(-1);
    writeFileSync(join(dir, 'nobody.sock'), '');
    q.push('spawned', {}, 1);
    const round = lr.deliver('ring 75 % full');
    await new Promise((r) => setTimeout(r, 50)); // it tries, and tries
    assert.equal(await lr.deliver('exiting', true), false);
    assert.equal(await round, false);
    assert.equal(q.pending, 1);
  });

  it('the 75 % rule: urgent only with the ring that full and no drain for a while', () => {
    const { q, lr } = make(1);
    for (let i = 0; i < Math.ceil(8 * URGENT_FILL) - 1; i++) q.push('spawned', {}, i);
    assert.equal(lr.urgent(60_000), false, 'below 75 %');
    q.push('spawned', {}, 9);
    assert.equal(lr.urgent(60_000), true);
    assert.equal(lr.urgent(100), false, 'a controller drained it a moment ago');
    rmSync(dir, { recursive: true, force: true });
  });
});
