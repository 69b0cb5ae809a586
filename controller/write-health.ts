// When the audit database cannot be written (a full disk, an I/O error, a read-only file system):
// the failure, told once and again when its error changes or it ends; and the bookkeeping writes
// (desired states, buddy rows, client requests) kept in memory meanwhile, written when it can be.
// A write that fails for another reason (a bug, a constraint) is not a full disk: it is dropped and
// told, and holds up nothing.

/** Set while the database cannot be written: since when, and the last error. */
export interface WriteFailure {
  since: number;
  error: string;
}

/** Bookkeeping writes kept in memory while the database cannot be written, at most. */
export const DEFERRED_MAX = 10_000;

/** True when a failed write means the database cannot be written now, rather than a bad write. */
export function isStorageError(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  return /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED)/.test(code) || /^E(NOSPC|IO|ROFS|DQUOT)$/.test(code);
}

export class WriteHealth {
  /** Null while writes succeed. */
  failure: WriteFailure | null = null;
  /** Hears when writes begin to fail (with the failure, again when its error changes) and when they work again (null, with the writes lost meanwhile). */
  onChange: (failure: WriteFailure | null, lost: number) => void = () => undefined;
  /** Hears of a write dropped because it failed for another reason than an unwritable database. */
  onDropped: (err: unknown) => void = () => undefined;
  private deferred: (() => void)[] = [];
  private lost = 0;

  /** Writes kept and not yet written, and those shed past DEFERRED_MAX. */
  get unwritten(): number {
    return this.deferred.length + this.lost;
  }

  /**
   * A bookkeeping write: now, or (while writes fail) when the database can be written again. The
   * oldest kept one is shed past DEFERRED_MAX; `onShed` hears of it.
   */
  keep(write: () => void, onShed: () => void = () => undefined): void {
    if (this.failure === null) {
      try {
        write();
        return;
      } catch (err) {
        if (!isStorageError(err)) return this.onDropped(err);
        this.failed(err);
      }
    }
    if (this.deferred.length >= DEFERRED_MAX) {
      this.deferred.shift();
      this.lost += 1;
      onShed();
    }
    this.deferred.push(write);
  }

  /** A write succeeded: if writes had failed, catch up on what was kept meanwhile. */
  succeeded(): void {
    if (this.failure === null) return;
    const failure = this.failure;
    this.failure = null;
    while (this.deferred.length > 0) {
      try {
        this.deferred[0]!();
      } catch (err) {
        if (isStorageError(err)) {
          this.failure = failure;
          this.failed(err);
          return;
        }
        this.onDropped(err);
      }
      this.deferred.shift();
    }
    this.onChange(null, this.lost);
    this.lost = 0;
  }

  /** A write failed because the database cannot be written (say so once per error). */
  failed(err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    if (this.failure?.error === error) return;
    this.failure = { since: this.failure?.since ?? Date.now(), error };
    this.onChange(this.failure, this.lost);
  }
}
