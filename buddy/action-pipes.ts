// The FIFOs action scripts write into (log/action.N.pipe): one slot per action running at once, made on first need.
//
// A script's stdout and stderr must be something it can open again by name (`echo x > /dev/stderr`
// reopens /proc/self/fd/2): a socketpair cannot be (ENXIO), a regular file would be truncated by
// dash; a FIFO can. Both streams share the slot's FIFO, so their order is kept.
import { closeSync, constants, fchownSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ACTION_PIPE_PATTERN, actionPipe } from '../schema/run-dir.js';
import { ensureFifo } from '../system/files.js';

/** Both ends of a slot's FIFO, open: the reader for the buddy, the writer to hand to the script. */
export interface OpenActionPipe {
  slot: number;
  readFd: number;
  writeFd: number;
}

/** Who runs the action: the FIFO is theirs, so that a script run as another user may open /dev/stdout. */
export interface PipeOwner {
  uid: number;
  gid: number;
}

export class ActionPipes {
  private readonly busy = new Set<number>();
  private swept = false;

  constructor(private readonly logDir: string) {}

  /**
   * The lowest free slot's FIFO, opened: the read end first (non-blocking, so the open does not
   * wait), then the write end (blocking mode for the script; the open returns at once, a reader
   * being there).
   */
  open(owner: PipeOwner): OpenActionPipe {
    if (!this.swept) this.sweep();
    let slot = 0;
    while (this.busy.has(slot)) slot += 1;
    const path = join(this.logDir, actionPipe(slot));
    ensureFifo(path);
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      // The directory stays the buddy's (0700); another user reaches the FIFO only through the
      // descriptor it inherits, which /proc/self/fd/N reopens with the FIFO's own permissions.
      fchownSync(readFd, owner.uid, owner.gid);
      const writeFd = openSync(path, constants.O_WRONLY);
      this.busy.add(slot);
      return { slot, readFd, writeFd };
    } catch (err) {
      closeSync(readFd);
      throw err;
    }
  }

  /**
   * Give the slot back. `held`: a writer (a background child of the script) still had the FIFO open
   * when the buddy stopped reading; the FIFO is removed, so that the next action gets a new one and
   * never that child's output.
   */
  release(slot: number, held: boolean): void {
    if (held) removeQuietly(join(this.logDir, actionPipe(slot)));
    this.busy.delete(slot);
  }

  /** FIFOs a previous buddy left: a background child of its actions may still hold one. */
  private sweep(): void {
    this.swept = true;
    let names: string[] = [];
    try {
      names = readdirSync(this.logDir);
    } catch {
      /* no log folder yet */
    }
    for (const name of names) if (ACTION_PIPE_PATTERN.test(name)) removeQuietly(join(this.logDir, name));
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
