// WatchdogSec on virtual time: a run told WATCHDOG_USEC that falls silent is unhealthy, each WATCHDOG=1
// puts that off, and a run started before the watchdog was configured is not watched until its next start.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Input, Snapshot } from '../../buddy/machine.js';
import { Watchdog } from '../../buddy/watchdog.js';
import type { BuddySettings } from '../../schema/buddy-protocol.js';
import type { NewEvent } from '../../schema/event-details.js';
import { HEALTH_FIELDS, READINESS_FIELDS } from '../../schema/run-dir-read.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

const T = { timeout: 5000 };
const settings = (fields: Partial<BuddySettings>): BuddySettings => ({ ...HEALTH_FIELDS, ...READINESS_FIELDS, ...fields }) as BuddySettings;
const WATCHED = settings({ serviceType: 'notify', watchdogSec: 1 });
const running = (pid: number): Snapshot => ({ state: 'running', pid, started: 0 }) as Snapshot;

function harness(initial: BuddySettings) {
  const clock = new VirtualClock();
  const events: NewEvent[] = [];
  const inputs: Input[] = [];
  const dog = new Watchdog(initial, {
    clock,
    context: () => ({ env: {}, cwd: '/' }),
    emit: (e) => events.push(e),
    input: (i) => inputs.push(i),
  });
  return { clock, events, inputs, dog };
}

describe('watchdog', T, () => {
  it('a run told WATCHDOG_USEC is unhealthy after WatchdogSec of silence; each WATCHDOG=1 puts it off', () => {
    const h = harness(WATCHED);
    assert.equal(h.dog.env({ PATH: '/bin' }).WATCHDOG_USEC, '1000000');
    h.dog.follow(running(5));
    h.clock.advance(900);
    h.dog.kick();
    h.clock.advance(900);
    assert.equal(h.events.length, 0, 'kicked in time');
    h.clock.advance(200);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.pid]),
      [['unhealthy', 5]],
    );
    assert.deepEqual(h.inputs, [{ kind: 'unwell', action: 'restart', cause: 'unhealthy' }]);
  });

  it('a process found running (PidFile, ProcessMatch) is not watched: it was never given WATCHDOG_USEC', () => {
    const h = harness(WATCHED);
    h.dog.env({}); // (an earlier run of this buddy was told)
    h.dog.foreign();
    h.dog.follow(running(8));
    h.clock.advance(5000);
    assert.equal(h.events.length, 0);
  });

  it('a run started before Type notify and WatchdogSec were set is not watched (it cannot send WATCHDOG=1); its next start is', () => {
    const h = harness(settings({}));
    assert.equal(h.dog.env({}).WATCHDOG_USEC, undefined);
    h.dog.follow(running(6));
    h.dog.configure(WATCHED);
    h.dog.follow(running(6));
    h.clock.advance(5000);
    assert.equal(h.events.length, 0, 'the run that was never told is left alone');
    assert.equal(h.dog.env({}).WATCHDOG_USEC, '1000000', 'the next start is told');
    h.dog.follow(running(7));
    h.clock.advance(1000);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.pid]),
      [['unhealthy', 7]],
    );
  });
});
