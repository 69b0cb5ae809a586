// SetUID / SetGID: user and group names resolved from /etc/passwd and /etc/group, and the root check.
import fs from 'node:fs';

/** What the checks need to know about the running process; injectable for tests. */
export interface Host {
  /** uid and gid upkeeper runs as; null where the platform has none (no root check then). */
  uid: number | null;
  gid: number | null;
  passwdFile: string;
  groupFile: string;
}

export function currentHost(): Host {
  return {
    uid: typeof process.getuid === 'function' ? process.getuid() : null,
    gid: typeof process.getgid === 'function' ? process.getgid() : null,
    passwdFile: '/etc/passwd',
    groupFile: '/etc/group',
  };
}

export type AccountKind = 'user' | 'group';

/** Reads each account file at most once per load. */
export class Accounts {
  private readonly texts = new Map<AccountKind, { text: string } | { message: string }>();
  private readonly tables = new Map<AccountKind, Map<string, number>>();

  constructor(readonly host: Host) {}

  private file(kind: AccountKind): string {
    return kind === 'user' ? this.host.passwdFile : this.host.groupFile;
  }

  /** The text of the account file, or why it could not be read. */
  private read(kind: AccountKind): { text: string } | { message: string } {
    let read = this.texts.get(kind);
    if (read === undefined) {
      try {
        read = { text: fs.readFileSync(this.file(kind), 'utf8') };
      } catch (err) {
        read = {
          message: `cannot read ${this.file(kind)} to look up ${kind} names: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        };
      }
      this.texts.set(kind, read);
    }
    return read;
  }

  private table(kind: AccountKind): Map<string, number> | string {
    const read = this.read(kind);
    if ('message' in read) return read.message;
    let table = this.tables.get(kind);
    if (table === undefined) this.tables.set(kind, (table = parseAccountFile(read.text)));
    return table;
  }

  /** The primary gid of a uid, from the passwd file (`name:x:uid:gid:…`), or a message saying why there is none. */
  primaryGroup(uid: number): { id: number } | { message: string } {
    const read = this.read('user');
    if ('message' in read) return read;
    for (const line of read.text.split('\n')) {
      const [, , id, gid] = line.split(':');
      if (id === String(uid) && gid !== undefined && /^\d+$/.test(gid)) return { id: Number(gid) };
    }
    return { message: `uid ${uid} has no entry in ${this.host.passwdFile}, so its group is unknown: set SetGID as well` };
  }

  /** The numeric id of a user or group name, or a message saying why there is none. */
  lookup(kind: AccountKind, name: string): { id: number } | { message: string } {
    const table = this.table(kind);
    if (typeof table === 'string') return { message: table };
    const id = table.get(name);
    if (id !== undefined) return { id };
    return { message: `unknown ${kind} ${JSON.stringify(name)} (not in ${this.file(kind)})` };
  }

  /**
   * The id to run as, or null for "as upkeeper's own user/group". A different id needs root.
   * Returns a message when the id cannot be used.
   */
  effective(kind: AccountKind, id: number): { id: number | null } | { message: string } {
    const own = kind === 'user' ? this.host.uid : this.host.gid;
    if (own === null || id === own) return { id: own === null ? id : null };
    if (this.host.uid !== 0) {
      const runsAs = kind === 'user' ? `uid ${this.host.uid}` : `uid ${this.host.uid}, gid ${own}`;
      return { message: `${kind === 'user' ? 'uid' : 'gid'} ${id} needs root; upkeeper runs as ${runsAs}` };
    }
    return { id };
  }
}

/** name → id from passwd or group text (`name:x:id:...`); comment and malformed lines are skipped. */
export function parseAccountFile(text: string): Map<string, number> {
  const table = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [name, , id] = line.split(':');
    if (name === undefined || name === '' || id === undefined || !/^\d+$/.test(id)) continue;
    if (!table.has(name)) table.set(name, Number(id));
  }
  return table;
}
