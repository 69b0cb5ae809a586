// uptop in a real terminal (tmux): the table and its states, keys that act on services, the detail
// pane and the actions menu, a controller restart survived, resize, NO_COLOR, and many services.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive } from '../helpers/sandbox.js';
import { Tmux } from '../helpers/tmux.js';

const UPTOP = fileURLToPath(new URL('../../clients/uptop/main.js', import.meta.url));
const row = (screen: string, name: string): string => screen.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';

describe('uptop', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let term: Tmux;
  before(async () => {
    box = new Sandbox('uptop');
    box.writeServices({
      web: {
        ExecStart: `sh -c 'echo web is up; exec sleep 1000'`,
        InitialState: 'running',
        MinUptime: 0.1,
        CustomActions: { hello: 'echo hi from the action' },
        ExecReload: 'true',
      },
      worker: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, SampleInterval: 0.5 },
      idle: { ExecStart: 'sleep 1000', MinUptime: 0.1 },
      // Last by name. Started by a test, it fails twice and is given up: failed, though wanted running.
      zap: { ExecStart: `sh -c 'exit 3'`, MinUptime: 0.5, UserRateLimit: 0, MaxConsecutiveFailures: 2 },
    });
    await box.startController();
    await box.waitForState('worker', 'running');
    term = new Tmux(box.dir, 'main');
    term.start([process.execPath, UPTOP, '--config', box.configFile], {});
  });
  after(async () => {
    term?.kill();
    await box.cleanup();
  });

  it('shows every service with its state, and the totals', async () => {
    const screen = await term.waitFor('the services', (s) => /^worker +running/m.test(s) && /^web +running/m.test(s));
    assert.match(screen, /^uptop {2}controller \d+ up \S+ {2}4 services: 2 running, 2 stopped, 0 failed/m);
    assert.match(screen, /^NAME\^ +STATE +PID +UPTIME +RESTARTS LAST EXIT +CPU% +MEM$/m);
    assert.match(row(screen, 'idle'), /^idle +stopped +- +- +0 -/);
    assert.match(screen, /q quit {2}\? help {2}s start {2}x stop/);
    // CPU and memory come with the buddy's measurements (worker's every half second).
    await term.waitFor("worker's CPU and memory", (s) => /^worker +running +\d+ .* \d+\.\d +\d+(\.\d)?[KMG]$/.test(row(s, 'worker')));
  });

  it('x stops the selected service and the change appears; s starts it again', async () => {
    term.send('/');
    term.type('work');
    term.send('Enter');
    await term.waitFor('the filter', (s) => /^worker /m.test(s) && !/^web /m.test(s));
    term.send('x');
    const stopped = await term.waitFor(
      'worker stopped',
      (s) => /^worker +stopped /m.test(row(s, 'worker')) && /worker: stop: ok: stopped/.test(s),
    );
    assert.match(stopped, /4 services: 1 running, 3 stopped/);
    assert.equal((await (await box.client()).status('worker'))[0]!.state, 'stopped');
    term.send('s');
    await term.waitFor('worker running again', (s) => /^worker +running +\d+/.test(row(s, 'worker')) && /worker: start: ok/.test(s));
    term.send('Escape'); // clear the filter
    await term.waitFor('every service again', (s) => /^web /m.test(s) && /^idle /m.test(s));
  });

  it('a runs a custom action from a menu; Enter opens the details: events, log, restarts', async () => {
    term.send('g'); // the first row: idle, then web
    term.send('j');
    term.send('a');
    await term.waitFor('the menu', (s) => /00 hello/.test(s));
    term.send('Enter');
    await term.waitFor('the outcome', (s) => /web: hello exited with code 0: hi from the action/.test(s));
    term.send('Enter');
    const detail = await term.waitFor('the detail pane', (s) => /Recent events/.test(s) && /action_finished/.test(s), 15_000);
    assert.match(detail, /web {2}running since/);
    assert.match(detail, /Automatic restarts, last 24 h by hour: 0/);
    assert.match(detail, /spawned +started \(pid \d+\)/);
    term.send('PageDown');
    const log = await term.waitFor('the log, further down', (s) => /web is up/.test(s));
    assert.match(log, /stdout \(.*log\/stdout\)/);
    term.send('Escape');
    await term.waitFor('the table again', (s) => !/Recent events/.test(s) && /^worker /m.test(s));
  });

  it('r restarts the selected service (a new pid), R reloads it; each outcome in the status line', async () => {
    const pidOf = (s: string): string | undefined => /^web +running +(\d+)/.exec(row(s, 'web'))?.[1];
    const before = pidOf(await term.waitFor('web selected and running', (s) => pidOf(s) !== undefined));
    term.send('r');
    await term.waitFor('web with a new pid', (s) => /web: restart: ok/.test(s) && pidOf(s) !== undefined && pidOf(s) !== before);
    term.send('R');
    await term.waitFor('the reload', (s) => /web: reload: ok/.test(s));
  });

  it('a service not in the state it should be in is marked, with its last exit; the header counts it', async () => {
    await (await box.client()).start('zap');
    const screen = await term.waitFor('zap given up', (s) => /^zap +failed! /.test(row(s, 'zap')), 15_000);
    assert.match(row(screen, 'zap'), /^zap +failed! +- +- +\d+ code 3 (<1s|\d+s) /);
    assert.match(screen, /4 services: 2 running, 1 stopped, 1 failed/);
  });

  it('? shows every key; any key closes it', async () => {
    term.send('?');
    const help = await term.waitFor('the help', (s) => /Any key closes this help/.test(s));
    for (const key of ['start', 'stop', 'restart', 'reload', 'filter', 'quit']) assert.match(help, new RegExp(key));
    term.send('j');
    await term.waitFor('the table again', (s) => !/Any key closes this help/.test(s) && /^worker /m.test(s));
  });

  it('survives a controller restart: says so, reconnects, and shows changes made meanwhile', async () => {
    const c = await box.client();
    const old = (await c.controllerStatus()).pid;
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    const gone = await term.waitFor('the controller gone', (s) => /controller gone \S+: reconnecting|no controller \(/.test(s));
    assert.match(gone, /the controller stopped: services run on; reconnecting/);
    assert.ok(term.running(), 'uptop does not exit');
    await box.startController();
    const back = await term.waitFor(
      'the controller back',
      (s) => /^uptop {2}controller (\d+) up/m.test(s) && !s.includes(`controller ${old} `),
    );
    assert.match(back, /the controller is back/);
    const [stopped] = await (await box.client()).stop('web');
    assert.equal(stopped!.ok, true);
    await term.waitFor('web stopped', (s) => /^web +stopped /.test(row(s, 'web')));
  });

  it('< and > sort by another column, i turns the order round', async () => {
    term.send('<'); // from NAME to the last column, MEM, largest first
    await term.waitFor('sorted by memory', (s) => /^NAME +STATE .* MEMv$/m.test(s));
    term.send('i');
    await term.waitFor('the other way round', (s) => /^NAME +STATE .* MEM\^$/m.test(s));
    term.send('>');
    await term.waitFor('by name again', (s) => /^NAME\^ /m.test(s));
  });

  it('fits a narrow terminal on resize, and goes back', async () => {
    term.resize(50, 15);
    const narrow = await term.waitFor('a narrow layout', (s) => /^NAME\^ +STATE +UPTIME +CPU% +MEM$/m.test(s));
    assert.ok(
      narrow.split('\n').every((l) => l.length <= 50),
      narrow,
    );
    term.resize(80, 24);
    await term.waitFor('the full layout', (s) => /LAST EXIT/.test(s));
  });

  it('colours states; NO_COLOR turns colours off', async () => {
    assert.match(term.screen(true), /\x1b\[3[12]m/, 'green or red in colour');
    const plain = new Tmux(box.dir, 'plain');
    try {
      plain.start([process.execPath, UPTOP, '--config', box.configFile], { NO_COLOR: '1' });
      const screen = await plain.waitFor('the services', (s) => /^worker +running/m.test(s));
      assert.match(screen, /^web /m);
      assert.doesNotMatch(plain.screen(true), /\x1b\[(3[0-7]|9[0-7]|38;)/, 'no foreground colour');
    } finally {
      plain.kill();
    }
  });

  it('q quits', async () => {
    term.send('q');
    await term.waitForEnd('its end');
    assert.equal(term.exitStatus(), 0);
  });

  it('a configuration that cannot be read ends it at once, with the reason and its exit code', async () => {
    const bad = new Tmux(box.dir, 'bad');
    try {
      bad.start([process.execPath, UPTOP, '--config', box.file('nope.conf')], {});
      // (The message is wider than the terminal: it wraps.)
      const screen = await bad.waitForEnd('the message and the end', (s) => /not exist/.test(s));
      assert.doesNotMatch(screen, /unexpected error/);
      assert.equal(bad.exitStatus(), 7, 'CONFIG_INVALID, as upk would exit');
    } finally {
      bad.kill();
    }
  });

  it('without a terminal it refuses, with a clear message', async () => {
    const { run } = await import('../helpers/sandbox.js');
    const r = await run(process.execPath, [UPTOP, '--config', box.configFile], box.env, 10_000);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /uptop: needs a terminal/);
    assert.ok(alive((await (await box.client()).controllerStatus()).pid));
  });
});

