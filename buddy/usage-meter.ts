// Measures the CPU time and memory of a service's whole process group every SampleInterval, and sums
// the measurements into one usage record per minute of the clock (stored by the controller in samples).
import { isoTime, type ResourceUsage, type UsageDetail } from '../schema/records.js';
import { bootTicksNow, childrenOf, CLOCK_TICKS_PER_SECOND, readProcStat, type ProcStat } from '../system/proc-usage.js';
import { REAL_CLOCK, type Clock, type Timer } from '../system/clock.js';

/** A poll measures when this share of the interval has passed since the last measurement. */
const DUE_SHARE = 0.9;
/**
 * A poll brings figures at most this old (when SampleInterval is longer): a quiet buddy is polled every
 * 10 s while a client subscribes to its service (uptop), and once a minute while none does.
 */
const POLL_FRESH_MS = 10_000;
/** From this interval on, the own timer leaves polls half an interval to come first. */
const SLACK_FROM_MS = 5000;

/** What was last seen of a process of the group. */
export interface Member {
  startTime: number;
  ticks: number;
  ppid: number;
}
export type Members = Map<number, Member>;

/**
 * CPU ticks the group used between two measurements. A process counts with what it used since the
 * last measurement, or with all it used when it was born since then (`sinceBootTicks`). A process
 * that ended and was reaped by a member moved its ticks into that member's cutime and cstime, so what
 * was already counted of it is taken back; one reaped by an outsider (init) takes its last ticks away.
 */
export function ticksBetween(prev: Members, now: readonly ProcStat[], sinceBootTicks: number): number {
  let ticks = 0;
  const alive = new Map(now.map((p) => [p.pid, p]));
  for (const p of now) {
    const q = prev.get(p.pid);
    if (q && q.startTime === p.startTime) ticks += Math.max(0, p.ticks - q.ticks);
    else if (p.startTime >= sinceBootTicks) ticks += p.ticks;
  }
  for (const [pid, q] of prev) {
    if (alive.get(pid)?.startTime === q.startTime) continue;
    const parent = alive.get(q.ppid);
    if (parent && prev.get(q.ppid)?.startTime === parent.startTime) ticks -= q.ticks;
  }
  return Math.max(0, ticks);
}

/** The processes of the group `leader` leads: its descendants in the group, and earlier members still in it. */
function groupMembers(leader: number, known: Iterable<number>): ProcStat[] {
  const found = new Map<number, ProcStat>();
  const visit = (start: number): void => {
    const stack = [start];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (found.has(pid)) continue;
      const st = readProcStat(pid);
      if (!st || st.pgrp !== leader) continue;
      found.set(pid, st);
      if (!st.zombie) stack.push(...childrenOf(pid));
    }
  };
  visit(leader);
  for (const pid of known) visit(pid);
  return [...found.values()];
}

/** One measurement, as the minute record sums it. */
export interface Measurement {
  at: number;
  /** Wall time the measurement covers (since the one before; 0 for a first one that only sets a baseline). */
  intervalMs: number;
  cpuMs: number;
  rssKb: number;
  processes: number;
}

/** Sums measurements into one record per minute of the clock (by the time each was taken). */
export class UsageMinutes {
  private current: UsageDetail | null = null;
  private minute = 0;
  private rssKbMs = 0;

  /** Add a measurement; returns the previous minute's record when this one begins a new minute. */
  add(m: Measurement): UsageDetail | null {
    const minute = Math.floor(m.at / 60_000);
    const done = this.current && minute !== this.minute ? this.flush() : null;
    if (!this.current) {
      this.minute = minute;
      this.rssKbMs = 0;
      this.current = { from: m.at - m.intervalMs, to: m.at, cpuMs: 0, rssKb: 0, rssMaxKb: 0, processes: 0, samples: 0 };
    }
    const c = this.current;
    c.to = m.at;
    c.cpuMs += m.cpuMs;
    c.samples += 1;
    c.rssMaxKb = Math.max(c.rssMaxKb, m.rssKb);
    c.processes = Math.max(c.processes, m.processes);
    this.rssKbMs += m.rssKb * m.intervalMs;
    const wall = c.to - c.from;
    // The mean weighted by time; a stretch of no length (a first baseline alone) takes the value as is.
    c.rssKb = wall > 0 ? Math.round(this.rssKbMs / wall) : m.rssKb;
    return done;
  }

  /** The record of the minute in progress, if any; the next measurement starts a new one. */
  flush(): UsageDetail | null {
    const done = this.current;
    this.current = null;
    return done;
  }
}

/**
 * Samples one service's process group while it runs, every SampleInterval. A poll from the controller
 * takes a measurement that is due, or one when the last is 10 s old (the buddy is awake anyway: one
 * wake-up serves both, and a client that watches the service gets figures that fresh);
 * the meter's own timer measures when no poll comes, and while polls come (within 1.5 intervals of
 * the last one) it waits half an interval longer (for intervals of 5 s or more), so that polls, not
 * the timer, wake the buddy.
 */
