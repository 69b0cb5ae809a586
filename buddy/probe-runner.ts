// Runs one check (a HealthCheck or ReadyCheck): an HTTP GET, a TCP connect, or a command, each ended at
// its timeout; says whether it passed and what it saw, in a few words.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type * as Http from 'node:http';
import type { Probe } from '../schema/probe.js';
import type { SpawnContext } from './spawn-script.js';

export interface ProbeResult {
  ok: boolean;
  /** What it saw: `HTTP 500`, an error, the command's last output (at most OUTPUT_CHARS). */
  output: string;
}

/** A check under way: its result, and a way to end it early (a stop of the service). */
export interface RunningProbe {
  result: Promise<ProbeResult>;
  cancel(): void;
}

/** What a result tells of the check's output, at most. */
export const OUTPUT_CHARS = 500;
/** How much of an HTTP body is read for HealthExpect. */
const BODY_BYTES = 64 * 1024;

/** The last OUTPUT_CHARS characters of `text`, trimmed. */
export function bounded(text: string): string {
  const t = text.trim();
  return t.length > OUTPUT_CHARS ? `…${t.slice(-OUTPUT_CHARS)}` : t;
}

export function runProbe(probe: Probe, timeoutMs: number, expect: string | null, context: () => SpawnContext): RunningProbe {
  let finish: (r: ProbeResult) => void = () => undefined;
  let cleanup: () => void = () => undefined;
  let done = false;
  const result = new Promise<ProbeResult>((resolve) => {
    finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      resolve({ ok: r.ok, output: bounded(r.output) });
    };
  });
  const timer = setTimeout(() => finish({ ok: false, output: `timed out after ${timeoutMs / 1000} s` }), timeoutMs);
  try {
    cleanup = start(probe, expect, context, (r) => finish(r));
  } catch (err) {
    finish({ ok: false, output: (err as Error).message });
  }
  return { result, cancel: () => finish({ ok: false, output: 'cancelled' }) };
}

/** Start the check; returns what ends it (called once it is done, passed, failed or timed out). */
function start(probe: Probe, expect: string | null, context: () => SpawnContext, finish: (r: ProbeResult) => void): () => void {
  switch (probe.kind) {
    case 'tcp': {
      const socket = connect({ host: probe.host, port: probe.port });
      socket.once('connect', () => finish({ ok: true, output: 'connected' }));
      socket.once('error', (err) => finish({ ok: false, output: err.message }));
      return () => socket.destroy();
    }
    case 'http':
      return httpGet(probe.url, expect, finish);
    case 'command':
      return command(probe.line, context(), finish);
  }
}

function httpGet(url: string, expect: string | null, finish: (r: ProbeResult) => void): () => void {
  let ended = false;
  let destroy: () => void = () => undefined;
  // Loaded on the first HTTP check only: a buddy without one never loads node:http.
  void import(url.startsWith('https:') ? 'node:https' : 'node:http').then(
    (http: typeof Http) => {
      if (ended) return;
      // A connection of its own each time: a kept-alive one that the server closes just as it is reused would fail a check.
      const req = http.get(url, { agent: false, headers: { 'user-agent': 'upkeeper-health-check' } }, (res) => {
        const status = res.statusCode ?? 0;
        const pass = status >= 200 && status < 400;
        const chunks: Buffer[] = [];
        let size = 0;
        const judge = (): void => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (!pass) finish({ ok: false, output: `HTTP ${status}${body.trim() ? `: ${body.trim().slice(0, 200)}` : ''}` });
          else if (expect !== null && !body.includes(expect))
            finish({ ok: false, output: `HTTP ${status}, the body has no ${JSON.stringify(expect)}` });
          else finish({ ok: true, output: `HTTP ${status}` });
        };
        res.on('data', (chunk: Buffer) => {
          if (size < BODY_BYTES) chunks.push(chunk);
          size += chunk.length;
          if (size >= BODY_BYTES) judge();
        });
        res.once('end', judge);
        res.once('error', (err) => finish({ ok: false, output: err.message }));
      });
      req.once('error', (err) => finish({ ok: false, output: err.message }));
      destroy = () => req.destroy();
    },
    (err: Error) => finish({ ok: false, output: err.message }),
  );
  return () => {
    ended = true;
    destroy();
  };
}

/**
 * The command as written (a shell line; a list was quoted word by word by the config check), run by
 * /bin/sh with the service's environment, working directory and user, in a process group of its own:
 * one that outlives its check is killed with everything it started.
 */
function command(line: string, ctx: SpawnContext, finish: (r: ProbeResult) => void): () => void {
  const child = spawn('/bin/sh', ['-c', line], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ctx.env,
    cwd: ctx.cwd,
    ...(ctx.uid === undefined ? {} : { uid: ctx.uid }),
    ...(ctx.gid === undefined ? {} : { gid: ctx.gid }),
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4 * OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  child.once('error', (err) => finish({ ok: false, output: err.message }));
  child.once('close', (code, signal) => {
    exited = true;
    const how = code === 0 ? '' : signal ? `killed by ${signal}` : `exit ${code}`;
    finish({ ok: code === 0, output: how && output.trim() ? `${how}: ${output}` : how || output });
  });
  return () => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
}
