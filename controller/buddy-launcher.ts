// Starts a buddy process for a run directory, detached from the controller, with a clean environment.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { freshBundle } from '../schema/fresh-bundle.js';
import { LOG, RUN_DIR } from '../schema/run-dir.js';
import { signalGroup } from '../system/process-group.js';
import { openLogFile } from '../schema/output-file.js';
import { BuddyLink } from './buddy-link.js';

/** The compiled buddy program (this file is dist/controller/buddy-launcher.js). */
export const COMPILED_BUDDY = fileURLToPath(new URL('../buddy/main.js', import.meta.url));
/** The same as one file (scripts/bundle.mjs, part of `npm run build`): it starts with ~35 ms less CPU. */
export const BUDDY_BUNDLE = fileURLToPath(new URL('../buddy-bundle/main.cjs', import.meta.url));

/** The buddy program the controller starts: the bundle while it is fresh (schema/fresh-bundle.ts), else the compiled one. */
export function shippedBuddy(bundle = BUDDY_BUNDLE, compiled = COMPILED_BUDDY): string {
  return freshBundle(bundle, compiled);
}
/** How long a new buddy may take to answer on its socket. */
const BUDDY_START_TIMEOUT_MS = 10_000;

/**
 * The buddy's own environment: PATH only. NODE_OPTIONS, NODE_EXTRA_CA_CERTS and the like would load
 * into every buddy (NODE_EXTRA_CA_CERTS alone costs ~130 ms of CPU per start); the service gets its
 * full environment from buddy.json instead.
 */
export function buddyEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
}

export interface LaunchedBuddy {
  pid: number;
  link: BuddyLink;
  /** Resolves when the buddy process exits (it is the controller's child until the controller exits). */
  exited: Promise<void>;
}

/**
 * Node flags of every buddy. --jitless: a buddy runs little JavaScript, mostly waiting; without the
 * JIT compilers each one needs about 0.2 MB less (PSS 9.69 MB instead of 9.88 MB with 50 buddies),
 * respawn latency, crash-loop rate and idle CPU measured the same, and starting 50 buddies at once
 * takes about 0.2 s longer (2.58 s instead of 2.33 s, median of 3 A/B pairs): memory, multiplied by
 * the number of services, matters more (npm run bench, A/B). --no-expose-wasm: WebAssembly needs the
 * JIT, and without this V8 says so at every start ("disabling flag --expose_wasm due to conflicting
 * flags"), a line in every buddy.log and in the cause of every failed launch.
 * (V8 flags that only tune, as the memory reducer's delay, are set by the buddy itself: buddy/main.ts.)
 */
export const BUDDY_NODE_FLAGS = ['--jitless', '--no-expose-wasm'];

/** The turn of the event loop the last buddy start was given. */
let lastTurn: Promise<void> = Promise.resolve();

/**
 * Wait for a turn of the event loop of one's own: starting a process blocks the controller (libuv
 * waits for the child's exec, ~40-80 ms here), so a hundred buddies started at once would hold up
 * every client for seconds; one start per turn lets what else waits (a client's hello) in between.
 */
function ownTurn(): Promise<void> {
  lastTurn = lastTurn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  return lastTurn;
}

/**
 * Start a buddy and wait until it answers on its socket. A failure says what really went wrong: the
 * error of opening its log or of starting node, or how it exited with what it wrote in this start
 * (never an older line of buddy.log); a buddy that does not answer in time is killed.
 */
export async function launchBuddy(runDir: string, program: string): Promise<LaunchedBuddy> {
  await ownTurn();
  const logFile = join(runDir, RUN_DIR.log, LOG.buddy);
  const fail = (why: string): UpkError => new UpkError(ErrorCode.BUDDY_UNREACHABLE, `cannot start a buddy for ${runDir}: ${why}`);
  let log: number;
  try {
    log = openLogFile(logFile);
  } catch (err) {
    throw fail(`cannot open ${logFile}: ${(err as Error).message}`);
  }
  let child;
  let logStart = 0;
  try {
    logStart = fstatSync(log).size;
    child = spawn(process.execPath, [...BUDDY_NODE_FLAGS, program, runDir], {
      detached: true, // own session: the controller can exit, crash or be replaced without it
      stdio: ['ignore', log, log],
      env: buddyEnvironment(),
      cwd: runDir,
    });
  } catch (err) {
    throw fail(`cannot run ${process.execPath}: ${(err as Error).message}`);
  } finally {
    closeSync(log);
  }
  child.unref();
  let ended: string | null = null;
  let spawnError = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ended ??= signal ? `it was killed by ${signal}` : `it exited with code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      ended ??= `the system could not start ${process.execPath} (${(err as NodeJS.ErrnoException).code ?? err.message})`;
      spawnError = true;
      resolve();
    });
  });
  const socket = join(runDir, RUN_DIR.socket);
  const deadline = Date.now() + BUDDY_START_TIMEOUT_MS;
  let delay = 5;
  for (;;) {
    try {
      const link = await BuddyLink.connect(socket);
      if (link.pid === child.pid) return { pid: child.pid, link, exited };
      link.close(); // an old buddy still answering on the socket: wait for ours
    } catch {
      /* not listening yet */
    }
    if (ended !== null) throw fail(spawnError ? ended : `${ended} at start${wrote(logFile, logStart)}`);
    if (Date.now() > deadline) {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL'); // never two buddies for one service
      throw fail(`it did not answer within ${BUDDY_START_TIMEOUT_MS} ms and was killed${wrote(logFile, logStart)}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** What a buddy wrote to its log since `offset` (its last lines), for a failure's message. */
function wrote(file: string, offset: number): string {
  try {
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(16 * 1024);
    let n: number;
    try {
      n = readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    const text = buffer.subarray(0, n).toString('utf8').trim();
    if (text === '') return '; it wrote nothing';
    return `: ${text.split('\n').slice(-3).join(' | ').slice(-600)}`;
  } catch {
    return '';
  }
}
