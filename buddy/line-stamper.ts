// LogTimestamps: begins every line of a stream with the time its first byte arrived (ISO 8601 UTC) and a
// space, as s6-log `t`, svlogd and `pm2 --time` do. Chunks may end mid-line: a line is stamped once, when
// it begins.

const NEWLINE = 10;

export class LineStamper {
  /**
   * `atLineStart` false: the stream continues a line already begun (the file ends without a newline),
   * which already has its stamp.
   */
  constructor(
    private atLineStart = true,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The chunk with a stamp before each line that begins in it. One time for the whole chunk: it arrived at once. */
  stamp(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const last = chunk.length - 1;
    let starts = this.atLineStart ? 1 : 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0 && nl < last; nl = chunk.indexOf(NEWLINE, nl + 1)) starts++;
    let atStart = this.atLineStart;
    this.atLineStart = chunk[last] === NEWLINE;
    if (starts === 0) return chunk;
    const stamp = Buffer.from(`${this.now().toISOString()} `, 'latin1');
    const out = Buffer.allocUnsafe(chunk.length + starts * stamp.length);
    let at = 0;
    for (let from = 0; from < chunk.length;) {
      if (atStart) at += stamp.copy(out, at);
      const nl = chunk.indexOf(NEWLINE, from);
      const end = nl < 0 ? chunk.length : nl + 1;
      at += chunk.copy(out, at, from, end);
      from = end;
      atStart = true;
    }
    return out;
  }
}
