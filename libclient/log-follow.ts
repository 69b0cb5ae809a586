// Following the output of several services (`upk logs -f`): the controller names the files (`logs`), and
// the client, which runs as the same user, reads them itself. Lines come as they are written, through
// rotations and controller restarts; the controller is asked again now and then, for services added and
// files moved by a new configuration.
import { statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LOG_TAIL_MAX_LINES, type ControllerInfo, type LogTail } from '../schema/client-protocol.js';
import type { ServiceStatus } from '../schema/records.js';
import { LogFile } from './log-file.js';

export type LogStream = 'stdout' | 'stderr';

/** One line of a service's output. */
export interface LogLine {
  /** The service id. */
  service: string;
  stream: LogStream;
  /** ISO 8601 UTC: when the buddy received the line (`recorded`), else when this client read it. */
  time: string;
  /** The line without its newline (and without the buddy's time stamp). */
  line: string;
  /** `time` was recorded with the line (the service's LogTimestamps), not taken when it was read. */
  recorded: boolean;
}

export interface FollowLogsOptions {
  /** Lines of history of each stream first, the last ones written (default 0, at most 1,000). */
  lines?: number;
  /** false: end after the history (default true: follow until `signal` aborts, or the loop breaks). */
  follow?: boolean;
  /** The streams (default both). */
  streams?: LogStream[];
  signal?: AbortSignal;
}

/** The buddy's stamp (LogTimestamps): an ISO 8601 UTC time with milliseconds and a space. */
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /;
/** Files are looked at when their folder changes (inotify), and at least this often. */
const CHECK_MS = 1000;
/** How often the controller is asked again which services and files to follow. */
const REFRESH_MS = 5000;

interface Followed {
  /** The label of its lines: the service, or the one name of the services that share the file. */
  service: string;
  /** Every service whose output goes to this file (the instances of a service with one RedirectStdout). */
  ids: string[];
  stream: LogStream;
  file: LogFile;
  timestamps: boolean;
}

/** What following logs asks of a client (a Client is one). */
export interface LogSource {
  readonly controller: ControllerInfo;
  status(names?: string[]): Promise<ServiceStatus[]>;
  logs(service: string, options?: { lines?: number }): Promise<LogTail>;
}

export async function* followLogs(client: LogSource, names: string[], options: FollowLogsOptions = {}): AsyncGenerator<LogLine> {
  const streams = options.streams ?? ['stdout', 'stderr'];
  const history = Math.min(Math.max(0, Math.floor(options.lines ?? 0)), LOG_TAIL_MAX_LINES);
  const signal = options.signal;
  const followed: Followed[] = [];
  const waker = new Waker(signal);
  const watchers = new Map<string, FSWatcher | null>();
  let known = controllerOf(client);
  let lastRefresh = Date.now();
  let refreshing: Promise<void> | null = null;
  /** The iteration ended: a refresh still under way must add nothing (no file, no watcher). */
  let ended = false;

  /** Wake the loop when a followed file's folder says one of its files changed. */
  const watchFolder = (path: string): void => {
    const dir = dirname(path);
    if (watchers.has(dir)) return;
    let w: FSWatcher | null = null;
    try {
      w = watch(dir, (_event, name) => {
        const changed = name === null ? null : String(name);
        for (const f of followed) {
          if (dirname(f.file.path) === dir && (changed === null || isOrRotated(changed, basename(f.file.path)))) waker.wake(f);
        }
      });
      w.on('error', () => {
        w?.close();
        watchers.set(dir, null); // looked at every CHECK_MS instead
      });
    } catch {
      /* no such folder yet, or no inotify: looked at every CHECK_MS */
    }
    watchers.set(dir, w);
  };

  /**
   * Follow the services' files, each distinct file once (several instances may write one file):
   * first every file is named, then the last `lines` of each new one are read, under its final label.
   */
  const add = (services: [string, LogTail][], lines: number): LogLine[] => {
    const fresh: Followed[] = [];
    for (const [service, tail] of services) {
      for (const stream of streams) {
        const path = tail[stream].file;
        const same = followed.find((f) => sameFile(f.file.path, path));
        if (same) {
          if (!same.ids.includes(service)) same.ids.push(service);
          same.service = sharedLabel(same.ids);
          continue;
        }
        const entry: Followed = { service, ids: [service], stream, file: new LogFile(path), timestamps: tail.timestamps === true };
        followed.push(entry);
        fresh.push(entry);
      }
    }
    const out: LogLine[] = [];
    for (const entry of fresh) {
      append(out, toLines(entry, entry.file.start(lines)));
      watchFolder(entry.file.path);
    }
    return out;
  };

  /** Ask the controller again: new services (of `all`), and new files after a controller restart. */
  const refresh = async (): Promise<void> => {
    const ids = (await client.status(names)).map((s) => s.name);
    const now = controllerOf(client);
    const renewed = now !== known;
    for (const id of ids) {
      const mine = followed.filter((f) => f.ids.includes(id));
      if (mine.length > 0 && !renewed) continue;
      const tail = await client.logs(id, { lines: 1 });
      if (ended) return;
      if (mine.length === 0) {
        add([[id, tail]], 0);
        continue;
      }
      for (const f of mine) {
        f.timestamps = tail.timestamps === true;
        if (f.file.path === tail[f.stream].file) continue;
        // Its output goes elsewhere now: what the old file still holds, then the new one from its end.
        append(waker.pending, toLines(f, f.file.check()));
        f.file.close();
        f.file = new LogFile(tail[f.stream].file);
        f.file.start(0);
        watchFolder(f.file.path);
      }
    }
    known = now;
  };

  try {
    const ids = (await client.status(names)).map((s) => s.name);
    const tails = await Promise.all(ids.map((id) => client.logs(id, { lines: 1 })));
    yield* inOrder(
      add(
        ids.map((id, i) => [id, tails[i]!]),
        history,
      ),
    );
    if (options.follow === false) return;
    waker.wakeAll();
    while (!signal?.aborted) {
      // The files whose folder said they changed (all of them when the timer fired), and those with more to read.
      const due = waker.take(followed);
      const batch = waker.pending.splice(0);
      for (const f of due) {
        append(batch, toLines(f, f.file.check()));
        if (f.file.more) waker.wake(f);
      }
      yield* inOrder(batch);
      if (!refreshing && Date.now() - lastRefresh >= REFRESH_MS) {
        refreshing = refresh()
          .catch(() => undefined) // the controller is away: follow on, ask again later
          .finally(() => {
            refreshing = null;
            lastRefresh = Date.now();
            waker.wakeAll();
          });
      }
      await waker.wait(CHECK_MS);
    }
  } finally {
    ended = true;
    for (const w of watchers.values()) w?.close();
    for (const f of followed) f.file.close();
    waker.close();
  }
}

