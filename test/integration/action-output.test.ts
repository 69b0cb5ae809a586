// Actions write into a FIFO, not a socket: `> /dev/stdout` and `> /dev/stderr` work in custom actions, stop and reload scripts; concurrent actions keep their outputs apart; a background child holding the output is left behind after DRAIN_MS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

/** Both idioms: on a socket, opening /dev/stderr fails with ENXIO and the script exits 2. */
const BOTH = (tag: string): string => `echo ${tag}-to-stderr > /dev/stderr; echo ${tag}-to-stdout > /dev/stdout`;

describe('action output through FIFOs', { timeout: 90_000 }, () => {
  let box: Sandbox;
  const actionsLog = (): string => readFileSync(join(box.runDir('app'), 'log', 'actions'), 'utf8');

  before(async () => {
    box = new Sandbox('actout');
    box.writeServices({
      app: {
        ExecStart: `sh -c 'trap "echo got HUP" HUP; while :; do sleep 0.05; done'`,
        MinUptime: 0.1,
        InitialState: 'running',
        StopScript: `#!/bin/sh\n${BOTH('stop')}\nkill $1\n`,
        ReloadScript: `#!/bin/sh\n${BOTH('reload')}\nkill -HUP $1\n`,
        CustomActions: {
          both: BOTH('custom'),
          a: 'for i in 1 2 3 4 5; do echo a$i > /dev/stdout; echo A$i > /dev/stderr; sleep 0.1; done',
          b: 'for i in 1 2 3 4 5; do echo b$i > /dev/stdout; echo B$i > /dev/stderr; sleep 0.1; done',
          bg: '(sleep 1; echo late-from-bg > /dev/stdout) & echo bg-started > /dev/stdout',
          next: 'echo next-begins > /dev/stdout; sleep 1.5; echo next-ends > /dev/stdout',
        },
      },
    });
    await box.startController();
    await box.waitForState('app', 'running');
  });
  after(() => box.cleanup());

  it('a custom action writing to /dev/stderr and /dev/stdout succeeds; both lines, in order, in its output and in log/actions', async () => {
    const c = await box.client();
    const r = await c.action('app', 'both');
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output, 'custom-to-stderr\ncustom-to-stdout\n');
    assert.match(actionsLog(), /custom-to-stderr\ncustom-to-stdout\n/);
  });

  it('the reload script: the same', async () => {
    const c = await box.client();
    const [r] = await c.reload('app');
    assert.equal(r!.ok, true, r!.message);
    assert.equal(r!.action?.code, 0);
    assert.equal(r!.action?.output, 'reload-to-stderr\nreload-to-stdout\n');
    assert.match(actionsLog(), /reload-to-stderr\nreload-to-stdout\n/);
  });

  it('two actions at once keep their outputs apart', async () => {
    const c = await box.client();
    const [a, b] = await Promise.all([c.action('app', 'a'), c.action('app', 'b')]);
    assert.equal(a.code, 0, a.output);
    assert.equal(b.code, 0, b.output);
    assert.equal(a.output, [1, 2, 3, 4, 5].map((i) => `a${i}\nA${i}\n`).join(''));
    assert.equal(b.output, [1, 2, 3, 4, 5].map((i) => `b${i}\nB${i}\n`).join(''));
  });

  it('a background child holding the output: the action returns after DRAIN_MS, and the next action does not get its writes', async () => {
    const c = await box.client();
    const bg = await c.action('app', 'bg');
    assert.equal(bg.code, 0, bg.output);
    // Not waited for: the late line its background child writes 1 s in is not in the output.
    assert.equal(bg.output, 'bg-started\n');
    // The next action runs while the background child writes its late line (1 s after it began).
    const next = await c.action('app', 'next');
    assert.equal(next.code, 0, next.output);
    assert.equal(next.output, 'next-begins\nnext-ends\n');
    assert.doesNotMatch(actionsLog(), /late-from-bg/);
  });

  it('the stop script: the same, and it exits 0', async () => {
    const c = await box.client();
    const [r] = await c.stop('app');
    assert.equal(r!.ok, true, r!.message);
    await box.waitFor('the stop script to finish', () =>
      box.events('app').some((e) => e.type === 'action_finished' && JSON.parse(e.detail!).action === 'stop'),
    );
    const stop = box.events('app').find((e) => e.type === 'action_finished' && JSON.parse(e.detail!).action === 'stop');
    assert.equal(stop!.code, 0);
    assert.match(actionsLog(), /stop-to-stderr\nstop-to-stdout\n/);
  });
});

describe(
  'action output for a service run as another user',
  { timeout: 60_000, skip: process.getuid?.() !== 0 ? 'needs root' : false },
  () => {
    it("its custom action can write to /dev/stdout and /dev/stderr (the FIFO is the service user's)", async () => {
      const box = new Sandbox('actuid');
      try {
        box.writeServices({
          asnobody: {
            ExecStart: 'sleep 1000',
            SetUID: 'nobody',
            InitialState: 'running',
            MinUptime: 0.1,
            CustomActions: { both: BOTH('nobody') },
          },
        });
        await box.startController();
        await box.waitForState('asnobody', 'running');
        const r = await (await box.client()).action('asnobody', 'both');
        assert.equal(r.code, 0, r.output);
        assert.equal(r.output, 'nobody-to-stderr\nnobody-to-stdout\n');
      } finally {
        await box.cleanup();
      }
    });
  },
);
