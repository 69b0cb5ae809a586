// Reconciliation's decision (controller/reconcile-policy.ts): the table of docs/controller.md
// ("Reconciliation of a buddy found running"), case by case. integration/reconcile runs it for real.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reconciliation, type ReconcileInput } from '../../controller/reconcile-policy.js';

const base: ReconcileInput = {
  found: true,
  buddyWants: 'running',
  desired: 'running',
  databaseBehind: false,
  preferBuddyStateForStopped: false,
  preferBuddyStateForRunning: false,
};
const decide = (over: Partial<ReconcileInput>) => reconciliation({ ...base, ...over });

describe('reconciliation policy', { timeout: 5_000 }, () => {
  it('a buddy found agreeing with the database: nothing to do, whatever the state', () => {
    assert.deepEqual(decide({}), { kind: 'nothing' });
    assert.deepEqual(decide({ buddyWants: 'stopped', desired: 'stopped' }), { kind: 'nothing' });
  });

  it('the four cases of a buddy found of another mind', () => {
    // Database running, buddy stopped: started, unless PreferBuddyStateForStopped.
    assert.deepEqual(decide({ buddyWants: 'stopped' }), { kind: 'start' });
    assert.deepEqual(decide({ buddyWants: 'stopped', preferBuddyStateForStopped: true }), { kind: 'take-buddy-state', why: 'preferred' });
    assert.deepEqual(
      decide({ buddyWants: 'stopped', preferBuddyStateForRunning: true }),
      { kind: 'start' },
      'the other key does not count',
    );
    // Database stopped, buddy running: stopped, unless PreferBuddyStateForRunning.
    assert.deepEqual(decide({ desired: 'stopped' }), { kind: 'stop' });
    assert.deepEqual(decide({ desired: 'stopped', preferBuddyStateForRunning: true }), { kind: 'take-buddy-state', why: 'preferred' });
    assert.deepEqual(decide({ desired: 'stopped', preferBuddyStateForStopped: true }), { kind: 'stop' });
  });

  it('a database behind the buddy is corrected from it, whatever the Prefer keys say', () => {
    assert.deepEqual(decide({ buddyWants: 'stopped', databaseBehind: true }), { kind: 'take-buddy-state', why: 'database-behind' });
    assert.deepEqual(decide({ desired: 'stopped', databaseBehind: true }), { kind: 'take-buddy-state', why: 'database-behind' });
  });

  it('a new buddy (nothing found running): started when wanted running, else left alone', () => {
    assert.deepEqual(decide({ found: false, buddyWants: 'stopped' }), { kind: 'start' });
    assert.deepEqual(decide({ found: false, buddyWants: 'stopped', desired: 'stopped' }), { kind: 'nothing' });
    // What a new buddy holds never counts (it has nothing of its own to be right about).
    assert.deepEqual(decide({ found: false, buddyWants: 'running', desired: 'stopped', preferBuddyStateForRunning: true }), {
      kind: 'nothing',
    });
  });
});
