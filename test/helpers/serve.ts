// `upk serve` as a real process for the HTTP tests: started against a sandbox, stopped for good.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request } from 'node:http';
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { createHandler } from '../../clients/http/index.js';
import type { Sandbox } from './sandbox.js';
import { UPK, sleep } from './sandbox.js';

export interface Serve {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  /** Its first line (where it listens), or a rejection when it exits first. */
  ready: Promise<string>;
}

export function startServe(box: Sandbox, args: string[]): Serve {
  const proc = spawn(process.execPath, [UPK, 'serve', ...args], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out);
    });
    void exited.then((code) => reject(new Error(`upk serve exited (${code}): ${err}`)));
  });
  ready.catch(() => undefined);
  return { proc, out: () => out, err: () => err, exited, ready };
}

/** Its exit code, or 'running' when it is still running after `ms`. */
export const exitWithin = (s: Serve, ms: number): Promise<number | null | 'running'> =>
  Promise.race([s.exited, sleep(ms).then(() => 'running' as const)]);

export async function stopServe(s: Serve): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill('SIGTERM');
  if ((await exitWithin(s, 5000)) === 'running') {
    s.proc.kill('SIGKILL');
    await s.exited;
  }
}

/** The TCP port a started `upk serve` printed (`http://HOST:PORT (bearer token in …)`). */
export function servePort(line: string): number {
  const port = Number(/:(\d+) \(bearer/.exec(line)?.[1]);
  if (!(port > 0)) throw new Error(`no port in ${JSON.stringify(line)}`);
  return port;
}

/** A GET of the HTTP API: its status and text. */
export type ApiGet = (path: string) => Promise<{ status: number; text: string }>;

/** The HTTP API (createHandler, in this process) on a port of its own for `check` (its GETs, or fetch from `base`), closed after it. */
export async function withApi(box: Sandbox, check: (get: ApiGet, base: string) => Promise<void>): Promise<void> {
  const handler = createHandler({ connect: { config: box.configFile } });
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const get: ApiGet = (path) =>
    new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, timeout: 20_000 }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      })
        .on('error', reject)
        .end();
    });
  try {
    await check(get, `http://127.0.0.1:${port}`);
  } finally {
    handler.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** What a raw connection got back: its text (as Latin-1), whether the peer closed it within the wait, when. */
export interface RawAnswer {
  text: string;
  closed: boolean;
  ms: number;
}

/** Until `s` closes (closed) or `waitMs` passes (destroyed): what `got()` holds then, and how long it took. */
export function untilClosed(s: Socket, got: () => string, waitMs: number): Promise<RawAnswer> {
  const started = Date.now();
  s.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: got(), closed: false, ms: Date.now() - started });
    }, waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: got(), closed: true, ms: Date.now() - started });
    });
  });
}

/** Write `data` on a new connection; what came back, until the peer closed or `waitMs` passed. */
export function raw(target: NetConnectOpts, data: string | Buffer, waitMs = 5000): Promise<RawAnswer> {
  const s = connect(target, () => s.write(data));
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString('latin1')));
  return untilClosed(s, () => text, waitMs);
}
