// The timeline's pure part (upk timeline): three lists, each sorted by time, merged into one, cut at a
// limit (the last entry's position the cursor of the next page), and the result grouped into bursts:
// entries closer than a gap to the one before them.
import type { TimelineBurst, TimelineEntry, TimelinePosition } from './timeline-protocol.js';

/** What merging and bursts read of an entry: its time (ISO 8601) and service. A host's entries, or the fleet's. */
export interface EntryLike {
  time: string;
  service: string | null;
}

/** An entry with its time in ms (entries' times are ISO 8601 text). */
export interface Timed<E extends EntryLike = TimelineEntry> {
  ms: number;
  entry: E;
}

/**
 * The lists merged by time, oldest first, at most `limit` entries; `truncated` when entries were left
 * out. Each list must be sorted by time; at one time, the earlier list's entries come first.
 */
export function mergeByTime<E extends EntryLike>(lists: Timed<E>[][], limit: number): { merged: Timed<E>[]; truncated: boolean } {
  const at = lists.map(() => 0);
  const merged: Timed<E>[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const next = lists[i]![at[i]!];
      if (next !== undefined && (best < 0 || next.ms < lists[best]![at[best]!]!.ms)) best = i;
    }
    if (best < 0) return { merged, truncated: false };
    if (merged.length === limit) return { merged, truncated: true };
    merged.push(lists[best]![at[best]!]!);
    at[best]!++;
  }
}

/** An entry's place in the timeline's order (the cursor `next` names the last of a page by it). */
export function positionOf(t: Timed): TimelinePosition {
  const e = t.entry;
  const id = e.kind === 'event' ? e.event.id : e.kind === 'config' ? e.change.id : e.request.id;
  return { ms: t.ms, kind: e.kind, id };
}

/** The entries (oldest first) in bursts: a pause of `gapMs` or more between two entries begins a new burst. */
export function burstsOf(timed: Timed<EntryLike>[], gapMs: number): TimelineBurst[] {
  const bursts: TimelineBurst[] = [];
  let services = new Set<string>();
  let current: TimelineBurst | null = null;
  let lastMs = 0;
  timed.forEach((t, i) => {
    if (current === null || t.ms - lastMs >= gapMs) {
      if (current) current.services = [...services].sort();
      current = { from: t.entry.time, to: t.entry.time, first: i, count: 0, services: [] };
      services = new Set();
      bursts.push(current);
    }
    current.to = t.entry.time;
    current.count++;
    if (t.entry.service !== null) services.add(t.entry.service);
    lastMs = t.ms;
  });
  const last = bursts[bursts.length - 1];
  if (last) last.services = [...services].sort();
  return bursts;
}