/** The controller a client talks to now: a new one after a restart. */
function controllerOf(client: LogSource): string {
  return `${client.controller.pid} ${client.controller.startedAt}`;
}

/** The same file: the same device and inode, or (one of them not there yet) the same path. */
function sameFile(a: string, b: string): boolean {
  if (a === b) return true;
  const [x, y] = [statOf(a), statOf(b)];
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // not ours to read: told apart by its path
  }
}

/** The services sharing a file: `web` for its instances `web@1` … `web@N`; else their ids, with commas. */
function sharedLabel(ids: readonly string[]): string {
  const names = new Set(ids.map((id) => id.replace(/@[1-9]\d*$/, '')));
  return ids.length === 1 ? ids[0]! : names.size === 1 ? [...names][0]! : ids.join(',');
}

/** `stdout`, or a rotated `stdout.3`, but not `stdout_pipe`. */
function isOrRotated(name: string, base: string): boolean {
  return name === base || (name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1)));
}

/** `to.push(...lines)` without the spread: one check reads up to 256 KiB, tens of thousands of short lines, more arguments than a call may take. */
function append(to: LogLine[], lines: LogLine[]): void {
  for (const l of lines) to.push(l);
}

function toLines(f: Followed, raw: string[]): LogLine[] {
  if (raw.length === 0) return [];
  const read = new Date().toISOString();
  return raw.map((text) => {
    const m = f.timestamps ? STAMP.exec(text) : null;
    return m
      ? { service: f.service, stream: f.stream, time: m[1]!, line: text.slice(m[0].length), recorded: true }
      : { service: f.service, stream: f.stream, time: read, line: text, recorded: false };
  });
}

/** Lines that all carry their recorded time are put in time order (a stable sort keeps each file's order). */
function inOrder(lines: LogLine[]): LogLine[] {
  if (lines.length > 1 && lines.every((l) => l.recorded)) lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return lines;
}

/**
 * What the follow loop waits on: a change in a watched folder (for the files it names), the CHECK_MS
 * timer (for every file), or the abort. Changes that come while the loop works are kept for its next turn.
 */
class Waker {
  /** Lines found outside the loop (a file given up for another), handed out with the next batch. */
  readonly pending: LogLine[] = [];
  private readonly due = new Set<Followed>();
  private all = false;
  private resolve: (() => void) | null = null;
  private readonly onAbort = (): void => this.wakeAll();

  constructor(private readonly signal: AbortSignal | undefined) {
    signal?.addEventListener('abort', this.onAbort);
  }

  /** `f` may have new lines. */
  wake(f: Followed): void {
    this.due.add(f);
    this.resolve?.();
  }

  /** Any file may have new lines. */
  wakeAll(): void {
    this.all = true;
    this.resolve?.();
  }

  /** The files to look at now (and forget that they were due). */
  take(followed: readonly Followed[]): readonly Followed[] {
    const due = this.all ? [...followed] : followed.filter((f) => this.due.has(f));
    this.all = false;
    this.due.clear();
    return due;
  }

  wait(ms: number): Promise<void> {
    if (this.all || this.due.size > 0 || this.pending.length > 0 || this.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.all = true;
        done();
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.resolve = null;
        resolve();
      };
      this.resolve = done;
    });
  }

  close(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.resolve?.();
  }
}
