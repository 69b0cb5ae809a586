// What uptop shows, without the screen: the services as the subscription tells them, the filter,
// the sort, the selection, the controller's state and the status line. Pure, so it is tested alone.
import type { ControllerInfo, ControllerProblem, ServiceStatus } from '../../libclient/index.js';
import { inDesiredState } from '../shared/format.js';

export const SORT_KEYS = ['name', 'state', 'pid', 'uptime', 'restarts', 'exit', 'cpu', 'mem'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** The order of states when sorting by state: trouble first. */
const STATE_ORDER = ['failed', 'backoff', 'unknown', 'stopping', 'starting', 'waiting', 'running', 'scheduled', 'stopped'];

export type ControllerState = { state: 'connecting' } | { state: 'up'; info: ControllerInfo } | { state: 'gone'; since: number };

export interface StatusLine {
  text: string;
  level: 'info' | 'ok' | 'error';
  at: number;
}

export interface Totals {
  total: number;
  running: number;
  stopped: number;
  failed: number;
  /** Starting, stopping, backoff, waiting, unknown. */
  other: number;
  /** Not in the state they are wanted in. */
  off: number;
}

export class Model {
  /** By uuid: a service's id can pass to a new identity. */
  readonly services = new Map<string, ServiceStatus>();
  filter = '';
  sort: { key: SortKey; descending: boolean } = { key: 'name', descending: false };
  /** The uuid of the selected service, kept across re-sorting and filtering. */
  selected: string | null = null;
  controller: ControllerState = { state: 'connecting' };
  /** What is wrong with the controller now (a full disk, services without a buddy). */
  problems: ControllerProblem[] = [];
  status: StatusLine | null = null;

  update(status: ServiceStatus): void {
    this.services.set(status.uuid, status);
  }

  remove(uuid: string): void {
    this.services.delete(uuid);
  }

  /** The services shown: those whose name contains the filter (any letter case), in the sort order. */
  visible(now = Date.now()): ServiceStatus[] {
    const f = this.filter.toLowerCase();
    const list = [...this.services.values()].filter((s) => f === '' || s.name.toLowerCase().includes(f));
    const key = this.sort.key;
    const sign = this.sort.descending ? -1 : 1;
    return list.sort((a, b) => sign * compare(key, a, b, now) || a.name.localeCompare(b.name));
  }

  /** Index of the selected service among the visible ones; the first when the selection is not visible. */
  selectedIndex(rows: ServiceStatus[]): number {
    const i = rows.findIndex((s) => s.uuid === this.selected);
    return i >= 0 ? i : 0;
  }

  selectedService(rows: ServiceStatus[]): ServiceStatus | null {
    return rows[this.selectedIndex(rows)] ?? null;
  }

  /** Move the selection by `delta` rows (clamped), or to an end with ±Infinity. */
  move(rows: ServiceStatus[], delta: number): void {
    if (rows.length === 0) return;
    const i = Math.max(0, Math.min(rows.length - 1, this.selectedIndex(rows) + delta));
    this.selected = rows[i]!.uuid;
  }

  /** Sort by the next (or previous) column; the same column again turns the order round. */
  sortBy(key: SortKey): void {
    this.sort = this.sort.key === key ? { key, descending: !this.sort.descending } : { key, descending: defaultDescending(key) };
  }

  shiftSort(step: 1 | -1): void {
    const i = SORT_KEYS.indexOf(this.sort.key);
    const key = SORT_KEYS[(i + step + SORT_KEYS.length) % SORT_KEYS.length]!;
    this.sort = { key, descending: defaultDescending(key) };
  }

  totals(): Totals {
    const t: Totals = { total: 0, running: 0, stopped: 0, failed: 0, other: 0, off: 0 };
    for (const s of this.services.values()) {
      t.total += 1;
      if (s.state === 'running') t.running += 1;
      else if (s.state === 'stopped') t.stopped += 1;
      else if (s.state === 'failed') t.failed += 1;
      else t.other += 1;
      if (!inDesiredState(s)) t.off += 1;
    }
    return t;
  }

  say(text: string, level: StatusLine['level'] = 'info', now = Date.now()): void {
    this.status = { text, level, at: now };
  }
}

/** Numbers read best largest first; names and states in their natural order. */
function defaultDescending(key: SortKey): boolean {
  return key === 'uptime' || key === 'restarts' || key === 'exit' || key === 'cpu' || key === 'mem';
}

function compare(key: SortKey, a: ServiceStatus, b: ServiceStatus, now: number): number {
  const num = (x: number | null | undefined, y: number | null | undefined): number => (x ?? -1) - (y ?? -1);
  switch (key) {
    case 'name':
      return a.name.localeCompare(b.name);
    case 'state':
      return STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state);
    case 'pid':
      return num(a.pid, b.pid);
    case 'uptime':
      return num(a.started ? now - Date.parse(a.started) : null, b.started ? now - Date.parse(b.started) : null);
    case 'restarts':
      return a.restarts - b.restarts;
    case 'exit':
      return num(a.lastExit ? Date.parse(a.lastExit.at) : null, b.lastExit ? Date.parse(b.lastExit.at) : null);
    case 'cpu':
      return num(a.usage?.cpu, b.usage?.cpu);
    case 'mem':
      return num(a.usage?.rss, b.usage?.rss);
  }
}
