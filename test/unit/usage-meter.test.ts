// Resource accounting: CPU ticks of a process group between two measurements, and the minute records.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { ticksBetween, UsageMeter, UsageMinutes, type Members } from '../../buddy/usage-meter.js';
import type { ProcStat } from '../../system/proc-usage.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

const proc = (pid: number, ppid: number, ticks: number, startTime = 1000, zombie = false): ProcStat => ({
  pid,
  ppid,
  pgrp: 10,
  zombie,
  startTime,
  ticks,
  rss: 4096,
});
const members = (...ps: ProcStat[]): Members => new Map(ps.map((p) => [p.pid, { startTime: p.startTime, ticks: p.ticks, ppid: p.ppid }]));

describe('CPU ticks between two measurements', { timeout: 5000 }, () => {
  it('a process seen before counts with what it used since', () => {
    assert.equal(ticksBetween(members(proc(10, 1, 50)), [proc(10, 1, 80)], 2000), 30);
  });

  it('a process born since the last measurement counts whole; an old one seen for the first time does not', () => {
    const prev = members(proc(10, 1, 50));
    assert.equal(ticksBetween(prev, [proc(10, 1, 50), proc(11, 10, 7, 2500)], 2000), 7, 'born at tick 2500, after the measurement at 2000');
    assert.equal(ticksBetween(prev, [proc(10, 1, 50), proc(12, 1, 700, 500)], 2000), 0, 'an old process: its past is not this interval');
  });

  it('a pid reused by another process is a new process', () => {
    assert.equal(ticksBetween(members(proc(10, 1, 50, 1000)), [proc(10, 1, 5, 3000)], 2000), 5);
  });

  it("a child reaped by a member: its time moves into the member's cutime, and what was counted is taken back", () => {
    // Before: parent 10 (40 ticks), child 11 (25 ticks). The child then used 5 more and was reaped:
    // the parent's cutime grows by the child's final 30; the parent itself used 2.
    const prev = members(proc(10, 1, 40), proc(11, 10, 25));
    assert.equal(ticksBetween(prev, [proc(10, 1, 40 + 2 + 30)], 0), 2 + 5);
  });

  it('a zombie keeps its final ticks until its parent reaps it, and is not counted twice', () => {
    const first = members(proc(10, 1, 40), proc(11, 10, 25));
    // The child used 5 more and exited: a zombie with its final 30.
    const zombie = [proc(10, 1, 41), proc(11, 10, 30, 1000, true)];
    assert.equal(ticksBetween(first, zombie, 0), 1 + 5);
    // Then the parent reaps it: cutime + 30; the child is gone.
    assert.equal(ticksBetween(members(...zombie), [proc(10, 1, 41 + 30)], 0), 0);
  });

  it('a process reaped by an outsider (init) takes its last ticks with it; the sum never goes negative', () => {
    const prev = members(proc(10, 1, 40), proc(11, 1, 25));
    assert.equal(ticksBetween(prev, [proc(10, 1, 41)], 0), 1);
    assert.equal(ticksBetween(members(proc(10, 1, 40), proc(11, 10, 100, 500)), [proc(10, 1, 40)], 0), 0, 'clamped at zero');
  });

  it('the first measurement of a spawned service counts everything (every member was born since)', () => {
    assert.equal(ticksBetween(new Map(), [proc(10, 1, 12, 1000), proc(11, 10, 3, 1001)], 0), 15);
  });
});

describe('minute records', { timeout: 5000 }, () => {
  const m = (at: number, intervalMs: number, cpuMs: number, rssKb: number, processes = 1) => ({ at, intervalMs, cpuMs, rssKb, processes });

  it('measurements of one minute add up; a measurement in the next minute closes the record', () => {
    const minutes = new UsageMinutes();
    const t0 = 60_000 * 1000;
    assert.equal(minutes.add(m(t0 + 10_000, 10_000, 500, 1000)), null);
    assert.equal(minutes.add(m(t0 + 20_000, 10_000, 1500, 3000, 3)), null);
    const done = minutes.add(m(t0 + 60_000 + 5000, 15_000, 100, 50));
    assert.deepEqual(done, { from: t0, to: t0 + 20_000, cpuMs: 2000, rssKb: 2000, rssMaxKb: 3000, processes: 3, samples: 2 });
    assert.deepEqual(minutes.flush(), {
      from: t0 + 50_000,
      to: t0 + 65_000,
      cpuMs: 100,
      rssKb: 50,
      rssMaxKb: 50,
      processes: 1,
      samples: 1,
    });
    assert.equal(minutes.flush(), null);
  });

  it('the memory mean is weighted by time', () => {
    const minutes = new UsageMinutes();
    const t0 = 60_000 * 2000;
    minutes.add(m(t0 + 30_000, 30_000, 0, 100)); // 100 KiB for 30 s
    minutes.add(m(t0 + 40_000, 10_000, 0, 500)); // 500 KiB for 10 s
    assert.equal(minutes.flush()!.rssKb, Math.round((100 * 30 + 500 * 10) / 40));
  });
});

describe('when the meter measures', { timeout: 5000 }, () => {
  it('soon after a start, then at a poll once 90 % of SampleInterval passed; after a poll its own timer waits 1.5 intervals, else one', async () => {
    // A real group to measure (a sleep in a session of its own), on virtual time.
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      const clock = new VirtualClock();
      const meter = new UsageMeter(10_000, () => undefined, clock);
      meter.track(child.pid!, true);
      assert.equal(clock.untilNext, 1000, 'the first measurement within a second, so a status shows figures at once');
      clock.advance(1000);
      const first = meter.latest?.at;
      assert.equal(first, new Date(clock.now()).toISOString());
      assert.equal(clock.untilNext, 10_000, 'no poll came yet: every SampleInterval');
      clock.advance(8999);
      meter.measureIfDue();
      assert.equal(meter.latest?.at, first, 'a poll before 90 % of the interval does not measure');
      assert.equal(clock.untilNext, 6001, 'polls come: the timer waits until 1.5 intervals after the last measurement');
      clock.advance(1);
      meter.measureIfDue();
      assert.equal(meter.latest?.at, new Date(clock.now()).toISOString(), 'a poll at 90 % measures');
      assert.equal(clock.untilNext, 15_000, 'after a poll, from 5 s on, the timer leaves the next poll half an interval to come first');
      clock.advance(15_000);
      assert.equal(meter.latest?.at, new Date(clock.now()).toISOString(), 'no poll came: the timer measured');
      assert.equal(clock.untilNext, 10_000, 'and measures every SampleInterval until a poll measures again');
      meter.untrack();
      assert.equal(clock.untilNext, null);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  it('with a SampleInterval longer than 10 s, a poll measures once the last measurement is 9 s old; no poll: every SampleInterval', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      const clock = new VirtualClock();
      const meter = new UsageMeter(60_000, () => undefined, clock);
      meter.track(child.pid!, true);
      clock.advance(1000);
      const first = meter.latest?.at;
      assert.ok(first);
      assert.equal(clock.untilNext, 60_000, 'no poll came yet: every SampleInterval');
      clock.advance(8999);
      meter.measureIfDue();
      assert.equal(meter.latest?.at, first, 'a poll before 90 % of 10 s does not measure');
      clock.advance(1);
      meter.measureIfDue();
      assert.equal(meter.latest?.at, new Date(clock.now()).toISOString(), 'a poll 9 s after the last measurement measures');
      assert.equal(clock.untilNext, 90_000, 'polls come: the timer waits 1.5 intervals');
      meter.untrack();
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});
