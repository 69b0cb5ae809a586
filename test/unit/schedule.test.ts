// The buddy's schedule (Schedule, CronRestart) on virtual time: each time a cron expression (croner)
// or an @every interval gives, waited for on the injected clock; paused and resumed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Schedule } from '../../buddy/schedule.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

/** A schedule on a virtual clock that starts at `start`, and the times it was due at. */
function scheduled(text: string, start: number) {
  const clock = new VirtualClock(start);
  const due: number[] = [];
  const s = new Schedule(text, clock, (at) => due.push(at));
  return { clock, due, s };
}

// Cron times are the machine's local time: the expectations are made with the same local Date.
const local = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => new Date(y, mo, d, h, mi, s).getTime();

describe('schedule', { timeout: 5000 }, () => {
  it('a cron job is due at the right minute, then at the next one; not a millisecond before', () => {
    const start = local(2026, 2, 10, 10, 5, 30);
    const { clock, due, s } = scheduled('17 * * * *', start);
    s.set(true);
    assert.equal(s.next, local(2026, 2, 10, 10, 17, 0));
    clock.advance(local(2026, 2, 10, 10, 17, 0) - start - 1);
    assert.deepEqual(due, []);
    clock.advance(1);
    assert.deepEqual(due, [local(2026, 2, 10, 10, 17, 0)]);
    assert.equal(s.next, local(2026, 2, 10, 11, 17, 0));
    clock.advance(3 * 3_600_000);
    assert.deepEqual(
      due.map((t) => new Date(t).getHours()),
      [10, 11, 12, 13],
    );
    assert.ok(due.every((t) => new Date(t).getMinutes() === 17 && new Date(t).getSeconds() === 0));
  });

  it('a weekly time and a seconds field', () => {
    const monday = scheduled('30 3 * * MON', local(2026, 2, 10, 12, 0, 0)); // (a Tuesday)
    monday.s.set(true);
    assert.equal(monday.s.next, local(2026, 2, 16, 3, 30, 0));
    const seconds = scheduled('*/20 * * * * *', local(2026, 2, 10, 12, 0, 5));
    seconds.s.set(true);
    seconds.clock.advance(60_000);
    assert.deepEqual(
      seconds.due.map((t) => new Date(t).getSeconds()),
      [20, 40, 0],
    );
  });

  it('@every counts from when the schedule begins, at a fixed rate; off waits for nothing, on again counts from then', () => {
    const { clock, due, s } = scheduled('@every 30s', 1_000_000);
    s.set(true);
    clock.advance(95_000);
    assert.deepEqual(due, [1_030_000, 1_060_000, 1_090_000]);
    s.set(true); // (already on: keeps its time)
    assert.equal(s.next, 1_120_000);
    s.set(false);
    assert.equal(s.next, null);
    assert.equal(clock.untilNext, null, 'no timer left');
    clock.advance(100_000);
    assert.equal(due.length, 3);
    s.set(true);
    assert.equal(s.next, clock.now() + 30_000);
  });

  it('times missed while the buddy could not run (a suspended machine) are not caught up: one run, then the next time after now', () => {
    const clock = new VirtualClock(0);
    const due: number[] = [];
    // A clock whose timers fire late: the first one 95 s after its time.
    let late = 95_000;
    const lagging = {
      now: () => clock.now(),
      setTimeout: (run: () => void, ms: number) => {
        const t = clock.setTimeout(run, ms + late);
        late = 0;
        return t;
      },
      sleep: (ms: number) => clock.sleep(ms),
    };
    const s = new Schedule('@every 30s', lagging, (at) => due.push(at));
    s.set(true);
    clock.advance(125_000);
    assert.deepEqual(due, [30_000]);
    assert.equal(s.next, 150_000);
  });

  it('refuses a schedule it cannot read (the configuration check refuses it first)', () => {
    assert.throws(() => new Schedule('@every soon', new VirtualClock(), () => undefined), /"@every" needs a duration/);
    assert.throws(() => new Schedule('61 * * * *', new VirtualClock(), () => undefined), /minute/);
  });
});
