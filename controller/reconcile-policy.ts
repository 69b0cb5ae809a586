// Reconciliation: what the controller does with a service once its buddy is attached, from what the
// buddy says it wants and what the database says (docs/controller.md, "Reconciliation", has the table).
// Pure: the caller finds out whether the database is behind, and carries the decision out.
import type { DesiredState } from '../schema/records.js';

export interface ReconcileInput {
  /** The buddy was already running (found, or a new buddy that adopted a running service). */
  found: boolean;
  /** The desired state the buddy holds. */
  buddyWants: DesiredState;
  /** The desired state the database holds. */
  desired: DesiredState;
  /**
   * The database is behind the buddy: a controller decided `buddyWants` and could not record it (the
   * buddy's record of it is newer), or the database cannot be written now. Only asked when they disagree.
   */
  databaseBehind: boolean;
  preferBuddyStateForStopped: boolean;
  preferBuddyStateForRunning: boolean;
}

export type Reconciliation =
  /** Record the buddy's desired state as the service's: the database was behind, or the configuration prefers the buddy. */
  | { kind: 'take-buddy-state'; why: 'database-behind' | 'preferred' }
  /** Start the service (the caller does, in dependency and priority order with the others). */
  | { kind: 'start' }
  /** Tell the buddy to stop the service it runs. */
  | { kind: 'stop' }
  | { kind: 'nothing' };

export function reconciliation(r: ReconcileInput): Reconciliation {
  if (r.found && r.buddyWants !== r.desired) {
    if (r.databaseBehind) return { kind: 'take-buddy-state', why: 'database-behind' };
    const trustBuddy = r.buddyWants === 'stopped' ? r.preferBuddyStateForStopped : r.preferBuddyStateForRunning;
    if (trustBuddy) return { kind: 'take-buddy-state', why: 'preferred' };
  }
  if (r.found && r.buddyWants === r.desired) return { kind: 'nothing' };
  if (r.desired === 'running') return { kind: 'start' };
  return r.found ? { kind: 'stop' } : { kind: 'nothing' };
}
