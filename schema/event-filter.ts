// What a query or a subscription asks of an event besides its service and type: one definition, used
// in SQL by the controller's store and on live events by its publisher.
import { constants } from 'node:os';
import type { ServiceEvent } from './records.js';

export interface EventMatch {
  /** The event's pid (a service's process, a script's, or the buddy's). */
  pid?: number;
  /** Exit code (of an exited or action_finished event). */
  code?: number;
  /** Signal name (SIGKILL), of an exited or signal_sent event. */
  signal?: string;
  /** Text the event's detail contains (its JSON), ASCII letters in any case. */
  text?: string;
}

/** "kill", "KILL", "sigkill", "9" → "SIGKILL" (a number this system does not know stays as written). */
export function signalName(text: string): string {
  const upper = text.trim().toUpperCase();
  if (/^\d+$/.test(upper)) return Object.entries(constants.signals).find(([, n]) => n === Number(upper))?.[0] ?? upper;
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/** ASCII-only lower case, as SQLite's lower() does, so that SQL and live matching agree. */
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export function matchesEvent(m: EventMatch, e: ServiceEvent): boolean {
  if (m.pid !== undefined && e.pid !== m.pid) return false;
  if (m.code !== undefined && e.code !== m.code) return false;
  if (m.signal !== undefined && e.signal !== m.signal) return false;
  if (m.text !== undefined && !(e.detail !== null && asciiLower(JSON.stringify(e.detail)).includes(asciiLower(m.text)))) return false;
  return true;
}

/** The EventMatch fields of `o` that are set (and nothing else). */
export function pickMatch(o: EventMatch): EventMatch {
  const m: EventMatch = {};
  if (o.pid !== undefined) m.pid = o.pid;
  if (o.code !== undefined) m.code = o.code;
  if (o.signal !== undefined) m.signal = o.signal;
  if (o.text !== undefined) m.text = o.text;
  return m;
}
