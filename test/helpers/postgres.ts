// A throwaway PostgreSQL cluster for one test: Debian's server binaries, run as an unprivileged user
// (postgres refuses root), listening on a Unix socket in a temporary folder only; removed after.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The newest /usr/lib/postgresql/N/bin that has initdb, or null. */
export function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(base, versions[0], 'bin');
}

/** The account the cluster runs as: ourselves unless root; then postgres, else nobody. */
function account(): { name: string; uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    try {
      const ids = `${execFileSync('id', ['-u', name]).toString().trim()} ${execFileSync('id', ['-g', name]).toString().trim()}`.split(' ');
      return { name, uid: Number(ids[0]), gid: Number(ids[1]) };
    } catch {
      // no such account
    }
  }
  throw new Error('running as root, and neither the account postgres nor nobody exists to run PostgreSQL');
}

export class ThrowawayPostgres {
  readonly dir: string;
  readonly password = 'fleet-test-password';
  readonly user = 'upkeeper';
  readonly database = 'fleet';
  private readonly runAs = account();

  private constructor(private readonly bin: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'upk-pg-'));
    if (this.runAs) chownSync(this.dir, this.runAs.uid, this.runAs.gid);
  }

  /** initdb (password authentication), start, and create the database. */
  static async create(bin: string): Promise<ThrowawayPostgres> {
    const db = new ThrowawayPostgres(bin);
    try {
      const pwfile = join(db.dir, 'pw');
      writeFileSync(pwfile, `${db.password}\n`);
      if (db.runAs) chownSync(pwfile, db.runAs.uid, db.runAs.gid);
      db.run('initdb', ['-D', db.data, '-U', db.user, '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8']);
      rmSync(pwfile);
      db.start();
      const admin = await db.connect('postgres');
      await admin.query(`CREATE DATABASE ${db.database}`);
      await admin.end();
      return db;
    } catch (err) {
      db.remove();
      throw err;
    }
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  /** The FleetDatabase URL: the socket folder as host, no password. */
  get url(): string {
    return `postgresql://${this.user}@localhost/${this.database}?host=${encodeURIComponent(this.dir)}`;
  }

  start(): void {
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-k ${this.dir} -c listen_addresses='' -c fsync=off -c full_page_writes=off`,
      'start',
    ]);
  }

  /** Stop it: `immediate` is a crash (no checkpoint, connections cut). */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.run('pg_ctl', ['-D', this.data, '-w', '-t', '60', '-m', mode, 'stop']);
  }

  async connect(database = this.database): Promise<pg.Client> {
    const c = new pg.Client({ host: this.dir, user: this.user, database, password: this.password });
    await c.connect();
    return c;
  }

  /** A query on a fresh connection. */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    const c = await this.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end();
    }
  }

  /** Stop it if it runs, and remove every file. */
  remove(): void {
    if (existsSync(join(this.data, 'postmaster.pid'))) {
      try {
        this.stop('immediate');
      } catch {
        // already stopped
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(program: string, args: string[]): void {
    const path = join(this.bin, program);
    const [cmd, argv] = this.runAs ? ['runuser', ['-u', this.runAs.name, '--', path, ...args]] : [path, args];
    execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], cwd: this.dir, timeout: 90_000 });
  }
}
