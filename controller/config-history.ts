// A service's configuration history (upk config-history): the rows of config_changes, each with its
// keys' values before and after, from the configuration it applied and the one recorded before it.
// Rows from before 007_config_history.sql have words only (no configuration, no keys): they say so.
import type Database from 'better-sqlite3';
import type { ConfigHistoryRecord } from '../schema/audit-protocol.js';
import { isoTime } from '../schema/records.js';
import { valuesChanged, valuesOf } from '../schema/config-diff.js';
import { inList } from './event-queries.js';

interface ChangeRow {
  id: number;
  time: number;
  service_uuid: string | null;
  service: string;
  change: ConfigHistoryRecord['change'];
  trigger: string;
  detail: string | null;
  config: string | null;
  keys: string | null;
}

/** Where the values before a change come from: a configuration, or nothing known. */
type Before = { config: Record<string, unknown> } | null;

/**
 * The change before another of the same service that tells its configuration: a row with one, or an
 * older row without (words only: nothing known). A removal recorded since has none, and is passed over.
 */
function beforeStatement(db: Database.Database) {
  return db.prepare<[uuid: string, time: number, time: number, id: number], Pick<ChangeRow, 'config' | 'keys'>>(
    `SELECT config, keys FROM config_changes WHERE service_uuid = ? AND (time < ? OR (time = ? AND id < ?))
       AND NOT (keys IS NOT NULL AND config IS NULL) ORDER BY time DESC, id DESC LIMIT 1`,
  );
}

export class ConfigHistory {
  private readonly beforeRow: ReturnType<typeof beforeStatement>;

  constructor(private readonly db: Database.Database) {
    this.beforeRow = beforeStatement(db);
  }

  /** The newest `limit` changes of these uuids since `since` (ms), oldest first, each with its values before and after. */
  query(uuids: string[], since: number | null, limit: number): ConfigHistoryRecord[] {
    const rows = this.db
      .prepare<(string | number)[], ChangeRow>(
        `SELECT * FROM (SELECT id, time, service_uuid, service, change, trigger, detail, config, keys FROM config_changes
           WHERE service_uuid IN ${inList(uuids)} AND time >= ? ORDER BY time DESC, id DESC LIMIT ?) ORDER BY time, id`,
      )
      .all(...uuids, since ?? 0, limit);
    return rows.map((r) => this.record(r));
  }

  private record(r: ChangeRow): ConfigHistoryRecord {
    const keys = configKeys(r.keys);
    const after = parseJson<Record<string, unknown>>(r.config);
    const rec: ConfigHistoryRecord = {
      id: r.id,
      time: isoTime(r.time),
      service: r.service,
      uuid: r.service_uuid,
      change: r.change,
      trigger: r.trigger,
      detail: r.detail,
      keys,
      values: [],
      beforeRecorded: false,
    };
    if (r.change !== 'changed' || after === null || keys === null || r.service_uuid === null) return rec;
    const before = this.before(r);
    rec.beforeRecorded = before !== null;
    rec.values = before ? valuesChanged(before.config, after) : valuesOf(keys, after);
    return rec;
  }

  private before(r: ChangeRow): Before {
    const row = this.beforeRow.get(r.service_uuid!, r.time, r.time, r.id);
    const config = parseJson<Record<string, unknown>>(row?.config ?? null);
    return config === null ? null : { config };
  }
}

/** `config_changes.keys`: the keys a change changed; null for a row from before 007 (or one that is no list). */
export function configKeys(text: string | null): string[] | null {
  const keys = parseJson<unknown>(text);
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : null;
}

function parseJson<T>(text: string | null): T | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
