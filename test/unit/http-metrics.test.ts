// The Prometheus text format as metrics.ts writes it: escaping, HELP and TYPE, families left out when empty,
// histograms; and the supervision's counters, left out for a controller that does not report them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exposition, metricFamilies, type HostFacts } from '../../clients/http/metrics.js';
import type { ControllerStats, ControllerStatus, ServiceStatus } from '../../libclient/index.js';

const NO_HOST: HostFacts = { rss: () => null, databaseBytes: () => null };

function controllerStatus(stats?: ControllerStats): ControllerStatus {
  const status: ControllerStatus = {
    pid: 1,
    version: '0.1.0',
    protocol: 2,
    startedAt: '2026-12-06T10:00:00.000Z',
    socket: '/s/controller.sock',
    stateDir: '/s',
    configFile: null,
    uptimeMs: 1000,
    ready: true,
    services: 1,
    buddies: 1,
    clients: 1,
    maxClients: 1000,
    configIssues: [],
    problems: [],
  };
  return stats ? { ...status, stats } : status;
}

const web = {
  name: 'web',
  uuid: 'uuid-web',
  state: 'running',
  desired: 'running',
  started: null,
  restarts: 0,
  failures: 0,
  lastExit: null,
  buddyPid: null,
  usage: null,
  health: null,
} as unknown as ServiceStatus;

describe('metrics exposition', { timeout: 5000 }, () => {
  it('escapes label values and help texts, writes special values, and leaves out a family without samples', () => {
    const text = exposition([
      { name: 'a_total', type: 'counter', help: 'back\\slash and\nnewline', samples: [{ labels: { l: 'q"uote\\back\nline' }, value: 3 }] },
      { name: 'empty', type: 'gauge', help: 'none', samples: [] },
      {
        name: 'b',
        type: 'gauge',
        help: 'values',
        samples: [
          { labels: {}, value: NaN },
          { labels: { x: '1' }, value: Infinity },
          { labels: { x: '2' }, value: -Infinity },
          { labels: { x: '3' }, value: 1.5e-7 },
        ],
      },
    ]);
    assert.equal(
      text,
      [
        '# HELP a_total back\\\\slash and\\nnewline',
        '# TYPE a_total counter',
        'a_total{l="q\\"uote\\\\back\\nline"} 3',
        '# HELP b values',
        '# TYPE b gauge',
        'b NaN',
        'b{x="1"} +Inf',
        'b{x="2"} -Inf',
        'b{x="3"} 1.5e-7',
        '',
      ].join('\n'),
    );
  });

  it('writes a histogram: its buckets, sum and count after the family name', () => {
    const text = exposition([
      {
        name: 'h_seconds',
        type: 'histogram',
        help: 'durations',
        samples: [
          { labels: { le: '0.1' }, value: 2, suffix: '_bucket' },
          { labels: { le: '+Inf' }, value: 3, suffix: '_bucket' },
          { labels: {}, value: 0.75, suffix: '_sum' },
          { labels: {}, value: 3, suffix: '_count' },
        ],
      },
    ]);
    assert.equal(
      text,
      [
        '# HELP h_seconds durations',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="0.1"} 2',
        'h_seconds_bucket{le="+Inf"} 3',
        'h_seconds_sum 0.75',
        'h_seconds_count 3',
        '',
      ].join('\n'),
    );
  });

  it("the supervision's counters from controller.status, and none of them from a controller that does not report them", () => {
    const stats: ControllerStats = {
      eventsStored: 42,
      pollRounds: 5,
      pollSeconds: 0.0125,
      pollBuckets: [
        [0.001, 1],
        [0.01, 4],
        [0.1, 5],
      ],
      buddyPolls: 9,
      eventsPending: 3,
      cpuMs: { 'uuid-web': 1500, 'uuid-gone': 99 },
    };
    const text = exposition(metricFamilies([web], controllerStatus(stats), NO_HOST));
    const lines = text.split('\n');
    for (const line of [
      '# TYPE upkeeper_events_stored_total counter',
      'upkeeper_events_stored_total 42',
      '# TYPE upkeeper_poll_round_duration_seconds histogram',
      'upkeeper_poll_round_duration_seconds_bucket{le="0.001"} 1',
      'upkeeper_poll_round_duration_seconds_bucket{le="0.01"} 4',
      'upkeeper_poll_round_duration_seconds_bucket{le="0.1"} 5',
      'upkeeper_poll_round_duration_seconds_bucket{le="+Inf"} 5',
      'upkeeper_poll_round_duration_seconds_sum 0.0125',
      'upkeeper_poll_round_duration_seconds_count 5',
      'upkeeper_buddy_polls_total 9',
      'upkeeper_buddy_events_pending 3',
      '# TYPE upkeeper_service_cpu_seconds_total counter',
      'upkeeper_service_cpu_seconds_total{service="web"} 1.5',
    ])
      assert.ok(lines.includes(line), `missing: ${line}`);
    assert.ok(!text.includes('uuid-gone') && !/cpu_seconds_total\{service="(?!web")/.test(text), 'only configured services');

    const old = exposition(metricFamilies([web], controllerStatus(), NO_HOST));
    for (const name of [
      'upkeeper_events_stored_total',
      'upkeeper_poll_round_duration_seconds',
      'upkeeper_buddy_polls_total',
      'upkeeper_buddy_events_pending',
      'upkeeper_service_cpu_seconds_total',
    ])
      assert.ok(!old.includes(name), `${name} from a controller without stats`);
    assert.ok(old.includes('upkeeper_service_up{service="web"} 1'), 'the rest as before');
  });

  it('the fleet export: up, rows by table, behind by table, the last batch; nothing without a FleetDatabase', () => {
    const tables = { events: 120, runs: 40, samples: 0, config_changes: 2, client_requests: 1 };
    const status: ControllerStatus = {
      ...controllerStatus(),
      fleet: {
        database: 'postgresql://upkeeper@db/fleet',
        host: 'web-1',
        up: false,
        exported: tables,
        skipped: { ...tables, events: 5 },
        behind: { ...tables, events: 700 },
        lastExport: '2026-12-06T10:00:01.500Z',
        error: 'connection refused',
      },
    };
    const lines = exposition(metricFamilies([web], status, NO_HOST)).split('\n');
    for (const line of [
      'upkeeper_fleet_export_up 0',
      '# TYPE upkeeper_fleet_export_rows_total counter',
      'upkeeper_fleet_export_rows_total{table="events"} 120',
      'upkeeper_fleet_export_rows_total{table="samples"} 0',
      'upkeeper_fleet_export_behind_rows{table="events"} 700',
      'upkeeper_fleet_export_behind_rows{table="runs"} 40',
      'upkeeper_fleet_export_last_success_timestamp_seconds 1796551201.5',
    ])
      assert.ok(lines.includes(line), `missing: ${line}`);
    for (const without of [controllerStatus(), { ...controllerStatus(), fleet: null }])
      assert.ok(!exposition(metricFamilies([web], without, NO_HOST)).includes('upkeeper_fleet'), 'no fleet series without one');
  });
});
