// Applies the numbered SQL files of schema/fleet-migrations/ to the fleet's PostgreSQL database, in one
// transaction under an advisory lock, so that controllers starting at once apply each migration once.
// A database already migrated is only read (to_regclass, then the versions applied): an exporting role
// needs no privilege to create anything (docs/fleet.md#security).
import type pg from 'pg';
import { fileURLToPath } from 'node:url';
import { readMigrations, type Migration } from './migrations.js';

/** schema/fleet-migrations/ in the package (this file is dist/controller/fleet-migrations.js). */
export const FLEET_MIGRATIONS_DIR = fileURLToPath(new URL('../../schema/fleet-migrations/', import.meta.url));

/** The advisory lock's key: the migrations of every controller queue on it. */
const LOCK_KEY = "hashtext('upkeeper fleet migrations')";

/** Returns the versions applied now. Throws when the database's schema is newer than this build's. */
export async function migrateFleet(client: pg.Client, migrations: Migration[] = readMigrations(FLEET_MIGRATIONS_DIR)): Promise<number[]> {
  // First without a lock or any DDL: the usual case, every migration there already.
  const done = await appliedVersions(client);
  if (done !== null && missing(done, migrations).length === 0) return [];
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    // Another controller may have migrated while this one waited for the lock: look again under it.
    let now = await appliedVersions(client);
    if (now === null) {
      await client.query(`CREATE TABLE IF NOT EXISTS fleet_schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`);
      now = new Set();
    }
    const applied: number[] = [];
    for (const m of missing(now, migrations)) {
      await client.query(m.sql);
      await client.query('INSERT INTO fleet_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The versions fleet_schema_migrations lists, or null when there is no such table yet. */
async function appliedVersions(client: pg.Client): Promise<Set<number> | null> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('fleet_schema_migrations')::text AS t");
  if ((exists.rows[0]?.t ?? null) === null) return null;
  const rows = (await client.query<{ version: number }>('SELECT version FROM fleet_schema_migrations')).rows;
  return new Set(rows.map((r) => r.version));
}

/** The migrations not applied yet, in order. Throws when the database's schema is newer than this build's. */
function missing(done: ReadonlySet<number>, migrations: readonly Migration[]): Migration[] {
  const newest = Math.max(0, ...done);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (newest > known)
    throw new Error(`the fleet database has schema version ${newest}, newer than this build knows (${known}); use a newer upkeeper`);
  return migrations.filter((m) => !done.has(m.version));
}
