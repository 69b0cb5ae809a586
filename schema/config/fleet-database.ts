// FleetDatabase: the PostgreSQL URL the controller exports its audit to (docs/fleet.md), checked
// without a driver: its scheme, and no password in it.

export const FLEET_DATABASE_DESCRIPTION =
  'a PostgreSQL URL without a password, like "postgresql://upkeeper@db.example.org/fleet?sslmode=verify-full", or null';

/** Why `text` cannot be a FleetDatabase, or null when it can. */
export function fleetDatabaseProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `not a URL: ${FLEET_DATABASE_DESCRIPTION}`;
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:')
    return `the scheme must be postgresql:// (got ${url.protocol}//): ${FLEET_DATABASE_DESCRIPTION}`;
  if (url.password !== '' || [...url.searchParams.keys()].some((k) => k.toLowerCase() === 'password'))
    return 'the URL holds a password: keep it out of the configuration, in PGPASSWORD or the password file (PGPASSFILE, ~/.pgpass)';
  return null;
}

/** The URL for the log and problems: without a password, should one be there. */
export function describeFleetDatabase(text: string): string {
  try {
    const url = new URL(text);
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}
