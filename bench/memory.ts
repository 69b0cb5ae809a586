// Memory per buddy with 50 idle services running: PSS (and RSS) of each buddy and of the controller.
import { manyServices, max, mean, median, sleep, waitForState, withSandbox } from './harness.js';
import { readMemory } from './proc.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 50;
const SETTLE_MS = 2000;
const MB = 1024;

export const memory: Benchmark = {
  name: 'memory',
  title: `Memory per buddy, ${SERVICES} services`,
  run: (ctx) =>
    withSandbox('mem', async (sandbox) => {
      sandbox.writeConfig();
      sandbox.writeServices(manyServices(SERVICES));
      const controllerPid = await sandbox.startController();
      const client = await sandbox.connect();
      try {
        await waitForState(client, { count: SERVICES });
        await sleep(SETTLE_MS);
        const list = await client.list();
        const buddies = list.map((s) => s.buddyPid).filter((pid): pid is number => pid !== null);
        const readings = buddies.map(readMemory).filter((m) => m !== null);
        const controller = readMemory(controllerPid);
        if (readings.length < SERVICES || !controller) {
          ctx.note(`warning: read ${readings.length} of ${SERVICES} buddies${controller ? '' : ' and not the controller'}`);
        }
        const pss = readings.map((m) => m.pssKb / MB);
        const rss = readings.map((m) => m.rssKb / MB);
        const n = `${readings.length} buddies`;
        const target = { op: '<=', value: 10 } as const;
        const figures: Figure[] = [
          { label: 'buddy PSS, median', value: median(pss), unit: 'MB', n, target },
          { label: 'buddy PSS, max', value: max(pss), unit: 'MB', n, target },
          { label: 'buddy PSS, mean', value: mean(pss), unit: 'MB', n, target },
          { label: 'buddy RSS, median', value: median(rss), unit: 'MB', n },
          { label: 'buddy RSS, max', value: max(rss), unit: 'MB', n },
          { label: 'all buddies, PSS total', value: pss.reduce((a, b) => a + b, 0), unit: 'MB', n },
        ];
        if (controller) {
          figures.push(
            { label: 'controller PSS', value: controller.pssKb / MB, unit: 'MB', n: 1 },
            { label: 'controller RSS', value: controller.rssKb / MB, unit: 'MB', n: 1 },
          );
        }
        return figures;
      } finally {
        client.close();
      }
    }),
};
