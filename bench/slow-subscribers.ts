// Subscribers that never read: 20 of them, paused after subscribing, while a crash-looping service
// makes about 120 events a second. The controller's memory must stay flat: it keeps at most
// CLIENT_MAX_BUFFERED_BYTES for each, then ends its subscription.
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { CLIENT_MAX_BUFFERED_BYTES, PROTOCOL_MAX } from '../schema/client-protocol.js';
import { msgpackCodec } from '../schema/codec-msgpack.js';
import { encodeFrame } from '../schema/framing.js';
import { socketAddress } from '../schema/socket-path.js';
import { idleService, max, sleep, withSandbox } from './harness.js';
import { readFileSync } from 'node:fs';
import type { Benchmark, Figure } from './report.js';

const SUBSCRIBERS = 20;

/** A client that says hello, subscribes to everything, and then reads nothing at all. */
function pausedSubscriber(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(socketAddress(socketPath));
    s.once('error', reject);
    s.once('connect', () => {
      const hello = { protocol: { min: 1, max: PROTOCOL_MAX }, client: 'bench-paused', pid: process.pid, user: 'bench' };
      s.write(encodeFrame(msgpackCodec.encode({ id: 1, method: 'hello', params: hello })));
      s.write(encodeFrame(msgpackCodec.encode({ id: 2, method: 'subscribe', params: { subscription: 1 } })));
      // Read the two answers' worth, then stop reading for good.
      setTimeout(() => {
        s.pause();
        resolve(s);
      }, 200);
    });
  });
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

export const slowSubscribers: Benchmark = {
  name: 'slow-subscribers',
  title: `Controller memory with ${SUBSCRIBERS} subscribers that never read`,
  run: (ctx) =>
    withSandbox('slow', async (sandbox): Promise<Figure[]> => {
      const seconds = ctx.quick ? 20 : 80;
      sandbox.writeConfig();
      // Some 45 crashes a second, three events each (spawned, exited, backoff): 120-140 events/s here.
      sandbox.writeServices({ churn: idleService({ ExecStart: 'sh -c "exit 1"', UserRateLimit: 0.015 }) });
      const pid = await sandbox.startController();
      const client = await sandbox.connect();
      const first = (await client.events({ limit: 1 }))[0]?.id ?? 0;
      await sleep(2000); // the controller warmed up before the baseline
      const socket = join(sandbox.stateDir, 'controller.sock');
      const peers = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => pausedSubscriber(socket)));
      const before = rssMb(pid);
      const t0 = Date.now();
      const samples: number[] = [];
      while (Date.now() - t0 < seconds * 1000) {
        await sleep(5000);
        samples.push(rssMb(pid));
      }
      const last = (await client.events({ limit: 1 }))[0]?.id ?? 0;
      const after = rssMb(pid);
      const rate = (last - first) / ((Date.now() - t0) / 1000 + 2);
      const ended = readFileSync(join(sandbox.stateDir, 'controller.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('bench-paused') && l.includes('ended')).length;
      client.close();
      for (const p of peers) p.destroy();
      ctx.note(`controller RSS every 5 s (MB): ${samples.map((x) => x.toFixed(0)).join(' ')}`);
      ctx.note(
        `${SUBSCRIBERS} paused subscribers for ${seconds} s; ${rate.toFixed(0)} events/s stored; ${ended} of ${SUBSCRIBERS} subscriptions ended by the controller (each at ${CLIENT_MAX_BUFFERED_BYTES / 1048576} MiB waiting)`,
      );
      const n = `${SUBSCRIBERS} subscribers, ${seconds} s`;
      return [
        { label: 'controller RSS with them connected, at the start', value: before, unit: 'MB', n },
        { label: `controller RSS after ${seconds} s`, value: after, unit: 'MB', n },
        { label: 'controller RSS, highest sample (every 5 s)', value: max(samples), unit: 'MB', n },
        {
          label: 'growth over the run',
          value: after - before,
          unit: 'MB',
          n,
          target: { op: '<=', value: 2 * SUBSCRIBERS * (CLIENT_MAX_BUFFERED_BYTES / 1048576) },
        },
      ];
    }),
};
