#!/usr/bin/env node
// upkeeper's benchmarks (`npm run bench`): print figures against the targets for a 2-core machine.
//
// Usage: node dist/bench/main.js [--quick] [--only NAME]
//   --only NAME  run one benchmark: memory, respawn, startup, restart-drain, live-latency, idle-cpu, store-throughput,
//                audit-queries, uptop-render, slow-subscribers, logs-follow, add-latency, ready-to-dependent, health-cpu
//                zero-downtime, http-api or fleet
//   --quick      smaller N (respawn 50 kills, startup and restart-drain 1 run, idle-cpu 10 s, store 50,000 events,
//                audit queries on 200,000 events, ready-to-dependent 10 starts)
//
// Benchmarks print figures; they assert nothing, and a missed target never fails the run. The exit
// code is 1 only when a benchmark could not run (an error), 2 for bad arguments. Each benchmark runs a
// real controller and buddies in its own directory under os.tmpdir() and always cleans up: upk shutdown,
// SIGKILL of every process mentioning the directory, removal of the directory (also on Ctrl-C).
import os from 'node:os';
import { cleanupAll, cleanupAllNow, cleanupWarnings } from './harness.js';
import { addLatency } from './add-latency.js';
import { auditQueries } from './audit-queries.js';
import { fleet } from './fleet.js';
import { healthCpu } from './health-cpu.js';
import { httpApi } from './http-api.js';
import { idleCpu } from './idle-cpu.js';
import { liveLatency } from './live-latency.js';
import { logsFollow } from './logs-follow.js';
import { memory } from './memory.js';
import { formatFigure, formatTarget, formatValue, table, verdict, type Benchmark, type Figure } from './report.js';
import { respawn } from './respawn.js';
import { restartDrain } from './restart-drain.js';
import { startup } from './startup.js';
import { storeThroughput } from './store-throughput.js';
import { uptopRender } from './uptop-render.js';
import { slowSubscribers } from './slow-subscribers.js';
import { readyToDependent } from './ready-to-dependent.js';
import { zeroDowntime } from './zero-downtime.js';

const BENCHMARKS: readonly Benchmark[] = [
  memory,
  respawn,
  startup,
  restartDrain,
  liveLatency,
  idleCpu,
  storeThroughput,
  auditQueries,
  uptopRender,
  slowSubscribers,
  logsFollow,
  addLatency,
  readyToDependent,
  healthCpu,
  zeroDowntime,
  httpApi,
  fleet,
];

interface Options {
  quick: boolean;
  only: string | null;
}

function parseArgs(args: string[]): Options {
  const options: Options = { quick: false, only: null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--only' && i + 1 < args.length) options.only = args[++i] as string;
    else if (arg.startsWith('--only=')) options.only = arg.slice('--only='.length);
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (options.only !== null && !BENCHMARKS.some((b) => b.name === options.only))
    usage(`no benchmark named ${JSON.stringify(options.only)}`);
  return options;
}

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}\nusage: main.js [--quick] [--only ${BENCHMARKS.map((b) => b.name).join('|')}]\n`);
  process.exit(2);
}

function machine(): string {
  const cpus = os.cpus();
  return [
    `machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `node ${process.version}, kernel ${os.release()}, tmpdir ${os.tmpdir()}`,
  ].join('\n');
}

const options = parseArgs(process.argv.slice(2));
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130); // a second Ctrl-C: give up waiting
  interrupted = true;
  process.stderr.write('\ninterrupted: cleaning up…\n');
  void cleanupAll().finally(() => process.exit(130));
});

process.on('uncaughtException', (err) => {
  process.stderr.write(`bench: unexpected error: ${err.stack ?? String(err)}\n`);
  cleanupAllNow();
  process.exit(1);
});

console.log(`upkeeper benchmarks${options.quick ? ' (quick)' : ''}\n${machine()}`);
const results: { bench: Benchmark; figures: Figure[]; error?: string }[] = [];
try {
  for (const bench of BENCHMARKS.filter((b) => options.only === null || b.name === options.only)) {
    console.log(`\n== ${bench.name}: ${bench.title}`);
    const started = performance.now();
    try {
      const figures = await bench.run({ quick: options.quick, note: (line) => console.log(`   ${line}`) });
      for (const f of figures) console.log(`   ${formatFigure(f)}`);
      results.push({ bench, figures });
    } catch (err) {
      if (interrupted) break;
      const message = err instanceof Error ? err.message : String(err);
      console.log(`   ERROR: ${message}`);
      results.push({ bench, figures: [], error: message.split('\n')[0] ?? message });
    }
    console.log(`   (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
} finally {
  await cleanupAll();
}

if (!interrupted) {
  const rows = results.flatMap(({ bench, figures, error }) =>
    error !== undefined
      ? [[bench.name, 'ERROR', error, '', '', '']]
      : figures.map((f) => [bench.name, f.label, formatValue(f.value, f.unit), String(f.n), formatTarget(f), verdict(f)]),
  );
  console.log(`\n== summary\n${table(['benchmark', 'figure', 'value', 'N', 'target', 'vs target'], rows)}`);
  if (cleanupWarnings.length > 0) console.log(`\ncleanup warnings:\n${cleanupWarnings.map((w) => `  ${w}`).join('\n')}`);
  if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
}
