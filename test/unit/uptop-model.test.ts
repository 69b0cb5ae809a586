// uptop without a screen: filtering, sorting, selection, totals, and the lines it draws at 80 columns and narrower.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ago, footerLine, headerLine, layoutFor, rowLine, titleLine } from '../../clients/uptop/layout.js';
import { Model } from '../../clients/uptop/model.js';
import type { ServiceStatus } from '../../libclient/index.js';

const NOW = Date.parse('2026-11-21T12:00:00Z');
let n = 0;
function svc(name: string, extra: Partial<ServiceStatus> = {}): ServiceStatus {
  n += 1;
  return {
    name,
    package: null,
    uuid: `uuid-${name}-${n}`,
    state: 'running',
    desired: 'running',
    pid: 1000 + n,
    buddyPid: 2000 + n,
    started: new Date(NOW - n * 60_000).toISOString(),
    since: new Date(NOW - n * 60_000).toISOString(),
    restarts: 0,
    failures: 0,
    lastExit: null,
    hold: null,
    waitingFor: null,
    usage: { cpu: n, rss: n * 1024 * 1024, processes: 1, at: new Date(NOW).toISOString() },
    health: null,
    actions: [],
    description: null,
    unsupervised: null,
    ...extra,
  };
}

function model(...list: ServiceStatus[]): Model {
  const m = new Model();
  for (const s of list) m.update(s);
  return m;
}

describe('uptop model', { timeout: 5000 }, () => {
  it('filters by name in any letter case, and sorts by name first', () => {
    const m = model(svc('web'), svc('Worker'), svc('db'));
    assert.deepEqual(
      m.visible(NOW).map((s) => s.name),
      ['db', 'web', 'Worker'],
    );
    m.filter = 'W';
    assert.deepEqual(
      m.visible(NOW).map((s) => s.name),
      ['web', 'Worker'],
    );
    m.filter = 'zz';
    assert.deepEqual(m.visible(NOW), []);
  });

  it('sorts by any column; numbers largest first, again the same column turns the order round', () => {
    const m = model(svc('a', { restarts: 1 }), svc('b', { restarts: 9 }), svc('c', { restarts: 4 }));
    m.sortBy('restarts');
    assert.deepEqual(
      m.visible(NOW).map((s) => s.name),
      ['b', 'c', 'a'],
    );
    m.sortBy('restarts');
    assert.deepEqual(
      m.visible(NOW).map((s) => s.name),
      ['a', 'c', 'b'],
    );
    m.shiftSort(1);
    assert.equal(m.sort.key, 'exit');
    m.shiftSort(-1);
    m.shiftSort(-1);
    assert.equal(m.sort.key, 'uptime');
  });

  it('sorts states with trouble first', () => {
    const m = model(
      svc('ok'),
      svc('dead', { state: 'failed' }),
      svc('off', { state: 'stopped', desired: 'stopped' }),
      svc('wait', { state: 'backoff' }),
    );
    m.sortBy('state');
    assert.deepEqual(
      m.visible(NOW).map((s) => s.name),
      ['dead', 'wait', 'ok', 'off'],
    );
  });

  it('the selection follows its service through re-sorting and filtering, and stays within the list', () => {
    const m = model(svc('a'), svc('b'), svc('c'));
    let rows = m.visible(NOW);
    m.move(rows, 1);
    assert.equal(m.selectedService(rows)?.name, 'b');
    m.sortBy('name'); // now descending: c, b, a
    rows = m.visible(NOW);
    assert.equal(m.selectedService(rows)?.name, 'b');
    m.move(rows, 10);
    assert.equal(m.selectedService(rows)?.name, 'a');
    m.move(rows, -Infinity);
    assert.equal(m.selectedService(rows)?.name, 'c');
    m.filter = 'x';
    assert.equal(m.selectedService(m.visible(NOW)), null);
  });

  it('totals: running, stopped, failed, the rest, and those not in their wanted state', () => {
    const m = model(
      svc('a'),
      svc('b', { state: 'stopped', desired: 'stopped' }),
      svc('c', { state: 'failed' }),
      svc('d', { state: 'backoff' }),
      svc('e', { state: 'stopped' }),
    );
    assert.deepEqual(m.totals(), { total: 5, running: 1, stopped: 2, failed: 1, other: 1, off: 3 });
    m.remove(m.visible(NOW)[0]!.uuid);
    assert.equal(m.totals().total, 4);
  });
});

