// What the fleet tests share: JSON compared whatever the order of its keys, and the wait until
// PostgreSQL holds what a host's own database holds.
import type { ThrowawayPostgres } from './postgres.js';
import type { Sandbox } from './sandbox.js';

/** JSON with every object's keys sorted (PostgreSQL's jsonb keeps its own order of keys). */
export const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

type Counted = 'samples' | 'config_changes';

/** How many events, runs (ended, repaired) and rows of `more` a database holds (of one host, in PostgreSQL: `$1`). */
function countsSql(more: readonly Counted[], host: boolean): string {
  const of = (table: string): string => `FROM ${table}${host ? ' WHERE host = $1' : ''}`;
  const parts = [
    `(SELECT count(*) ${of('events')})`,
    `(SELECT count(*) ${of('runs')})`,
    `(SELECT count(ended) ${of('runs')})`,
    `(SELECT count(repaired) ${of('runs')})`,
    ...more.map((t) => `(SELECT count(*) ${of(t)})`),
  ];
  return `SELECT ${parts.join(" || '/' || ")} AS n`;
}

/** Until PostgreSQL holds as many events, runs (ended, repaired) and rows of `more` of `host` as the host's own database (and it holds some). */
export async function exported(box: Sandbox, pg: ThrowawayPostgres, host: string, more: readonly Counted[]): Promise<void> {
  const local = (): string => {
    const db = box.db();
    try {
      return (db.prepare(countsSql(more, false)).get() as { n: string }).n;
    } finally {
      db.close();
    }
  };
  await box.waitFor(
    `${host}'s events, runs and ${more.join(', ')} in PostgreSQL`,
    async () => !local().startsWith('0/') && (await pg.query<{ n: string }>(countsSql(more, true), [host]))[0]!.n === local(),
    60_000,
  );
}
