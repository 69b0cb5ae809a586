// The HTTP API (`upk serve`, a real process on a loopback TCP port with its token): requests a second
// and latency of GET /api/services with 50 services (8 keep-alive connections), the latency from a
// buddy's event to its Server-Sent Event in a reader (in Node, and in headless Chromium where it is
// installed), and the memory of `upk serve` afterwards.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { UPK_PROGRAM, idleService, manyServices, max, percentile, withSandbox, type Sandbox } from './harness.js';
import { readMemory } from './proc.js';
import type { Benchmark, Figure } from './report.js';

/** One GET; its status and time in ms. */
function get(agent: Agent, port: number, path: string, token: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The times of `count` events of `service` from their own time to their arrival in an SSE reader. */
function sseLatencies(port: number, token: string, service: string, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const out: number[] = [];
    let buffer = '';
    const req = request(
      { host: '127.0.0.1', port, path: `/api/stream?service=${service}`, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let at: number;
          while ((at = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            if (!block.includes('event: event')) continue;
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (data) out.push(Date.now() - Date.parse((JSON.parse(data) as { time: string }).time));
            if (out.length >= count) {
              req.destroy();
              resolve(out);
            }
          }
        });
      },
    );
    req.on('error', (err) => (out.length >= count ? resolve(out) : reject(err)));
    req.end();
  });
}

const CHROMIUM = process.env.UPK_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));

/**
 * The same in a browser: the dashboard's page open in headless Chromium, a fetch() reader of the
 * stream there (as the dashboard reads it, the token in a header) timing each event. Null without Chromium.
 */
async function browserLatencies(port: number, token: string, service: string, count: number): Promise<number[] | null> {
  if (CHROMIUM === undefined) return null;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    // In the page (a string: the bench is compiled without the DOM's types).
    const reader = `(async ({ token, service, count }) => {
      const res = await fetch('/api/stream?service=' + service, { headers: { authorization: 'Bearer ' + token } });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const out = [];
      let buffer = '';
      while (out.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let at;
        while ((at = buffer.indexOf('\\n\\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const data = /^data: (.*)$/m.exec(block);
          if (block.includes('event: event') && data) out.push(Date.now() - Date.parse(JSON.parse(data[1]).time));
        }
      }
      reader.cancel();
      return out;
    })(${JSON.stringify({ token, service, count })})`;
    return await page.evaluate<number[]>(reader);
  } finally {
    await browser.close();
  }
}

export const httpApi: Benchmark = {
  name: 'http-api',
  title: 'The HTTP API: GET /api/services with 50 services, events over SSE, memory of upk serve',
  run: (ctx) =>
    withSandbox('http', async (sandbox: Sandbox): Promise<Figure[]> => {
      sandbox.writeConfig({ pollingInterval: 0.5 });
      sandbox.writeServices({ ...manyServices(49), flicker: idleService({ ExecStart: 'sh -c "sleep 0.05; exit 1"', UserRateLimit: 0.1 }) });
      await sandbox.startController();
      const serve = spawn(process.execPath, [UPK_PROGRAM, 'serve', '--listen', '127.0.0.1:0'], {
        env: { PATH: process.env.PATH, UPKEEPER_CONFIG: sandbox.configFile },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const line = await new Promise<string>((resolve, reject) => {
          serve.stdout.once('data', (c: Buffer) => resolve(c.toString()));
          serve.once('exit', (code) => reject(new Error(`upk serve exited (${code})`)));
        });
        const port = Number(/:(\d+) \(/.exec(line)?.[1]);
        const token = readFileSync(join(sandbox.stateDir, 'http-token'), 'utf8').trim();
        const agent = new Agent({ keepAlive: true, maxSockets: 8 });
        const total = ctx.quick ? 500 : 2000;
        await get(agent, port, '/api/services', token); // the first connects to the controller
        const times: number[] = [];
        let failed = 0;
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next++ < total) {
              const r = await get(agent, port, '/api/services', token);
              if (r.status !== 200) failed += 1;
              times.push(r.ms);
            }
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        agent.destroy();
        const events = await sseLatencies(port, token, 'flicker', ctx.quick ? 100 : 300);
        const inBrowser = await browserLatencies(port, token, 'flicker', ctx.quick ? 100 : 300);
        const memory = readMemory(serve.pid!);
        ctx.note(
          `${total} requests on 8 keep-alive connections, ${failed} failed; ${events.length} events of a service restarting ten times a second`,
        );
        const n = `${total} requests`;
        const e = `${events.length} events`;
        return [
          { label: 'GET /api/services (50 services), requests a second', value: total / seconds, unit: '/s', n },
          { label: 'GET /api/services, p50', value: percentile(times, 50), unit: 'ms', n },
          { label: 'GET /api/services, p99', value: percentile(times, 99), unit: 'ms', n, target: { op: '<=', value: 100 } },
          { label: 'buddy event to SSE reader, p50', value: percentile(events, 50), unit: 'ms', n: e },
          { label: 'buddy event to SSE reader, p99', value: percentile(events, 99), unit: 'ms', n: e, target: { op: '<=', value: 100 } },
          { label: 'buddy event to SSE reader, max', value: max(events), unit: 'ms', n: e },
          ...(inBrowser === null
            ? []
            : [
                {
                  label: 'buddy event to headless Chromium, p50',
                  value: percentile(inBrowser, 50),
                  unit: 'ms',
                  n: `${inBrowser.length} events`,
                },
                {
                  label: 'buddy event to headless Chromium, p99',
                  value: percentile(inBrowser, 99),
                  unit: 'ms',
                  n: `${inBrowser.length} events`,
                },
              ]),
          { label: 'upk serve PSS afterwards', value: (memory?.pssKb ?? NaN) / 1024, unit: 'MB', n: 1 },
          { label: 'upk serve RSS afterwards', value: (memory?.rssKb ?? NaN) / 1024, unit: 'MB', n: 1 },
        ];
      } finally {
        serve.kill('SIGTERM');
      }
    }),
};
