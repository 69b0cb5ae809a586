// The one error class of upkeeper: a stable code that survives the socket and comes back typed.

/** Every error code. Stable: clients switch on these strings; the CLI maps them to exit codes. */
export const ErrorCode = {
  CONTROLLER_NOT_RUNNING: 'CONTROLLER_NOT_RUNNING',
  CONTROLLER_RUNNING: 'CONTROLLER_RUNNING',
  NO_SUCH_SERVICE: 'NO_SUCH_SERVICE',
  AMBIGUOUS_SERVICE: 'AMBIGUOUS_SERVICE',
  NO_SUCH_ACTION: 'NO_SUCH_ACTION',
  ACTION_FAILED: 'ACTION_FAILED',
  NOT_RUNNING: 'NOT_RUNNING',
  BUDDY_UNREACHABLE: 'BUDDY_UNREACHABLE',
  BAD_REQUEST: 'BAD_REQUEST',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  CONFIG_INVALID: 'CONFIG_INVALID',
  TIMEOUT: 'TIMEOUT',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The connection closed after the request was sent and before its answer: it may have been carried out. */
  INTERRUPTED: 'INTERRUPTED',
  /** A bound was reached: an answer too large for one message, too many subscriptions or connections. */
  LIMIT_REACHED: 'LIMIT_REACHED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN = new Set<string>(Object.values(ErrorCode));

/** How an error travels on the wire (client and buddy protocols alike). */
export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class UpkError extends Error {
  override readonly name = 'UpkError';
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (this.details !== undefined) wire.details = this.details;
    return wire;
  }

  static fromWire(value: unknown): UpkError {
    if (value && typeof value === 'object') {
      const v = value as Partial<WireError>;
      const code = typeof v.code === 'string' && KNOWN.has(v.code) ? v.code : ErrorCode.INTERNAL;
      const message = typeof v.message === 'string' ? v.message : 'unknown error';
      return new UpkError(code, message, { details: v.details });
    }
    return new UpkError(ErrorCode.PROTOCOL_ERROR, 'malformed error on the wire');
  }
}

/** Any thrown value as an UpkError; unexpected errors become INTERNAL with the original as cause. */
export function toUpkError(err: unknown): UpkError {
  if (err instanceof UpkError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UpkError(ErrorCode.INTERNAL, message, { cause: err });
}
