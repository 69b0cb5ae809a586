// GET /metrics from a real `upk serve` and controller, parsed back by a strict reader of Prometheus'
// text format (0.0.4): HELP and TYPE before each family, counters named _total, no series twice, a
// histogram's buckets cumulative up to +Inf, which is its count. The supervision's own counters grow.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, type Sample } from '../helpers/prometheus.js';
import { Sandbox } from '../helpers/sandbox.js';
import { servePort, startServe, stopServe, type Serve } from '../helpers/serve.js';

function get(
  target: { socketPath: string } | { port: number },
  path: string,
  token?: string,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...('port' in target ? { host: '127.0.0.1', port: target.port } : target),
        path,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: 20_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('GET /metrics', { timeout: 120_000 }, () => {
  const box = new Sandbox('metrics');
  let serve: Serve;
  let port = 0;
  const socketPath = join(box.dir, 'api.sock');
  const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

  before(async () => {
    box.writeServices({
      web: { ExecStart: 'sleep 300', MinUptime: 0.1, InitialState: 'running', SampleInterval: 1 },
      crashy: { ExecStart: 'sh -c "sleep 0.2; exit 3"', MinUptime: 0, UserRateLimit: 0, UserMaxRestarts: -1, InitialState: 'running' },
      'odd.name-1': { ExecStart: 'sleep 300', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    serve = startServe(box, ['--socket', socketPath, '--listen', '0']);
    port = servePort(await serve.ready);
  });
  after(async () => {
    if (serve) await stopServe(serve);
    await box.cleanup();
  });

  it("parses back, and says what each service's status says", async () => {
    await sleep(1500); // a usage measurement of web, a few restarts of crashy
    const res = await get({ socketPath }, '/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = parse(res.text);
    assert.equal(value(samples, 'upkeeper_controller_up'), 1);
    assert.equal(types.get('upkeeper_service_restarts_total'), 'counter');
    assert.equal(value(samples, 'upkeeper_service_up', { service: 'web' }), 1);
    assert.equal(value(samples, 'upkeeper_service_desired_up', { service: 'odd.name-1' }), 0);
    assert.equal(value(samples, 'upkeeper_service_up', { service: 'odd.name-1' }), 0);
    for (const service of ['web', 'crashy', 'odd.name-1'])
      assert.equal(
        samples.filter((s) => s.name === 'upkeeper_service_state' && s.labels.service === service).reduce((a, s) => a + s.value, 0),
        1,
        `one state of ${service}`,
      );
    assert.equal(value(samples, 'upkeeper_service_state', { service: 'odd.name-1', state: 'stopped' }), 1);
    assert.ok(value(samples, 'upkeeper_service_memory_bytes', { service: 'web' })! > 100_000, 'the memory of sleep');
    assert.ok(value(samples, 'upkeeper_service_restarts_total', { service: 'crashy' })! >= 2);
    assert.equal(value(samples, 'upkeeper_service_last_exit_code', { service: 'crashy' }), 3);
    const status = (await (await box.client()).status('web'))[0]!;
    assert.equal(value(samples, 'upkeeper_service_start_time_seconds', { service: 'web' }), Date.parse(status.started!) / 1000);
    assert.equal(value(samples, 'upkeeper_services'), 3);
    // The supervision's own processes and files, from /proc and the StateDir of the same machine.
    assert.ok(value(samples, 'upkeeper_controller_memory_bytes')! > 10_000_000, 'the controller, a Node process');
    assert.ok(value(samples, 'upkeeper_buddy_memory_bytes', { service: 'web' })! > 5_000_000, "web's buddy, a Node process");
    const db = statSync(join(box.stateDir, 'upkeeper.db')).size;
    assert.ok(value(samples, 'upkeeper_database_bytes')! >= db, 'the database with its WAL');
    assert.ok(value(samples, 'upkeeper_clients_connected')! >= 1);
    // The supervision's own counters (controller.status's stats).
    assert.equal(types.get('upkeeper_events_stored_total'), 'counter');
    assert.equal(types.get('upkeeper_poll_round_duration_seconds'), 'histogram');
    assert.equal(types.get('upkeeper_buddy_events_pending'), 'gauge');
    assert.equal(types.get('upkeeper_service_cpu_seconds_total'), 'counter');
    assert.ok(value(samples, 'upkeeper_events_stored_total')! > 0, 'the events of three starts at least');
    assert.ok(value(samples, 'upkeeper_poll_round_duration_seconds_count')! > 0);
    assert.ok(value(samples, 'upkeeper_poll_round_duration_seconds_sum')! > 0);
    assert.ok(value(samples, 'upkeeper_buddy_polls_total')! >= value(samples, 'upkeeper_poll_round_duration_seconds_count')!);
    assert.ok(value(samples, 'upkeeper_buddy_events_pending')! >= 0);
    for (const service of ['web', 'crashy', 'odd.name-1'])
      assert.ok(value(samples, 'upkeeper_service_cpu_seconds_total', { service })! >= 0, `the CPU seconds of ${service}`);
  });

  it("the supervision's counters grow as events come (crashy restarts on)", async () => {
    const counters = async (): Promise<number[]> => {
      const { samples } = parse((await get({ socketPath }, '/metrics')).text);
      return [
        'upkeeper_events_stored_total',
        'upkeeper_poll_round_duration_seconds_count',
        'upkeeper_poll_round_duration_seconds_sum',
        'upkeeper_buddy_polls_total',
      ].map((name) => value(samples, name)!);
    };
    const first = await counters();
    assert.ok(
      first.every((v) => v > 0),
      `all above 0: ${first.join(', ')}`,
    );
    const later = await box.waitFor('the counters to grow', async () => {
      const now = await counters();
      return now.every((v, i) => v > first[i]!) ? now : undefined;
    });
    assert.ok(later[0]! >= first[0]! + 2, `a restart of crashy is two events at least: ${first[0]} → ${later[0]}`);
  });

  it('asks the token on TCP, and answers it', async () => {
    assert.equal((await get({ port }, '/metrics')).status, 401);
    const token = readFileSync(join(box.stateDir, 'http-token'), 'utf8').trim();
    const res = await get({ port }, '/metrics', token);
    assert.equal(res.status, 200);
    assert.equal(value(parse(res.text).samples, 'upkeeper_controller_up'), 1);
  });

  it('says upkeeper_controller_up 0 within the scrape timeout while no controller answers', async () => {
    await box.upk(['controller', 'stop']);
    const t0 = Date.now();
    const res = await get({ socketPath }, '/metrics');
    assert.ok(Date.now() - t0 < 6000, `answered after ${Date.now() - t0} ms`);
    assert.equal(res.status, 200);
    const { samples } = parse(res.text);
    assert.equal(value(samples, 'upkeeper_controller_up'), 0);
    assert.ok(!samples.some((s) => s.name.startsWith('upkeeper_service_')), 'no service metric without a controller');
    await box.startController();
  });
});
