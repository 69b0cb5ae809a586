// One controller per StateDir: an exclusive SQLite lock (a kernel lock, released even on SIGKILL)
// plus controller.json, which tells a second controller and clients who holds it.
import Database from 'better-sqlite3';
import { chmodSync, readFileSync, unlinkSync } from 'node:fs';
import { writeWhole } from '../system/files.js';
import { join } from 'node:path';
import type { ControllerInfo } from '../schema/client-protocol.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { STATE_DIR } from '../schema/state-dir.js';

export class InstanceLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly stateDir: string,
  ) {}

  /** Take the lock or throw CONTROLLER_RUNNING naming the holder. */
  static acquire(stateDir: string): InstanceLock {
    const file = join(stateDir, STATE_DIR.lock);
    const db = new Database(file, { timeout: 0 });
    chmodSync(file, 0o600);
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      const holder = readInfo(stateDir);
      const who = holder ? `pid ${holder.pid}, socket ${holder.socket}, version ${holder.version}` : 'pid unknown';
      throw new UpkError(ErrorCode.CONTROLLER_RUNNING, `a controller is already running for ${stateDir} (${who})`, {
        details: holder,
      });
    }
    return new InstanceLock(db, stateDir);
  }

  /** Publish who holds the lock (written whole). */
  publish(info: ControllerInfo): void {
    writeWhole(join(this.stateDir, STATE_DIR.info), JSON.stringify(info, null, 2) + '\n', 0o600);
  }

  release(): void {
    try {
      unlinkSync(join(this.stateDir, STATE_DIR.info));
    } catch {
      /* not published */
    }
    this.db.close();
  }
}

export function readInfo(stateDir: string): ControllerInfo | null {
  try {
    return JSON.parse(readFileSync(join(stateDir, STATE_DIR.info), 'utf8')) as ControllerInfo;
  } catch {
    return null;
  }
}
