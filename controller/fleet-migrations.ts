// Applies the numbered SQL files of schema/fleet-migrations/ to the fleet's PostgreSQL database, in one
// transaction under an advisory lock, so that controllers starting at once apply each migration once.
import type pg from 'pg';
import { fileURLToPath } from 'node:url';
import { readMigrations, type Migration } from './migrations.js';

/** schema/fleet-migrations/ in the package (this file is dist/controller/fleet-migrations.js). */
export const FLEET_MIGRATIONS_DIR = fileURLToPath(new URL('../../schema/fleet-migrations/', import.meta.url));

/** The advisory lock's key: the migrations of every controller queue on it. */
const LOCK_KEY = "hashtext('upkeeper fleet migrations')";

/** Returns the versions applied now. Throws when the database's schema is newer than this build's. */
export async function migrateFleet(client: pg.Client, migrations: Migration[] = readMigrations(FLEET_MIGRATIONS_DIR)): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    await client.query(`CREATE TABLE IF NOT EXISTS fleet_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM fleet_schema_migrations')).rows.map((r) => r.version),
    );
    const newest = Math.max(0, ...done);
    const known = Math.max(0, ...migrations.map((m) => m.version));
    if (newest > known)
      throw new Error(`the fleet database has schema version ${newest}, newer than this build knows (${known}); use a newer upkeeper`);
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
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
