// What is wrong with the controller's own work while it lasts (the audit database or its log cannot
// be written, services without a buddy): for `upk controller status`, `upk list` and subscribers.
import type { ControllerProblem } from '../schema/client-protocol.js';

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
}
