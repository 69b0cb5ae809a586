// MaxMemory and MaxCPU (from the usage meter's measurements) and ActivityFile + ActivityTimeout (its
// modification time, polled): a limit passed is a limit_exceeded event, and the limit's action.
import { statSync } from 'node:fs';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { LimitName, NewEvent, UnwellAction } from '../schema/event-details.js';
import type { Clock, Timer } from '../system/clock.js';
import type { Input, Snapshot } from './machine.js';

/** ActivityFile is looked at every ActivityTimeout / 4, within these bounds. */
const ACTIVITY_POLL_MIN_MS = 100;
const ACTIVITY_POLL_MAX_MS = 5000;

export interface LimitsWorld {
  clock: Clock;
  emit: (event: NewEvent) => void;
  input: (input: Input) => void;
  /** The modification time of a path in ms, or null when it cannot be read (a test fakes it). */
  mtime?: (path: string) => number | null;
}

/** CPU measurements of the last `windowMs` (MaxCPUWindow): the mean in percent of a core, once the window is covered. */
export class CpuWindow {
  private parts: { at: number; intervalMs: number; cpuMs: number }[] = [];

  add(at: number, intervalMs: number, cpuMs: number, windowMs: number): number | null {
    this.parts.push({ at, intervalMs, cpuMs });
    // Keep the newest measurements that cover the window, and no older ones.
    let covered = 0;
    let keep = this.parts.length;
    while (keep > 0 && covered < windowMs) covered += this.parts[--keep]!.intervalMs;
    this.parts = this.parts.slice(keep);
    if (covered < windowMs) return null;
    const cpu = this.parts.reduce((sum, p) => sum + p.cpuMs, 0);
    return Math.round((cpu / covered) * 1000) / 10;
  }

  clear(): void {
    this.parts = [];
  }
}

export class Limits {
  private pid: number | null = null;
  private startedAt = 0;
  private cpu = new CpuWindow();
  private activityTimer: Timer | null = null;
  /** Limits passed and told while the action is none: told again only once back within them. */
  private told = new Set<LimitName>();
  private readonly mtime: (path: string) => number | null;

  constructor(
    private settings: BuddySettings,
    private readonly world: LimitsWorld,
  ) {
    this.mtime = world.mtime ?? modified;
  }

  configure(settings: BuddySettings): void {
    this.settings = settings;
    if (this.pid !== null) this.watchActivity();
  }

  /** After every input: limits are watched while the service's process runs (starting or running). */
  follow(s: Snapshot): void {
    const runs = s.pid !== null && (s.state === 'starting' || s.state === 'running');
    if (!runs) {
      if (this.pid !== null) this.end();
      return;
    }
    if (s.pid === this.pid) return;
    this.end();
    this.pid = s.pid;
    this.startedAt = s.started ?? this.world.clock.now();
    this.watchActivity();
  }

  /** A measurement of the process group (the usage meter's): its memory in bytes, CPU over `intervalMs`. */
  measured(rss: number, cpuMs: number, intervalMs: number): void {
    if (this.pid === null) return;
    const s = this.settings;
    if (s.maxMemory !== null && s.maxMemory > 0) this.judge('MaxMemory', rss, s.maxMemory, s.maxMemoryAction);
    if (s.maxCpu !== null) {
      const mean = this.cpu.add(this.world.clock.now(), intervalMs, cpuMs, s.maxCpuWindow * 1000);
      if (mean !== null) this.judge('MaxCPU', mean, s.maxCpu, s.maxCpuAction);
    }
  }

  close(): void {
    this.end();
  }

  private end(): void {
    this.pid = null;
    this.cpu.clear();
    this.told.clear();
    this.activityTimer?.clear();
    this.activityTimer = null;
  }

  private watchActivity(): void {
    this.activityTimer?.clear();
    this.activityTimer = null;
    const { activityFile: file, activityTimeout } = this.settings;
    if (file === null || activityTimeout <= 0) return;
    const timeoutMs = activityTimeout * 1000;
    const every = Math.min(ACTIVITY_POLL_MAX_MS, Math.max(ACTIVITY_POLL_MIN_MS, timeoutMs / 4));
    const look = (): void => {
      this.activityTimer = null;
      if (this.pid === null) return;
      // Counted from the service's start or the file's last change, whichever came later.
      const since = Math.max(this.startedAt, this.mtime(file) ?? 0);
      const idle = this.world.clock.now() - since;
      this.judge('ActivityTimeout', Math.round(idle / 100) / 10, activityTimeout, this.settings.activityAction, idle > timeoutMs);
      if (this.pid !== null) this.activityTimer = this.world.clock.setTimeout(look, every);
    };
    this.activityTimer = this.world.clock.setTimeout(look, every);
  }

  private judge(limit: LimitName, value: number, max: number, action: UnwellAction, over = value > max): void {
    if (!over) {
      this.told.delete(limit);
      return;
    }
    if (this.told.has(limit)) return;
    if (action === 'none') this.told.add(limit);
    this.world.emit({ type: 'limit_exceeded', pid: this.pid, detail: { limit, value, max, action } });
    if (action !== 'none') this.world.input({ kind: 'unwell', action, cause: 'limit' });
  }
}

function modified(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}
