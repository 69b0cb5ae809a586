// ReadyLine: finds the first line of a stream that matches the service's regular expression. Chunks
// may end mid-line; a line longer than READY_LINE_BYTES is matched on its first READY_LINE_BYTES only,
// so a service that writes without newlines costs a bounded buffer.

/** The most of one line that is matched (the rest of a longer line is skipped). */
export const READY_LINE_BYTES = 4096;
const NEWLINE = 10;

export class ReadyLine {
  /** The beginning of a line whose newline has not come yet (at most READY_LINE_BYTES). */
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(
    private readonly pattern: RegExp,
    private readonly maxBytes = READY_LINE_BYTES,
  ) {}

  /** Forget a line begun before (the service starts again). */
  reset(): void {
    this.partial = [];
    this.partialBytes = 0;
  }

  /** True when a line ending in this chunk matches. */
  feed(chunk: Buffer): boolean {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      this.keep(chunk.subarray(from, nl));
      const line = Buffer.concat(this.partial, this.partialBytes).toString('utf8');
      this.reset();
      from = nl + 1;
      if (this.pattern.test(line.replace(/\r$/, ''))) return true;
    }
    this.keep(chunk.subarray(from));
    return false;
  }

  private keep(part: Buffer): void {
    const room = this.maxBytes - this.partialBytes;
    if (room <= 0 || part.length === 0) return;
    const kept = Buffer.from(part.subarray(0, room));
    this.partial.push(kept);
    this.partialBytes += kept.length;
  }
}
