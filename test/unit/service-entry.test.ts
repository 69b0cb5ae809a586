// A service's standing and the controller's lifecycle: their transitions, and the ones refused.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Lifecycle } from '../../controller/lifecycle.js';
import { ServiceEntry } from '../../controller/service-entry.js';
import { ServiceTable } from '../../controller/service-table.js';
import { ErrorCode, type UpkError } from '../../schema/errors.js';
import { loadServiceText } from '../helpers/load-services.js';

function entry(t: TestContext): ServiceEntry {
  const cfg = loadServiceText(t, JSON.stringify({ web: { ExecStart: 'x' } })).services[0]!;
  return new ServiceEntry(cfg, 'uuid-web', '/nonexistent/web', 'stopped');
}

describe('service standing', { timeout: 5_000 }, () => {
  it('configured ⇄ missing: a service gone from the files keeps its configuration and comes back', (t) => {
    const e = entry(t);
    assert.equal(e.standing, 'configured');
    assert.equal(e.markMissing(), true);
    assert.equal(e.markMissing(), false, 'told once');
    assert.equal(e.missing, true);
    const next = { ...e.config, shortDescription: 'new' };
    assert.equal(e.reconfigure(next), true, 'it was missing');
    assert.equal(e.standing, 'configured');
    assert.equal(e.config, next);
    assert.equal(e.reconfigure(next), false);
  });

  it('retiring is one way: a retired service stays retired when the files define it again, and is removed from the table', (t) => {
    const e = entry(t);
    const table = new ServiceTable();
    table.set(e);
    e.retire();
    assert.equal(e.retired, true);
    e.reconfigure(e.config);
    assert.equal(e.standing, 'retiring');
    assert.equal(e.markMissing(), false);
    table.remove(e);
    assert.equal(e.standing, 'removed');
    assert.equal(table.get('web'), undefined);
    e.retire();
    assert.equal(e.standing, 'removed', 'never back from removed');
  });

  it('removing a replaced entry leaves its successor in the table', (t) => {
    const old = entry(t);
    const table = new ServiceTable();
    table.set(old);
    const successor = new ServiceEntry(old.config, 'uuid-new', old.runDir, 'stopped');
    table.set(successor);
    table.remove(old);
    assert.equal(table.get('web'), successor);
  });

  it('a start due, waiting for prerequisites, unsupervised: each set and cleared by its transition', (t) => {
    const e = entry(t);
    e.markStartDue();
    assert.equal(e.startDue, true);
    e.startSent();
    assert.equal(e.startDue, false);
    e.waitFor(['db']);
    assert.deepEqual(e.waitingFor, ['db']);
    e.waitFor([]);
    assert.equal(e.waitingFor, null, 'waiting for nothing is not waiting');
    assert.equal(e.markSupervised(), false);
    e.markUnsupervised({ reason: 'r', since: new Date(0).toISOString(), attempts: 1 });
    assert.equal(e.markSupervised(), true);
    assert.equal(e.unsupervised, null);
    assert.equal(e.setDesired('stopped'), false, 'already so');
    assert.equal(e.setDesired('running'), true);
  });
});

describe('controller lifecycle', { timeout: 5_000 }, () => {
  const code = (f: () => void): string | undefined => {
    try {
      f();
      return undefined;
    } catch (err) {
      return (err as UpkError).code;
    }
  };

  it('serving → shutting down → stopping; a second shutdown is refused; stopping happens once', () => {
    const l = new Lifecycle();
    assert.deepEqual([l.phase, l.supervising, l.closingReason], ['serving', true, 'stop']);
    l.beginShutdown();
    assert.deepEqual([l.phase, l.supervising, l.closingReason], ['shutting-down', false, 'shutdown']);
    assert.equal(
      code(() => l.beginShutdown()),
      ErrorCode.SHUTTING_DOWN,
    );
    assert.equal(
      code(() => l.refuseDuringShutdown()),
      ErrorCode.SHUTTING_DOWN,
    );
    assert.equal(l.beginStop(), true);
    assert.equal(l.beginStop(), false);
    assert.deepEqual([l.phase, l.stopping, l.closingReason], ['stopping', true, 'shutdown']);
  });

  it('a stop alone: no shutdown, and none can begin once it stops', () => {
    const l = new Lifecycle();
    assert.equal(l.beginStop(), true);
    assert.deepEqual([l.supervising, l.closingReason], [false, 'stop']);
    assert.equal(
      code(() => l.refuseDuringShutdown()),
      undefined,
    );
    assert.ok(code(() => l.beginShutdown()) === ErrorCode.SHUTTING_DOWN);
  });
});
