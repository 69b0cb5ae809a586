// The last bytes of a stream (a service's output, an action's), kept in one buffer of its own: a large
// chunk read is never held, only its end is copied.

export class TailBuffer {
  private kept = Buffer.alloc(0);

  constructor(private readonly max: number) {}

  add(chunk: Buffer): void {
    const size = Math.min(this.max, this.kept.length + chunk.length);
    const fromChunk = Math.min(chunk.length, size);
    const next = Buffer.allocUnsafe(size);
    this.kept.copy(next, 0, this.kept.length - (size - fromChunk));
    chunk.copy(next, size - fromChunk, chunk.length - fromChunk);
    this.kept = next;
  }

  /** The bytes kept: at most `max`, the newest last. */
  get bytes(): Buffer {
    return this.kept;
  }

  text(): string {
    return this.kept.toString('utf8');
  }
}
