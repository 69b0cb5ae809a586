// The fleet database's password, as libpq finds it: PGPASSWORD, else the password file (PGPASSFILE,
// default ~/.pgpass: lines host:port:database:user:password, `*` matching anything, `\` escaping).
import { readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface PasswordFor {
  host: string;
  port: string;
  database: string;
  user: string;
}

/**
 * What the password file is searched for: the URL's parts, else what libpq takes when they are
 * missing (PGHOST, PGPORT, PGUSER, PGDATABASE; then localhost, 5432, the user's own name, the user).
 */
export function passwordFor(
  url: {
    host?: string | null | undefined;
    port?: string | number | null | undefined;
    database?: string | null | undefined;
    user?: string | null | undefined;
  },
  env: NodeJS.ProcessEnv = process.env,
): PasswordFor {
  const user = url.user || env['PGUSER'] || env['USER'] || env['LOGNAME'] || userInfo().username;
  return {
    host: url.host || env['PGHOST'] || 'localhost',
    port: String(url.port || env['PGPORT'] || 5432),
    database: url.database || env['PGDATABASE'] || user,
    user,
  };
}

/** The password for a connection, or null when neither the environment nor the file has one. */
export function fleetPassword(to: PasswordFor, env: NodeJS.ProcessEnv = process.env): string | null {
  const given = env['PGPASSWORD'];
  if (given !== undefined && given !== '') return given;
  const file = env['PGPASSFILE'] ?? join(env['HOME'] ?? homedir(), '.pgpass');
  let text: string;
  try {
    // libpq ignores a file that group or others may read; so do we.
    if ((statSync(file).mode & 0o077) !== 0) return null;
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  // libpq matches a socket host as "localhost".
  const host = to.host.startsWith('/') ? 'localhost' : to.host;
  const wanted = [host, to.port, to.database, to.user];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    if (wanted.every((w, i) => fields[i] === '*' || fields[i] === w)) return fields.slice(4).join(':');
  }
  return null;
}

/** A password-file line's fields: `:` separates, `\:` and `\\` are the characters themselves. */
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) field += line[++i];
    else if (c === ':' && fields.length < 4) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}