describe('uptop with a hundred services', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let term: Tmux;
  const names = Array.from({ length: 100 }, (_, i) => `svc-${String(i + 1).padStart(3, '0')}`);
  before(async () => {
    box = new Sandbox('uptop100');
    box.writeServices(Object.fromEntries(names.map((n) => [n, { ExecStart: 'sleep 1000', SampleInterval: 0 }])));
    await box.startController();
    // The controller answers at once; it serves its services once a hundred buddies are attached.
    const c = await box.client();
    await box.waitFor('the controller ready', async () => (await c.controllerStatus()).ready, 90_000);
    term = new Tmux(box.dir, 'many');
    term.start([process.execPath, UPTOP, '--config', box.configFile], {});
  });
  after(async () => {
    term?.kill();
    await box.cleanup();
  });

  it('scrolls through them with the keys', async () => {
    const first = await term.waitFor('the first page', (s) => /100 services: 0 running, 100 stopped/.test(s) && /^svc-001 /m.test(s));
    assert.doesNotMatch(first, /^svc-100 /m);
    term.send('G');
    await term.waitFor('the last one', (s) => /^svc-100 /m.test(s) && !/^svc-001 /m.test(s));
    term.send('PageUp');
    await term.waitFor('a page up', (s) => !/^svc-100 /m.test(s));
    term.send('Home');
    await term.waitFor('the top again', (s) => /^svc-001 /m.test(s));
    term.send('/');
    term.type('099');
    await term.waitFor('one match', (s) => /^svc-099 /m.test(s) && !/^svc-001 /m.test(s));
  });

  it('after upk shutdown it says every service was stopped, not that they run on', async () => {
    term.send('Escape'); // leave the filter: the status line shows again
    assert.equal((await box.upk(['shutdown'], 60_000)).code, 0);
    await term.waitFor('the shutdown told', (s) => /the controller shut down: every service and buddy was stopped/.test(s), 20_000);
  });
});
