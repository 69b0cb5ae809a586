// What is wrong with the controller's own work while it lasts (the audit database or its log cannot
// be written, services without a buddy): for `upk controller status`, `upk list` and subscribers.
import type { ControllerProblem } from '../schema/client-protocol.js';
import type { Logger } from './log.js';
import type { ServiceEntry } from './service-entry.js';
import type { WriteFailure } from './write-health.js';

export class Problems {
  private readonly current = new Map<ControllerProblem['kind'], ControllerProblem>();
  /** Called after every change. */
  onChange: (problems: ControllerProblem[]) => void = () => undefined;

  /** Set (or update) a problem; `since` is kept from its first report. */
  set(kind: ControllerProblem['kind'], message: string, since = Date.now()): void {
    const before = this.current.get(kind);
    if (before?.message === message) return;
    this.current.set(kind, { kind, message, since: before?.since ?? new Date(since).toISOString() });
    this.onChange(this.list());
  }

  clear(kind: ControllerProblem['kind']): void {
    if (this.current.delete(kind)) this.onChange(this.list());
  }

  list(): ControllerProblem[] {
    return [...this.current.values()];
  }

  /** The audit database can no longer be written, or can be again: log it once, and show it. */
  database(failure: WriteFailure | null, lost: number, log: Logger): void {
    if (failure) {
      log.error(
        `cannot write the audit database: ${failure.error}; events wait in the buddies and are written when it can be (tried again every 0.5 s, doubling up to 10 s)`,
      );
      this.set('database', `cannot write the audit database: ${failure.error}; events wait in the buddies`, failure.since);
    } else {
      log.info(`the audit database can be written again${lost > 0 ? `; ${lost} bookkeeping write(s) kept meanwhile were lost` : ''}`);
      this.clear('database');
    }
  }

  /** The services without a buddy changed: show them (each failure is logged where it happens). */
  unsupervised(list: ServiceEntry[]): void {
    if (list.length === 0) return this.clear('unsupervised');
    const since = Math.min(...list.flatMap((e) => (e.unsupervised ? [Date.parse(e.unsupervised.since)] : [])));
    const names = list.map((e) => e.config.id);
    const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    this.set('unsupervised', `${names.length} service(s) without a buddy (none could be started): ${shown}`, since);
  }
}
