// Errors as HTTP answers: each upkeeper error code with its HTTP status, and the few codes only HTTP has.
import { ErrorCode, UpkError, type OutcomeItem } from '../../libclient/index.js';

/** Codes of errors that only the HTTP face has (the others are ErrorCode's). */
export const HttpErrorCode = {
  /** No bearer token, or not the right one. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A change asked from another site's page (an Origin that is not this server's). */
  FORBIDDEN: 'FORBIDDEN',
  /** No such route. */
  NOT_FOUND: 'NOT_FOUND',
  /** The route exists, not with this method (a change asked with GET, say). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** A request body larger than the handler reads (HTTP_BODY_MAX_BYTES). */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A request whose headers did not all arrive in time, or not the whole of it (`upk serve`: 10 s, 30 s). */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** A request line and headers larger than Node's parser takes (16 KiB unless `--max-http-header-size` says otherwise). */
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/** The HTTP status of each code. */
export const HTTP_STATUS: Record<ErrorCode | HttpErrorCode, number> = {
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.PROTOCOL_ERROR]: 400,
  [HttpErrorCode.UNAUTHORIZED]: 401,
  [HttpErrorCode.FORBIDDEN]: 403,
  [HttpErrorCode.NOT_FOUND]: 404,
  [ErrorCode.NO_SUCH_SERVICE]: 404,
  [ErrorCode.NO_SUCH_ACTION]: 404,
  [HttpErrorCode.METHOD_NOT_ALLOWED]: 405,
  [HttpErrorCode.REQUEST_TIMEOUT]: 408,
  [HttpErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.AMBIGUOUS_SERVICE]: 409,
  [ErrorCode.NOT_RUNNING]: 409,
  [ErrorCode.CONTROLLER_RUNNING]: 409,
  [ErrorCode.CONFIG_INVALID]: 422,
  [HttpErrorCode.HEADERS_TOO_LARGE]: 431,
  [ErrorCode.LIMIT_REACHED]: 429,
  [ErrorCode.ACTION_FAILED]: 500,
  [ErrorCode.INTERNAL]: 500,
  [ErrorCode.INTERRUPTED]: 502,
  [ErrorCode.CONTROLLER_NOT_RUNNING]: 503,
  [ErrorCode.BUDDY_UNREACHABLE]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.TIMEOUT]: 504,
};

/** An error as an answer carries it: upkeeper's wire form of errors, with the codes only HTTP has. */
export interface HttpWireError {
  /** Stable: clients switch on it (ErrorCode's codes, and HttpErrorCode's). */
  code: ErrorCode | HttpErrorCode;
  message: string;
  /** More about it, when there is more (a configuration's issues, say). */
  details?: unknown;
}

/** Every error answer: `{"error": {code, message, details?}}`, its status the code's (HTTP_STATUS). */
export interface ErrorAnswer {
  error: HttpWireError;
  /** A change of one service that did not go as asked: its outcome beside the error. */
  outcome?: OutcomeItem;
}

/** An error the HTTP face answers itself (a bad route, a missing token). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly code: HttpErrorCode | ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The status, body and headers of the answer for an error. */
export function errorAnswer(err: unknown): { status: number; body: ErrorAnswer; headers: Record<string, string> } {
  if (err instanceof HttpError)
    return { status: HTTP_STATUS[err.code], body: { error: { code: err.code, message: err.message } }, headers: err.headers };
  const wire = (err instanceof UpkError ? err : new UpkError(ErrorCode.INTERNAL, (err as Error)?.message ?? String(err))).toWire();
  return { status: HTTP_STATUS[wire.code] ?? 500, body: { error: wire }, headers: {} };
}
