// uptop on a past moment, in a real terminal (tmux): `--at TIME` shows the table as it was then, read-only
// (the header says so, an action is refused and changes nothing); `[` `]` step a minute, `{` `}` an hour,
// `L` (or a step past now) returns to the live view.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';
import { Tmux } from '../helpers/tmux.js';

const UPTOP = fileURLToPath(new URL('../../clients/uptop/main.js', import.meta.url));
const row = (screen: string, name: string): string => screen.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
/** A time as the header shows it. */
const shown = (ms: number): string => {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
};
const header = (s: string): string => s.split('\n')[0] ?? '';

describe('uptop --at: a past moment, read-only', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let term: Tmux;
  let then: number;
  before(async () => {
    box = new Sandbox('uptop-past');
    box.writeServices({
      web: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      worker: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    await box.waitForState('worker', 'running');
    await new Promise((r) => setTimeout(r, 300));
    then = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    await (await box.client()).stop('web');
    await box.waitForState('web', 'stopped');
    term = new Tmux(box.dir, 'past');
    term.start([process.execPath, UPTOP, '--config', box.configFile, '--at', new Date(then).toISOString()], {}, 100, 24);
  });
  after(async () => {
    term?.kill();
    await box.cleanup();
  });

  it('shows the table as it was, with the time in the header; actions are refused', async () => {
    const screen = await term.waitFor('the past table', (s) => /^web +running/m.test(s) && /^worker +running/m.test(s));
    assert.ok(header(screen).startsWith(`uptop  at ${shown(then)} (read-only)  2 services: 2 running`), header(screen));
    assert.match(screen, /q quit {2}L live {2}\[ \] minute {2}\{ \} hour/);
    term.send('g'); // web, the first row
    term.send('x');
    await term.waitFor('the refusal', (s) => /read-only: this is the past \(.*\); L returns to live/.test(s));
    term.send('Enter');
    const after = await term.waitFor('still the table', (s) => /read-only: this is the past/.test(s) && !/Recent events/.test(s));
    assert.match(row(after, 'web'), /^web +running/);
    assert.equal((await (await box.client()).status('web'))[0]!.state, 'stopped', 'nothing was done');
    const requests = await (await box.client()).requests({});
    assert.ok(!requests.some((r) => r.client === 'uptop'), 'no request of uptop in the audit trail');
  });

  it('[ and ] step a minute; before the services existed the table is empty, and before the history kept it says so', async () => {
    term.send('[');
    const earlier = await term.waitFor(
      'a minute earlier',
      // Before the oldest event kept: not known, only guessed, and the status line says so.
      (s) =>
        header(s).includes(`at ${shown(then - 60_000)} (read-only)`) &&
        /\(no services\)/.test(s) &&
        /warning: \S+ is before the history kept/.test(s),
    );
    assert.match(header(earlier), /0 services/);
    term.send(']');
    await term.waitFor('back to the moment', (s) => header(s).includes(`at ${shown(then)} (read-only)`) && /^web +running/m.test(s));
  });

  it('a moment it cannot read shows no row of another moment, and says why', async () => {
    assert.equal((await box.upk(['controller', 'stop'])).code, 0);
    term.send('[');
    const failed = await term.waitFor(
      'the error',
      (s) => header(s).includes(`at ${shown(then - 60_000)} (read-only)`) && /the services at [^\n]*: [^[\n]/.test(s),
    );
    assert.equal(row(failed, 'web'), '', failed);
    assert.equal(row(failed, 'worker'), '', failed);
    await box.startController();
    term.send(']');
    await term.waitFor('the moment again', (s) => header(s).includes(`at ${shown(then)} (read-only)`) && /^web +running/m.test(s));
  });

  it('L returns to live; { goes an hour back, } forward again, ] past now is live again', async () => {
    term.send('L');
    const live = await term.waitFor('live', (s) => /^uptop {2}controller \d+ up/.test(header(s)) && /^web +stopped/m.test(s));
    assert.match(live, /q quit {2}\? help {2}s start/);
    term.send('{');
    await term.waitFor('an hour ago', (s) => /^uptop {2}at .* \(read-only\)/.test(header(s)) && /\(no services\)/.test(s));
    term.send('}'); // the moment the view left: a few seconds ago
    await term.waitFor(
      'the moment left',
      (s) => /^uptop {2}at .* \(read-only\)/.test(header(s)) && /^web +stopped/m.test(s) && /^worker +running/m.test(s),
    );
    term.send(']'); // a minute later is to come: live again
    await term.waitFor(
      'live again',
      (s) => /^uptop {2}controller \d+ up/.test(header(s)) && /^web +stopped/m.test(s) && /^worker +running/m.test(s),
    );
    term.send('q');
  });
});
