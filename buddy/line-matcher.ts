// Lines of a stream matched against a regular expression (ReadyLine, HealthFailLine). Chunks may end
// mid-line; a line longer than LINE_MATCH_BYTES is matched on its first LINE_MATCH_BYTES only, so a
// service that writes without newlines costs a bounded buffer.

/** The most of one line that is matched (the rest of a longer line is skipped). */
export const LINE_MATCH_BYTES = 4096;
const NEWLINE = 10;

export class LineMatcher {
  /** The beginning of a line whose newline has not come yet (at most LINE_MATCH_BYTES). */
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(
    private readonly pattern: RegExp,
    private readonly maxBytes = LINE_MATCH_BYTES,
  ) {}

  /** Forget a line begun before (the service starts again). */
  reset(): void {
    this.partial = [];
    this.partialBytes = 0;
  }

  /** The lines ending in this chunk that match, in order (none: an empty list). */
  feed(chunk: Buffer): string[] {
    const found: string[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      this.keep(chunk.subarray(from, nl));
      const line = Buffer.concat(this.partial, this.partialBytes).toString('utf8');
      this.reset();
      from = nl + 1;
      const text = line.replace(/\r$/, '');
      if (this.pattern.test(text)) found.push(text);
    }
    this.keep(chunk.subarray(from));
    return found;
  }

  private keep(part: Buffer): void {
    const room = this.maxBytes - this.partialBytes;
    if (room <= 0 || part.length === 0) return;
    const kept = Buffer.from(part.subarray(0, room));
    this.partial.push(kept);
    this.partialBytes += kept.length;
  }
}
