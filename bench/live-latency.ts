// Live events: from a state change in a buddy (the event's own time) to the event in a subscriber,
// with the default 0.5 s polling interval (buddies announce events; polling is the safety net).
import { idleService, max, percentile, sleep, withSandbox, type Sandbox } from './harness.js';
import type { Benchmark, Figure } from './report.js';

export const liveLatency: Benchmark = {
  name: 'live-latency',
  title: 'Change in a buddy to the event in a subscriber',
  run: (ctx) =>
    withSandbox('live', async (sandbox: Sandbox): Promise<Figure[]> => {
      sandbox.writeConfig({ pollingInterval: 0.5 });
      // Ten starts a second, each with a spawned, an exited and a backoff event.
      sandbox.writeServices({
        flicker: idleService({ ExecStart: 'sh -c "sleep 0.05; exit 1"', UserRateLimit: 0.1 }),
        steady: idleService(),
      });
      await sandbox.startController();
      const client = await sandbox.connect();
      const subscription = await client.subscribe({ services: ['flicker'] });
      const latencies: number[] = [];
      const wanted = ctx.quick ? 300 : 1000;
      for await (const n of subscription) {
        if (n.kind !== 'event') continue;
        latencies.push(Date.now() - Date.parse(n.event.time));
        if (latencies.length >= wanted) break;
      }
      client.close();
      await sleep(0);
      ctx.note(`${latencies.length} events of a service restarting ten times a second; BuddyPollingInterval 0.5 s`);
      const n = `${latencies.length} events`;
      return [
        { label: 'buddy to subscriber, p50', value: percentile(latencies, 50), unit: 'ms', n },
        { label: 'buddy to subscriber, p99', value: percentile(latencies, 99), unit: 'ms', n, target: { op: '<=', value: 100 } },
        { label: 'buddy to subscriber, max', value: max(latencies), unit: 'ms', n },
      ];
    }),
};
