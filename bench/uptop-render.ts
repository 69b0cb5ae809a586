// uptop with many services: the time to sort and lay out every row, and a whole blessed redraw, for 500
// services on a 120 × 50 terminal (written to a stream nobody reads). Tells whether it stays responsive.
import { PassThrough } from 'node:stream';
import { App } from '../clients/uptop/app.js';
import { layoutFor, rowLine } from '../clients/uptop/layout.js';
import { Model } from '../clients/uptop/model.js';
import type { ServiceStatus } from '../libclient/index.js';
import { median, percentile } from './harness.js';
import type { Benchmark, Figure } from './report.js';

const SERVICES = 500;

function statuses(now: number): ServiceStatus[] {
  const states: ServiceStatus['state'][] = ['running', 'running', 'running', 'stopped', 'backoff', 'failed'];
  return Array.from({ length: SERVICES }, (_, i) => ({
    name: `service-${String(i).padStart(3, '0')}`,
    package: null,
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    state: states[i % states.length]!,
    desired: 'running',
    pid: 10_000 + i,
    buddyPid: 20_000 + i,
    started: new Date(now - i * 61_000).toISOString(),
    since: new Date(now - i * 61_000).toISOString(),
    restarts: i % 7,
    failures: 0,
    lastExit: i % 3 === 0 ? { code: 1, signal: null, at: new Date(now - i * 1000).toISOString() } : null,
    hold: null,
    waitingFor: null,
    usage: { cpu: (i % 50) / 3, rss: (20 + (i % 100)) * 1048576, processes: 1 + (i % 3), at: new Date(now).toISOString() },
    health: null,
    unsupervised: null,
    actions: [],
    description: null,
  }));
}

export const uptopRender: Benchmark = {
  name: 'uptop-render',
  title: `uptop with ${SERVICES} services: rows laid out, and a whole redraw`,
  async run(ctx) {
    const N = ctx.quick ? 50 : 200;
    const now = Date.now();
    const model = new Model();
    for (const s of statuses(now)) model.update(s);
    const layout = layoutFor(120);
    const rowsOnce = (): string[] => model.visible(now).map((s) => rowLine(s, layout, now, true));
    const laidOut: number[] = [];
    for (let i = 0; i < N; i++) {
      model.sort = { key: i % 2 === 0 ? 'cpu' : 'name', descending: i % 2 === 0 };
      const t0 = performance.now();
      rowsOnce();
      laidOut.push(performance.now() - t0);
    }
    // The real App, drawing into a stream nobody reads: everything a redraw does (header, rows, status
    // line, footer, blessed, terminal output).
    const output = Object.assign(new PassThrough(), { columns: 120, rows: 50, isTTY: true });
    output.resume();
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
    const app = new App({ connect: {}, noColor: false, terminal: { input: input, output } });
    for (const s of statuses(now)) app.model.update(s);
    const redraw: number[] = [];
    try {
      for (let i = 0; i < N; i++) {
        app.model.sort = { key: i % 2 === 0 ? 'cpu' : 'name', descending: i % 2 === 0 };
        app.model.move(app.model.visible(now), 1);
        const t0 = performance.now();
        app.render();
        redraw.push(performance.now() - t0);
      }
    } finally {
      app.close();
    }
    ctx.note(`${SERVICES} services, 120 × 50 terminal, sorted by CPU and by name in turn; output to a stream nobody reads`);
    return [
      { label: 'sort and lay out every row, p50', value: median(laidOut), unit: 'ms', n: N },
      {
        label: 'whole redraw (every line of uptop, blessed, terminal output), p50',
        value: median(redraw),
        unit: 'ms',
        n: N,
        target: { op: '<=', value: 50 },
      },
      { label: 'whole redraw, p99', value: percentile(redraw, 99), unit: 'ms', n: N },
    ] satisfies Figure[];
  },
};