export class UsageMeter {
  private timer: Timer | null = null;
  private leader: number | null = null;
  private members: Members = new Map();
  private lastAt = 0;
  private lastBootTicks = 0;
  private baseline = false;
  /** When a controller last polled (-Infinity: never). */
  private lastPollAt = -Infinity;
  private readonly minutes = new UsageMinutes();
  /** Told every measurement (MaxMemory, MaxCPU): the group's memory in bytes, its CPU time over `intervalMs`. */
  onMeasure: (rss: number, cpuMs: number, intervalMs: number) => void = () => undefined;
  /** The last measurement, while the service runs. */
  latest: ResourceUsage | null = null;

  constructor(
    private intervalMs: number,
    /** Receives each finished minute record. */
    private readonly record: (detail: UsageDetail) => void,
    /** When to measure, and the time of each measurement; injected for unit tests. */
    private readonly clock: Pick<Clock, 'now' | 'setTimeout'> = REAL_CLOCK,
  ) {}

  /** Begin measuring a service: `fresh` when it was just spawned (all its CPU time is new), else adopted. */
  track(pid: number, fresh: boolean): void {
    this.untrack();
    this.leader = pid;
    this.members = new Map();
    this.lastAt = this.clock.now();
    // Every process of a fresh service started after "boot tick 0": all its CPU time is new. An adopted
    // service has run for a while: its first measurement only sets the baseline.
    this.lastBootTicks = 0;
    this.baseline = !fresh;
    this.schedule();
  }

  /** The service ended: the minute in progress is recorded now. */
  untrack(): void {
    this.timer?.clear();
    this.timer = null;
    this.leader = null;
    this.endMinute();
  }

  setInterval(ms: number): void {
    if (this.intervalMs <= 0 && ms > 0 && this.leader !== null) {
      // Measuring again after a pause: the first measurement only sets a baseline.
      this.members = new Map();
      this.baseline = true;
    }
    this.intervalMs = ms;
    if (ms <= 0) this.endMinute(); // measuring stops: the figures in the status would only grow old
    if (this.leader !== null) this.schedule();
  }

  close(): void {
    this.timer?.clear();
    this.timer = null;
  }

  /** No figures any more; the minute in progress is recorded now. */
  private endMinute(): void {
    this.latest = null;
    const done = this.minutes.flush();
    if (done && done.samples > 0) this.record(done);
  }

  /**
   * A controller polls: measure now if a measurement is (nearly) due, or the last one is older than
   * POLL_FRESH_MS, else leave the next one to the next poll.
   */
  measureIfDue(now = this.clock.now()): void {
    this.lastPollAt = now;
    if (this.leader === null || this.intervalMs <= 0 || this.members.size === 0) return;
    if (now - this.lastAt >= Math.min(this.intervalMs, POLL_FRESH_MS) * DUE_SHARE) this.measure();
    else this.schedule();
  }

  private schedule(): void {
    this.timer?.clear();
    this.timer = null;
    if (this.intervalMs <= 0 || this.leader === null) return;
    // The first measurement comes soon after a start, so that a status shows figures at once. While
    // polls come, they bring the next one: half an interval of slack leaves them first.
    const now = this.clock.now();
    const polled = now - this.lastPollAt < this.intervalMs * 1.5;
    const fallback = polled && this.intervalMs >= SLACK_FROM_MS ? this.intervalMs * 1.5 : this.intervalMs;
    const delay = this.members.size === 0 ? Math.min(this.intervalMs, 1000) : Math.max(0, this.lastAt + fallback - now);
    this.timer = this.clock.setTimeout(() => this.measure(), delay);
  }

  private measure(): void {
    this.timer?.clear();
    this.timer = null;
    const leader = this.leader;
    if (leader === null) return;
    const at = this.clock.now();
    const bootTicks = bootTicksNow();
    const now = groupMembers(leader, this.members.keys());
    const ticks = ticksBetween(this.members, now, this.lastBootTicks);
    const living = now.filter((p) => !p.zombie);
    const rss = living.reduce((sum, p) => sum + p.rss, 0);
    const intervalMs = this.baseline ? 0 : at - this.lastAt;
    const cpuMs = this.baseline ? 0 : (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
    // Zombies stay members: their times are final, and move into their parent's when it reaps them.
    this.members = new Map(now.map((p) => [p.pid, { startTime: p.startTime, ticks: p.ticks, ppid: p.ppid }]));
    const baseline = this.baseline;
    this.baseline = false;
    this.lastAt = at;
    this.lastBootTicks = bootTicks;
    if (!baseline && intervalMs > 0) {
      this.latest = { cpu: Math.round((cpuMs / intervalMs) * 1000) / 10, rss, processes: living.length, at: isoTime(at) };
      const done = this.minutes.add({ at, intervalMs, cpuMs, rssKb: Math.round(rss / 1024), processes: living.length });
      if (done) this.record(done);
      this.onMeasure(rss, cpuMs, intervalMs);
    }
    if (now.length === 0) return; // the group is gone; the exit comes as an event
    this.schedule();
  }
}
