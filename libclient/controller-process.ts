// Starts the controller in the background and waits until it answers; stops it and waits until it is gone.
import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, openSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControllerInfo } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { ExitCode } from '../schema/exit-codes.js';
import { STATE_DIR } from '../schema/state-dir.js';
import { Client, processGone, type ConnectOptions } from './client.js';
import { controllerSocket, readControllerConfig } from './discovery.js';

/** The controller program of this package (this file is dist/libclient/controller-process.js). */
export const CONTROLLER_PROGRAM = fileURLToPath(new URL('../controller/main.js', import.meta.url));

export interface StartedController {
  alreadyRunning: boolean;
  controller: ControllerInfo;
  log: string;
}

/** Start a controller for the configuration unless one already answers; resolves once it answers. */
export async function startController(options: ConnectOptions & { waitMs?: number } = {}): Promise<StartedController> {
  const config = readControllerConfig(options);
  const log = join(config.stateDir, STATE_DIR.log);
  const existing = await Client.connect({ ...options, socket: controllerSocket(config) }).catch(() => null);
  if (existing) {
    existing.close();
    return { alreadyRunning: true, controller: existing.controller, log };
  }
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const out = openSync(log, 'a', 0o600);
  try {
    fchmodSync(out, 0o600); // a controller.log that existed with a wider mode is made private too
  } catch (err) {
    closeSync(out);
    throw err;
  }
  const args = [CONTROLLER_PROGRAM, ...(config.file ? ['--config', config.file] : [])];
  let child;
  try {
    child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', out, out],
      env: options.env ?? process.env,
      cwd: '/',
    });
  } finally {
    closeSync(out);
  }
  child.unref();
  let exit: number | null = null;
  child.once('exit', (code) => (exit = code ?? 1));
  const deadline = Date.now() + (options.waitMs ?? 15_000);
  for (;;) {
    const client = await Client.connect({ ...options, socket: controllerSocket(config), timeoutMs: 1000 }).catch(() => null);
    if (client) {
      client.close();
      return { alreadyRunning: false, controller: client.controller, log };
    }
    if (exit !== null) {
      const code =
        exit === ExitCode.CONTROLLER_RUNNING
          ? ErrorCode.CONTROLLER_RUNNING
          : exit === ExitCode.CONFIG_INVALID
            ? ErrorCode.CONFIG_INVALID
            : ErrorCode.INTERNAL;
      throw new UpkError(code, `the controller exited at start (code ${exit}): ${tail(log)}`);
    }
    if (Date.now() > deadline) throw new UpkError(ErrorCode.TIMEOUT, `the controller did not answer in time; see ${log}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Replace the running controller (if any) with a new one; services and buddies are not touched. */
export async function restartController(
  options: ConnectOptions & { waitMs?: number } = {},
): Promise<StartedController & { previous: ControllerInfo | null }> {
  let previous: ControllerInfo | null = null;
  try {
    previous = await stopController(options);
  } catch (err) {
    if (!(err instanceof UpkError) || err.code !== ErrorCode.CONTROLLER_NOT_RUNNING) throw err;
  }
  return { ...(await startController(options)), previous };
}

/** Ask the controller to stop and wait until its socket no longer answers. */
export async function stopController(options: ConnectOptions & { waitMs?: number } = {}): Promise<ControllerInfo> {
  const client = await Client.connect(options);
  const info = client.controller;
  await client.stopController();
  client.close();
  await processGone(info.pid, options.waitMs ?? 15_000);
  return info;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}
