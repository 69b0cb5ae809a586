// One upk command at a time changes the service files (upk add, upk scale, upk remove --delete-file):
// each holds StateDir/upk-edit.lock, created exclusively and holding its pid, from reading the files to
// the end of the reload. Another waits for it (up to LOCK_WAIT_MS); a lock whose pid is dead is taken over.
import { closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ErrorCode, STATE_DIR, UpkError } from '../../libclient/index.js';
import { fileError } from './file-error.js';

/** How long a command waits for another's edit to end. */
export const LOCK_WAIT_MS = 10_000;
const POLL_MS = 50;
/** A takeover guard older than this was left by a command that died taking over. */
const GUARD_STALE_MS = 5_000;

/** Run `edit` holding the lock of `stateDir`; release it after, whatever happens. */
export async function withEditLock<T>(stateDir: string, edit: () => Promise<T>): Promise<T> {
  const lock = join(stateDir, STATE_DIR.editLock);
  await acquire(lock);
  try {
    return await edit();
  } finally {
    release(lock);
  }
}

async function acquire(lock: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const holder = tryCreate(lock);
    if (holder === null) return;
    // A holder that is dead, or a lock without a pid in it (written by something else) older than
    // the wait: taken over.
    const stale = holder !== undefined ? !alive(holder) : staleInode(lock, LOCK_WAIT_MS);
    if (stale !== false) {
      takeOver(lock, holder, typeof stale === 'number' ? stale : undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder === undefined ? 'another upk command' : `another upk command (pid ${holder})`;
      throw new UpkError(
        ErrorCode.TIMEOUT,
        `${who} is changing the service files: waited ${LOCK_WAIT_MS / 1000} s for ${lock}; try again (delete that file if no upk command runs)`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Make the lock ours: null when done; else the pid of its holder (undefined when unreadable). The pid
 * is written to a file of our own first, then linked as the lock, so that the lock is never seen empty.
 */
function tryCreate(lock: string): number | undefined | null {
  const mine = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    const fd = openSync(mine, 'wx', 0o600);
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    unlinkQuietly(mine);
    throw lockError(lock, err);
  }
  try {
    linkSync(mine, lock);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(lock, err);
    return holderOf(lock);
  } finally {
    unlinkSync(mine);
  }
}

function holderOf(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // just released
  }
}

/** Delete a lock whose holder is dead, one command at a time (a guard file), once it is sure the lock is still that one's. */
function takeOver(lock: string, dead: number | undefined, inode?: number): void {
  const guard = `${lock}.takeover`;
  try {
    closeSync(openSync(guard, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(lock, err);
    const since = statSync(guard, { throwIfNoEntry: false })?.mtimeMs;
    if (since !== undefined && Date.now() - since > GUARD_STALE_MS) unlinkQuietly(guard);
    return;
  }
  try {
    // Still the lock judged: the same holder, and for one without a pid the same file (not a new lock).
    const same = dead !== undefined ? holderOf(lock) === dead : statSync(lock, { throwIfNoEntry: false })?.ino === inode;
    if (same) unlinkQuietly(lock);
  } finally {
    unlinkQuietly(guard);
  }
}

/** The inode of a lock file older than `ms` (false when it is younger, or gone). */
function staleInode(file: string, ms: number): number | false {
  const st = statSync(file, { throwIfNoEntry: false });
  return st !== undefined && Date.now() - st.mtimeMs > ms ? st.ino : false;
}

function release(lock: string): void {
  if (holderOf(lock) === process.pid) unlinkQuietly(lock);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone already */
  }
}

const lockError = (lock: string, err: unknown): UpkError => fileError('cannot take the lock', lock, err);
