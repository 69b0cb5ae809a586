// The times a job runs (Schedule) or a long-running service restarts (CronRestart): each next time
// computed by croner from a cron expression, or by an @every interval, and waited for on the injected
// clock. The supervisor loads this module, and croner with it, only for a service that has one.
import { Cron } from 'croner';
import { splitSchedule, type ScheduleSpec } from '../schema/schedule.js';
import type { Clock, Timer } from '../system/clock.js';

export class Schedule {
  private readonly spec: ScheduleSpec;
  /** Given no function, croner sets no timer of its own: it only computes times. */
  private readonly cron: Cron | null;
  private timer: Timer | null = null;
  private at: number | null = null;

  constructor(
    readonly text: string,
    private readonly clock: Clock,
    private readonly due: (at: number) => void,
  ) {
    const spec = splitSchedule(text);
    if ('message' in spec) throw new Error(`schedule ${JSON.stringify(text)}: ${spec.message}`);
    this.spec = spec;
    this.cron = spec.kind === 'cron' ? new Cron(spec.pattern) : null;
  }

  /** The first time after `after` (ms since the epoch; a cron time in the machine's local time), or null: none comes. */
  nextAfter(after: number): number | null {
    if (this.spec.kind === 'every') return after + this.spec.ms;
    return this.cron?.nextRun(new Date(after))?.getTime() ?? null;
  }

  /** When it is next due (ms), or null while it is off. */
  get next(): number | null {
    return this.at;
  }

  /** On: wait for the next time, counted from now (a schedule already on keeps its time). Off: wait for none. */
  set(on: boolean): void {
    if (!on) this.close();
    else if (this.at === null) this.arm(this.nextAfter(this.clock.now()));
  }

  close(): void {
    this.timer?.clear();
    this.timer = null;
    this.at = null;
  }

  private arm(at: number | null): void {
    this.at = at;
    if (at !== null) this.timer = this.clock.setTimeout(() => this.fire(at), Math.max(0, at - this.clock.now()));
  }

  private fire(at: number): void {
    this.timer = null;
    const now = this.clock.now();
    if (now < at) return this.arm(at); // (the wall clock was set back meanwhile: wait on)
    // Times that passed meanwhile (a suspended machine, a busy buddy) are not caught up: one run is due.
    let next = this.nextAfter(at);
    if (next !== null && next <= now)
      next = this.spec.kind === 'every' ? at + Math.ceil((now - at + 1) / this.spec.ms) * this.spec.ms : this.nextAfter(now);
    this.arm(next);
    this.due(at);
  }
}
