// A temporary upkeeper installation for one test: config, services, controller, CLI, database, cleanup.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, startController, type Client, type ServiceStatus } from '../../libclient/index.js';

export const UPK = fileURLToPath(new URL('../../clients/upk/main.js', import.meta.url));
export const CONTROLLER = fileURLToPath(new URL('../../controller/main.js', import.meta.url));

/** The root every sandbox of this run lives under (run.mjs sets it and checks it for leftovers). */
function root(): string {
  const r = process.env.UPK_TEST_ROOT ?? join(tmpdir(), `upkt-${process.pid}`);
  mkdirSync(r, { recursive: true });
  return r;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Services = Record<string, Record<string, unknown>>;

export class Sandbox {
  readonly dir: string;
  readonly configFile: string;
  readonly stateDir: string;
  readonly servicesDir: string;
  private clients: Client[] = [];

  constructor(name: string, controller: Record<string, unknown> = {}) {
    this.dir = mkdtempSync(join(root(), `${name.replace(/[^a-z0-9]/gi, '').slice(0, 12)}-`));
    this.configFile = join(this.dir, 'upkeeper.conf');
    this.stateDir = join(this.dir, typeof controller.StateDir === 'string' ? controller.StateDir : 'state');
    this.servicesDir = join(this.dir, 'services');
    mkdirSync(this.servicesDir);
    writeFileSync(
      this.configFile,
      JSON.stringify({ StateDir: './state', SvcConfigPath: './services', BuddyPollingInterval: 0.1, ...controller }, null, 2),
    );
  }

  /** Environment for programs run against this sandbox. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, UPKEEPER_CONFIG: this.configFile };
  }

  runDir(service: string): string {
    return join(this.stateDir, 'run', service);
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  writeServices(services: Services, file = 'services.conf'): void {
    writeFileSync(join(this.servicesDir, file), JSON.stringify(services, null, 2));
  }

  /** Run `upk ARGS…` against this sandbox. */
  upk(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return run(process.execPath, [UPK, ...args], this.env, timeoutMs);
  }

  async startController(): Promise<void> {
    await startController({ config: this.configFile, env: this.env });
  }

  async client(): Promise<Client> {
    const c = await connect({ config: this.configFile, client: 'test' });
    this.clients.push(c);
    return c;
  }

  /** Poll until `check` returns a value (not undefined/false), or fail after `timeoutMs`. */
  async waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined && v !== false) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
      await sleep(25);
    }
  }

  async waitForState(service: string, state: ServiceStatus['state'], timeoutMs = 10_000): Promise<ServiceStatus> {
    const c = await this.client();
    return this.waitFor(
      `${service} to be ${state}`,
      async () => {
        const [s] = await c.status(service);
        return s?.state === state ? s : undefined;
      },
      timeoutMs,
    );
  }

  /** A read-only view of the audit database. */
  db(): Database.Database {
    return new Database(join(this.stateDir, 'upkeeper.db'), { readonly: true, fileMustExist: true });
  }

  /** Events of a service from the database, oldest first. */
  events(service: string): {
    seq: number;
    type: string;
    pid: number | null;
    code: number | null;
    signal: string | null;
    detail: string | null;
    buddy_id: number;
  }[] {
    const db = this.db();
    try {
      return db
        .prepare(
          `SELECT e.seq, e.type, e.pid, e.code, e.signal, e.detail, e.buddy_id FROM events e JOIN services s ON s.uuid = e.service_uuid
           WHERE s.name = ? ORDER BY e.buddy_id, e.seq`,
        )
        .all(service) as never;
    } finally {
      db.close();
    }
  }

  /** When each event of one type of a service was stored (ms since the epoch), oldest first. */
  eventTimes(service: string, type: string): number[] {
    const db = this.db();
    try {
      return (
        db
          .prepare('SELECT e.time FROM events e JOIN services s ON s.uuid = e.service_uuid WHERE s.name = ? AND e.type = ? ORDER BY e.id')
          .all(service, type) as { time: number }[]
      ).map((r) => r.time);
    } finally {
      db.close();
    }
  }

  /** Stop everything this sandbox started (shutdown, then SIGKILL of leftovers) and remove it. */
  async cleanup(): Promise<void> {
    for (const c of this.clients) c.close();
    this.clients = [];
    await this.upk(['shutdown'], 60_000).catch(() => undefined);
    killEverythingUnder(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Pids (not zombies) whose command line or environment mentions `dir`. */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const text = readFileSync(`/proc/${name}/cmdline`, 'latin1') + readFileSync(`/proc/${name}/environ`, 'latin1');
      if (text.includes(dir)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function killEverythingUnder(dir: string): void {
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True while a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of every living process in process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Check that every start a service saw itself (its pid, one line each in `file`) has exactly one
 * `spawned` event, and that any `spawned` without a line is of a process a stop or restart ended
 * before it could write (an exited event with detail.requested). Returns the number of starts.
 */
export function assertStartsRecorded(events: { type: string; pid: number | null; detail: string | null }[], file: string): number {
  const seen = readFileSync(file, 'utf8').trim().split('\n').map(Number);
  const spawned = events.filter((e) => e.type === 'spawned').map((e) => e.pid!);
  for (const pid of seen) assert.equal(spawned.filter((p) => p === pid).length, 1, `start ${pid} has exactly one spawned event`);
  const unseen = new Set(seen);
  for (const pid of spawned.filter((p) => !unseen.has(p))) {
    const exit = events.find((e) => e.type === 'exited' && e.pid === pid);
    assert.ok(exit && JSON.parse(exit.detail!).requested === true, `spawned ${pid} wrote no line: a stop or restart must have ended it`);
  }
  return seen.length;
}
