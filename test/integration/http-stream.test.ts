// GET /api/stream: live events as Server-Sent Events from a real `upk serve`, across a controller
// SIGKILL and a reconnection with Last-Event-ID: every event of the service once, in order, none lost.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from '../helpers/sandbox.js';
import { startServe, stopServe, type Serve } from '../helpers/serve.js';

interface Message {
  id: string | null;
  event: string;
  data: string;
}

/** An open stream: its messages so far, and a way to wait for more. */
class Stream {
  readonly messages: Message[] = [];
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  ended = false;
  private req: ClientRequest;
  private buffer = '';

  constructor(socketPath: string, path: string, headers: Record<string, string> = {}) {
    this.req = request({ socketPath, path, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode!;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.buffer += chunk;
        let at: number;
        while ((at = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, at);
          this.buffer = this.buffer.slice(at + 2);
          const m: Message = { id: null, event: 'message', data: '' };
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line.startsWith('retry:')) continue;
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'id') m.id = value;
            if (field === 'event') m.event = value;
            if (field === 'data') m.data += value;
            any = true;
          }
          if (any) this.messages.push(m);
        }
      });
      res.on('end', () => (this.ended = true));
      res.on('close', () => (this.ended = true));
    });
    this.req.on('error', () => (this.ended = true));
    this.req.end();
  }

  events(): { id: number; type: string; service: string }[] {
    return this.messages.filter((m) => m.event === 'event').map((m) => JSON.parse(m.data) as { id: number; type: string; service: string });
  }

  async until(test: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${this.messages.length} messages`);
      await sleep(20);
    }
  }

  close(): void {
    this.req.destroy();
  }
}

describe('the HTTP event stream', { timeout: 120_000 }, () => {
  const box = new Sandbox('sse');
  let serve: Serve;
  const socketPath = join(box.dir, 'api.sock');

  before(async () => {
    box.writeServices({
      // exits every ~0.2 s and is restarted at once: a steady flow of events
      flaky: { ExecStart: 'sh -c "sleep 0.2; exit 3"', MinUptime: 0, UserRateLimit: 0, UserMaxRestarts: -1, InitialState: 'running' },
      quiet: { ExecStart: 'sleep 300', MinUptime: 0.1, InitialState: 'running' },
      // ~20 MB of output at once, when started
      flood: { ExecStart: `sh -c 'seq 1 3000000; exec sleep 300'`, MinUptime: 0.1 },
      talker: {
        ExecStart: `sh -c 'i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.1; done'`,
        MinUptime: 0.1,
        InitialState: 'running',
      },
    });
    await box.startController();
    serve = startServe(box, ['--socket', socketPath]);
    await serve.ready;
  });
  after(async () => {
    if (serve) await stopServe(serve);
    await box.cleanup();
  });

  it('streams events with their ids and statuses, as text/event-stream', async () => {
    const s = new Stream(socketPath, '/api/stream?service=flaky');
    try {
      await s.until(() => s.events().length >= 4, 'four events');
      assert.equal(s.status, 200);
      assert.match(String(s.headers['content-type']), /^text\/event-stream/);
      assert.ok(s.events().every((e) => e.service === 'flaky'));
      for (const m of s.messages.filter((x) => x.event === 'event')) assert.equal(m.id, String((JSON.parse(m.data) as { id: number }).id));
      assert.ok(
        s.messages.some((m) => m.event === 'status'),
        'status messages too',
      );
      assert.ok(
        s.messages.filter((m) => m.event === 'status').every((m) => m.id === null),
        'a status carries no id: it does not move the resume point',
      );
    } finally {
      s.close();
    }
  });

  it('goes on across a controller SIGKILL, and resumes after Last-Event-ID: every event once, in order, none missing', async () => {
    const first = new Stream(socketPath, '/api/stream?service=flaky&type=spawned,exited');
    let lastId = 0;
    try {
      await first.until(() => first.events().length >= 3, 'events before the kill');
      const pid = (JSON.parse(readFileSync(join(box.stateDir, 'controller.json'), 'utf8')) as { pid: number }).pid;
      process.kill(pid, 'SIGKILL');
      await sleep(500);
      await box.startController();
      const before = first.events().length;
      await first.until(() => first.events().length >= before + 4, 'events after the controller came back');
      assert.ok(
        first.messages.some((m) => m.event === 'controller'),
        'the stream says the controller went away and came back',
      );
      lastId = first.events().at(-1)!.id;
    } finally {
      first.close();
    }
    await sleep(700); // events happen while nobody listens
    const second = new Stream(socketPath, '/api/stream?service=flaky&type=spawned,exited', { 'last-event-id': String(lastId) });
    try {
      await second.until(() => second.events().length >= 6, 'events after the resume');
      const seen = [...first.events().filter((e) => e.id <= lastId), ...second.events()];
      const ids = seen.map((e) => e.id);
      assert.ok(
        ids.every((id, i) => i === 0 || id > ids[i - 1]!),
        `in order, none twice: ${ids.join(' ')}`,
      );
      assert.ok(second.events()[0]!.id > lastId);
      // Against the database: every event of the service of those types between the first and the last seen.
      const db = box.db();
      const stored = db
        .prepare(
          `SELECT e.id FROM events e JOIN services s ON s.uuid = e.service_uuid WHERE s.name = 'flaky' AND e.type IN ('spawned', 'exited') AND e.id BETWEEN ? AND ? ORDER BY e.id`,
        )
        .all(ids[0], ids.at(-1)) as { id: number }[];
      db.close();
      assert.deepEqual(
        ids,
        stored.map((r) => r.id),
      );
    } finally {
      second.close();
    }
  });

  it("follows a service's output lines, the last ones first (GET /api/services/NAME/logs/stream)", async () => {
    await sleep(500);
    const s = new Stream(socketPath, '/api/services/talker/logs/stream?lines=2');
    try {
      await s.until(() => s.messages.filter((m) => m.event === 'line').length >= 6, 'six lines');
      const lines = s.messages
        .filter((m) => m.event === 'line')
        .map((m) => JSON.parse(m.data) as { service: string; stream: string; line: string });
      assert.ok(
        lines.every((l) => l.service === 'talker' && l.stream === 'stdout' && /^line \d+$/.test(l.line)),
        JSON.stringify(lines),
      );
      const numbers = lines.map((l) => Number(l.line.slice(5)));
      assert.ok(
        numbers.every((n, i) => i === 0 || n === numbers[i - 1]! + 1),
        `consecutive: ${numbers.join(' ')}`,
      );
      assert.ok(numbers[0]! > 1, 'it began with the last lines written, not the first');
    } finally {
      s.close();
    }
    const unknown = new Stream(socketPath, '/api/services/nosuch/logs/stream');
    await unknown.until(() => unknown.ended, 'the answer');
    assert.equal(unknown.status, 404);
  });

  it('serves at most 64 streams at once (429 beyond), and they do not lock out the other requests', async () => {
    const streams = Array.from({ length: 64 }, () => new Stream(socketPath, '/api/stream?service=quiet'));
    try {
      for (const s of streams) await s.until(() => s.status !== 0, 'a stream open');
      assert.ok(streams.every((s) => s.status === 200));
      const extra = new Stream(socketPath, '/api/stream?service=quiet');
      await extra.until(() => extra.ended, 'the answer');
      assert.equal(extra.status, 429);
      const list = new Stream(socketPath, '/api/services');
      await list.until(() => list.ended, 'the answer');
      assert.equal(list.status, 200, 'a request beside 64 streams');
    } finally {
      for (const s of streams) s.close();
    }
    await sleep(300);
    const again = new Stream(socketPath, '/api/stream?service=quiet');
    try {
      await again.until(() => again.status !== 0, 'a stream open');
      assert.equal(again.status, 200, 'a stream once the others are gone');
    } finally {
      again.close();
    }
  });

  it('ends the stream of a reader that does not read once 1 MiB waits for it, and stays small', async () => {
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serve.proc.pid}/status`, 'utf8'))?.[1]) * 1024;
    const before = rss();
    const socket = connect(socketPath);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /api/services/flood/logs/stream?lines=0 HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads: the kernel's buffers fill, then upk serve's
    let received = 0;
    let ended = false;
    try {
      await sleep(300);
      assert.equal((await box.upk(['start', 'flood'])).code, 0);
      await sleep(4000); // the service writes its ~20 MB within a second or two
      const grown = rss() - before;
      if (process.env.SHOW) console.log('upk serve grew by', grown, 'bytes');
      let text = '';
      socket.on('data', (c: Buffer) => ((received += c.length), text.length < 2000 && (text += c.toString())));
      socket.on('end', () => (ended = true));
      socket.resume();
      await box.waitFor('upk serve to end the stream', () => ended, 15_000);
      assert.ok(received < 6 * 1024 * 1024, `${received} bytes reached the reader of ~20 MB written: the rest was never queued`);
      assert.ok(received > 1024 * 1024, `${received} bytes: what waited for it: ${text}`);
      assert.ok(grown < 40 * 1024 * 1024, `upk serve grew by ${grown} bytes`);
    } finally {
      socket.destroy();
      await box.upk(['stop', 'flood']);
    }
  });

  it('refuses a Last-Event-ID that is no event id, and a POST', async () => {
    const bad = new Stream(socketPath, '/api/stream', { 'last-event-id': 'abc' });
    await bad.until(() => bad.ended, 'the answer');
    assert.equal(bad.status, 400);
    const post = await new Promise<number>((resolve, reject) => {
      const req = request({ socketPath, path: '/api/stream', method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(post, 405);
  });
});