describe('uptop lines', { timeout: 5000 }, () => {
  const s = svc('web', {
    state: 'stopped',
    lastExit: { code: null, signal: 'SIGKILL', at: new Date(NOW - 300_000).toISOString() },
    restarts: 3,
  });

  it('80 columns hold every column; a row is exactly as wide as the screen', () => {
    const l = layoutFor(80);
    assert.deepEqual(
      l.columns.map((c) => c.key),
      ['name', 'state', 'pid', 'uptime', 'restarts', 'exit', 'cpu', 'mem'],
    );
    const row = rowLine(s, l, NOW, false);
    assert.equal(row.length, 80);
    assert.match(row, /^web +stopped! +\d+ +\S+ +3 SIGKILL 5m +\d+\.\d +\d+\.\dM$/);
    assert.equal(
      titleLine(l, { key: 'name', descending: false }).trimEnd(),
      'NAME^             STATE         PID  UPTIME  RESTARTS LAST EXIT      CPU%    MEM',
    );
    assert.match(titleLine(l, { key: 'restarts', descending: true }), / RESTARTSv /, 'the sort mark fits every title');
    for (const c of l.columns) assert.ok(c.key === 'name' || c.title.length + 1 <= c.width, `${c.title} has room for its mark`);
  });

  it('a last exit says how long ago in one unit, so that the cell never overflows', () => {
    assert.deepEqual([500, 40_000, 300_000, 23 * 3_600_000, 47 * 3_600_000, 5 * 86_400_000].map(ago), [
      '<1s',
      '40s',
      '5m',
      '23h',
      '47h',
      '5d',
    ]);
  });

  it('narrower screens drop the least needed columns first; name and state always stay', () => {
    assert.deepEqual(
      layoutFor(50).columns.map((c) => c.key),
      ['name', 'state', 'uptime', 'cpu', 'mem'],
    );
    assert.deepEqual(
      layoutFor(20).columns.map((c) => c.key),
      ['name', 'state'],
    );
    assert.ok(rowLine(s, layoutFor(50), NOW, false).length <= 50);
  });

  it('colours are blessed tags on the state (bold when not wanted), none without colour', () => {
    assert.match(rowLine(s, layoutFor(80), NOW, true), /\{bold\}\{red-fg\}stopped! *\{\/red-fg\}\{\/bold\}/);
    assert.doesNotMatch(rowLine(s, layoutFor(80), NOW, false), /\{/);
  });

  it('the header shortens to fit, the counts in full first, then the controller, then the extras; the footer keeps q and ?', () => {
    const m = model(svc('a'), svc('b', { state: 'failed' }));
    m.controller = {
      state: 'up',
      info: {
        pid: 42,
        version: '0.1.0',
        protocol: 1,
        startedAt: new Date(NOW - 3_600_000).toISOString(),
        socket: '',
        stateDir: '',
        configFile: null,
      },
    };
    assert.equal(headerLine(m, NOW, false, 120), 'uptop  controller 42 up 1h0m  2 services: 1 running, 0 stopped, 1 failed  v0.1.0');
    assert.equal(headerLine(m, NOW, false, 79), 'uptop  controller 42 up 1h0m  2 services: 1 running, 0 stopped, 1 failed');
    assert.equal(headerLine(m, NOW, false, 40), 'uptop  pid 42  2: 1 run, 0 stop, 1 fail');
    // A host reached through ssh (uptop --host) is named after uptop, at every width.
    assert.equal(
      headerLine(m, NOW, false, 79, null, 'web1'),
      'uptop web1  controller 42 up 1h0m  2 services: 1 running, 0 stopped, 1 failed',
    );
    assert.match(headerLine(m, NOW, false, 40, null, 'web1'), /^uptop web1 {2}pid 42/);
    m.controller = { state: 'gone', since: NOW - 5000 };
    assert.equal(headerLine(m, NOW, false, 80), 'uptop  no controller (5s)  2 services: 1 running, 0 stopped, 1 failed');
    assert.equal(headerLine(m, NOW, false, 100), 'uptop  controller gone 5s: reconnecting  2 services: 1 running, 0 stopped, 1 failed');
    assert.equal(footerLine(14), 'q quit  ? help');
    assert.ok(footerLine(80).length <= 80);
  });

  it("the controller's problems head the header, in red, shortened before anything else", () => {
    const m = model(
      svc('a'),
      svc('b', { state: 'unknown', unsupervised: { reason: 'cannot start a buddy', since: new Date(NOW).toISOString(), attempts: 3 } }),
    );
    m.controller = {
      state: 'up',
      info: {
        pid: 42,
        version: '0.1.0',
        protocol: 2,
        startedAt: new Date(NOW - 60_000).toISOString(),
        socket: '',
        stateDir: '',
        configFile: null,
      },
    };
    const since = new Date(NOW).toISOString();
    m.problems = [
      { kind: 'database', message: 'cannot write the audit database: database or disk is full', since },
      { kind: 'unsupervised', message: '1 service(s) without a buddy', since },
    ];
    assert.equal(
      headerLine(m, NOW, false, 160),
      'uptop  controller 42 up 1m0s  2 services: 1 running, 0 stopped, 0 failed, 1 other  ! audit database not writable, services unsupervised  v0.1.0',
    );
    assert.match(headerLine(m, NOW, false, 66), /^uptop {2}pid 42 {2}2: 1 run, 0 stop, 0 fail, 1 other {2}! 2 problems$/);
    assert.match(headerLine(m, NOW, true, 130), /\{red-fg\}! audit database not writable, services unsupervised\{\/red-fg\}/);
    assert.match(rowLine(m.visible(NOW)[1]!, layoutFor(80), NOW, false), /^b +unsuperv~ /, 'the state cell');
    m.problems = [];
    assert.doesNotMatch(headerLine(m, NOW, false, 130), /!/);
  });
});
