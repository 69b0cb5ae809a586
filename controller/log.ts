// The controller's log: one line per message on stderr (a file when started by `upk controller start`).
// Writing a line never throws and never loops: a line that cannot be written (a full disk, say) is
// counted and dropped; the failure is reported once, and so is its end, with the count of lines lost.
import { countingLines, writeStderr } from '../system/log-line.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Where log lines go; `onTrouble` hears of a failure to write them (null: they are written again). */
export interface LogSink {
  write(line: string): void;
  onTrouble?: (error: string | null) => void;
}

/** Writes to file descriptor 2 directly: no stream, so no asynchronous 'error' event to loop on. */
export function stderrSink(): LogSink {
  return { write: writeStderr };
}

export function createLogger(sink: LogSink = stderrSink()): Logger {
  const stamp = (level: string): string => `${new Date().toISOString()} controller[${process.pid}] ${level}:`;
  const write = countingLines(
    (text) => sink.write(text),
    (lost) => `${stamp('warn')} the log could be written again; ${lost} line(s) were lost\n`,
    (error) => sink.onTrouble?.(error),
  );
  const line = (level: string, message: string): void => write(`${stamp(level)} ${message}\n`);
  return {
    info: (m) => line('info', m),
    warn: (m) => line('warn', m),
    error: (m) => line('error', m),
  };
}
