// A benchmark's sandbox: a temp directory with a controller config and service files, the controller
// started through libclient, waiting helpers, and a cleanup that leaves nothing running.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, startController, type Client, type ServiceStatus } from '../libclient/index.js';
import { processesMentioning, type FoundProcess } from './proc.js';

export { percentile, median, mean, max } from './stats.js';

/** The upk program of this build (this file is dist/bench/harness.js). */
export const UPK_PROGRAM = fileURLToPath(new URL('../clients/upk/main.js', import.meta.url));
const SHUTDOWN_TIMEOUT_MS = 60_000;
/** How long processes may linger after `upk shutdown` returns before they are killed and reported. */
const LINGER_MS = 2000;

/** Service keys as written in a service file. */
export type ServiceKeys = Record<string, unknown>;

/** A long-running idle service that restarts at once and never gives up. */
export function idleService(extra: ServiceKeys = {}): ServiceKeys {
  return {
    ExecStart: 'sleep 100000',
    InitialState: 'running',
    UserRateLimit: 0,
    UserMaxRestarts: -1,
    MaxConsecutiveFailures: -1,
    MinUptime: 0,
    KillTimeout: 2,
    ...extra,
  };
}

/** `count` services named svc-01.., each made by `make`. */
export function manyServices(count: number, make: () => ServiceKeys = () => idleService()): Record<string, ServiceKeys> {
  const width = String(count).length;
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`svc-${String(i + 1).padStart(width, '0')}`, make()]));
}

/** Problems seen while cleaning up, for the report (processes that outlived `upk shutdown`, a failed shutdown). */
export const cleanupWarnings: string[] = [];

const live = new Set<Sandbox>();

export class Sandbox {
  readonly configFile: string;
  readonly stateDir: string;
  readonly svcDir: string;
  readonly runDir: string;
  /** Pid of the controller once started. */
  controllerPid: number | null = null;
  private cleaning: Promise<void> | null = null;

  private constructor(readonly dir: string) {
    this.configFile = join(dir, 'upkeeper.conf');
    this.stateDir = join(dir, 'state');
    this.svcDir = join(dir, 'svc');
    this.runDir = join(dir, 'run');
    mkdirSync(this.svcDir);
    live.add(this);
  }

  /** A fresh directory under os.tmpdir(), short enough for the Unix socket paths inside it. */
  static create(tag: string): Sandbox {
    return new Sandbox(mkdtempSync(join(tmpdir(), `upkb-${tag}-`)));
  }

  writeConfig(options: { pollingInterval?: number } = {}): void {
    const config = {
      StateDir: this.stateDir,
      SvcConfigPath: this.svcDir,
      SvcRunPath: this.runDir,
      BuddyPollingInterval: options.pollingInterval ?? 0.5,
    };
    writeFileSync(this.configFile, JSON.stringify(config, null, 2) + '\n');
  }

  writeServices(services: Record<string, ServiceKeys>, file = 'bench.conf'): void {
    writeFileSync(join(this.svcDir, file), JSON.stringify(services, null, 2) + '\n');
  }

  /** Start the controller (with this process's whole environment) and wait until it answers. */
  async startController(): Promise<number> {
    const started = await startController({ config: this.configFile, env: process.env });
    this.controllerPid = started.controller.pid;
    return this.controllerPid;
  }

  connect(): Promise<Client> {
    return connect({ config: this.configFile, client: 'upk-bench' });
  }

  /** The last lines of the controller's log, for error messages. */
  controllerLogTail(lines = 5): string {
    try {
      return readFileSync(join(this.stateDir, 'controller.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no controller log)';
    }
  }

  /** `upk shutdown`, then SIGKILL of anything still mentioning the directory, then remove it. Idempotent. */
  cleanup(): Promise<void> {
    this.cleaning ??= this.runCleanup();
    return this.cleaning;
  }

  private async runCleanup(): Promise<void> {
    try {
      if (this.controllerPid !== null) {
        const result = await shutdown(this.configFile);
        if (!result.ok) cleanupWarnings.push(`${this.dir}: upk shutdown failed: ${result.output}`);
        const lingering = await waitUntilGone(this.dir, LINGER_MS);
        if (result.ok && lingering.length > 0) {
          cleanupWarnings.push(
            `${this.dir}: ${lingering.length} process(es) still running ${LINGER_MS} ms after upk shutdown returned: ` +
              lingering.map((p) => `${p.pid} ${p.cmdline || '(no cmdline)'}`).join('; '),
          );
        }
      }
      killLeftovers(this.dir);
      rmSync(this.dir, { recursive: true, force: true });
    } finally {
      live.delete(this);
    }
  }
}

/** Clean up every sandbox not yet cleaned (for Ctrl-C and unexpected errors). */
export async function cleanupAll(): Promise<void> {
  await Promise.allSettled([...live].map((s) => s.cleanup()));
}

/** For an uncaught error: kill what every sandbox left running and remove the directories, synchronously. */
export function cleanupAllNow(): void {
  for (const sandbox of live) {
    killLeftovers(sandbox.dir);
    rmSync(sandbox.dir, { recursive: true, force: true });
  }
  live.clear();
}

/** Freeze, then kill, every process mentioning `dir`, until none is left (a buddy may respawn meanwhile). */
export function killLeftovers(dir: string): number {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const found = processesMentioning(dir);
    if (found.length === 0) break;
    for (const p of found) signal(p.pid, 'SIGSTOP');
    for (const p of found) signal(p.pid, 'SIGKILL');
    killed += found.length;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  return killed;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function shutdown(configFile: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [UPK_PROGRAM, '--config', configFile, 'shutdown'],
      { timeout: SHUTDOWN_TIMEOUT_MS },
      (err, stdout, stderr) => {
        resolve({ ok: err === null, output: `${err?.message ?? ''} ${stdout} ${stderr}`.replace(/\s+/g, ' ').trim() });
      },
    );
  });
}

async function waitUntilGone(dir: string, ms: number): Promise<FoundProcess[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = processesMentioning(dir);
    if (found.length === 0 || Date.now() >= deadline) return found;
    await sleep(50);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `client.list()` every `pollMs` until `count` services are in `state`; the last list. */
export async function waitForState(
  client: Client,
  options: { count: number; state?: ServiceStatus['state']; timeoutMs?: number; pollMs?: number },
): Promise<ServiceStatus[]> {
  const state = options.state ?? 'running';
  const deadline = performance.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const list = await client.list();
    if (list.filter((s) => s.state === state).length >= options.count) return list;
    if (performance.now() > deadline) {
      throw new Error(`waited ${options.timeoutMs ?? 60_000} ms for ${options.count} services ${state}; now: ${countStates(list)}`);
    }
    await sleep(options.pollMs ?? 20);
  }
}

/** "48 running, 2 starting" */
export function countStates(list: readonly ServiceStatus[]): string {
  const counts = new Map<string, number>();
  for (const s of list) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${state}`).join(', ') || 'no services';
}

/** Run `body` with a fresh sandbox, always cleaning it up afterwards. */
export async function withSandbox<T>(tag: string, body: (sandbox: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = Sandbox.create(tag);
  try {
    return await body(sandbox);
  } finally {
    await sandbox.cleanup();
  }
}
