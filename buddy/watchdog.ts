// WatchdogSec (Type notify, as systemd's): once the service runs it must send WATCHDOG=1 at least this
// often; a silence that long is a failed health check (event unhealthy, check WatchdogSec) and
// HealthAction applies. Follows the machine: armed while the service runs, kicked by every WATCHDOG=1.
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { Timer } from '../system/clock.js';
import type { HealthWorld } from './health-checks.js';
import type { Snapshot } from './machine.js';

export class Watchdog {
  private timer: Timer | null = null;
  /** The process being watched (a new run is watched afresh). */
  private pid: number | null = null;
  /**
   * Whether the run was started with the watchdog (NOTIFY_SOCKET and WATCHDOG_USEC): one started before
   * a reconfigure set Type notify and WatchdogSec cannot send WATCHDOG=1, and is watched from its next
   * start. (An adopted run is taken as started under the settings its buddy has.)
   */
  private told = true;

  constructor(
    private settings: BuddySettings,
    private readonly world: HealthWorld,
  ) {}

  private get ms(): number {
    return this.settings.serviceType === 'notify' && (this.settings.watchdogSec ?? 0) > 0
      ? Math.round(this.settings.watchdogSec! * 1000)
      : 0;
  }

  /** The service's environment gains WATCHDOG_USEC, as from systemd (sd_watchdog_enabled reads it). */
  env(env: Record<string, string>): Record<string, string> {
    const { WATCHDOG_USEC: _u, WATCHDOG_PID: _p, ...rest } = env;
    this.told = this.ms > 0;
    return this.ms > 0 ? { ...rest, WATCHDOG_USEC: String(this.ms * 1000) } : rest;
  }

  configure(settings: BuddySettings): void {
    this.settings = settings;
    if (this.timer) this.arm(); // a new WatchdogSec counts from now
  }

  /** After every input: watch while the service runs, stop watching otherwise. */
  follow(s: Snapshot): void {
    if (this.ms > 0 && this.told && s.state === 'running' && s.pid !== null) {
      if (this.pid !== s.pid) {
        this.pid = s.pid;
        this.arm();
      }
    } else this.stop();
  }

  /** The run is a process found running (PidFile, ProcessMatch): it was never given WATCHDOG_USEC, so it is not watched. */
  foreign(): void {
    this.told = false;
    this.stop();
  }

  /** WATCHDOG=1 came. */
  kick(): void {
    if (this.timer) this.arm();
  }

  stop(): void {
    this.timer?.clear();
    this.timer = null;
    this.pid = null;
  }

  private arm(): void {
    this.timer?.clear();
    const ms = this.ms;
    this.timer = ms > 0 ? this.world.clock.setTimeout(() => this.expired(ms), ms) : null;
  }

  private expired(ms: number): void {
    this.timer = null;
    const action = this.settings.healthAction;
    const output = `no WATCHDOG=1 within ${ms / 1000} s`;
    this.world.emit({ type: 'unhealthy', pid: this.pid, detail: { check: 'WatchdogSec', failures: 1, output, action } });
    if (action !== 'none') this.world.input({ kind: 'unwell', action, cause: 'unhealthy' });
    else this.arm(); // recorded only: the next silence is told too
  }
}
