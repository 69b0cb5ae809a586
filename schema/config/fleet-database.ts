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

/** The longest FleetHost, in characters (code points). */
export const FLEET_HOST_MAX = 255;

export const FLEET_HOST_DESCRIPTION = `a host name for the fleet: a non-empty string of at most ${FLEET_HOST_MAX} characters, without control characters (U+0000–U+001F, U+007F–U+009F) or lone surrogates, or null (the machine's host name)`;

/**
 * Why `text` cannot be a FleetHost, or null when it can. It is part of the key of every row the host
 * exports, and PostgreSQL's text refuses a NUL character (and a lone surrogate cannot be encoded in
 * UTF-8): such a host could never export a row. Control characters would garble every listing.
 */
export function fleetHostProblem(text: string): string | null {
  const got = `got ${escapedText(text)}`;
  if (text === '') return `expected ${FLEET_HOST_DESCRIPTION}; got an empty string`;
  const length = [...text].length;
  if (length > FLEET_HOST_MAX) return `expected ${FLEET_HOST_DESCRIPTION}; got ${length} characters: ${escapedText(text)}`;
  const bad = /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(text);
  if (bad === null) return null;
  const code = bad[0].charCodeAt(0);
  const what = code >= 0xd800 ? 'a lone surrogate' : 'a control character';
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  return `expected ${FLEET_HOST_DESCRIPTION}; ${got}, which holds ${what} (U+${hex} at index ${bad.index})`;
}

/** A string in double quotes with every control character and lone surrogate escaped (\u0000), cut at 60 characters. */
export function escapedText(text: string): string {
  const cut = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  return JSON.stringify(cut).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
