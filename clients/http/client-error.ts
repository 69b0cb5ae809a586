// What `upk serve` answers a request Node's parser refuses (headers too large, malformed, too slow),
// and how it closes that connection: a lingering close, as nginx and Apache do. Closing at once, as
// Node does by default, while the peer is still sending leaves its bytes unread here: the kernel then
// resets the connection, and the peer may lose the answer before it reads it.
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../../libclient/index.js';
import { HTTP_STATUS, HttpErrorCode, type ErrorAnswer } from './http-errors.js';

/** After the answer, what the peer still sends is read and dropped for at most this long… */
export const LINGER_MS = 2000;
/** …and at most this much on one connection; then it is closed, whatever the peer still sends. */
export const LINGER_MAX_BYTES = 8 * 1024 * 1024;

export interface ClientErrorLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/** The code and message of the answer to a request the parser refused, as Node chooses its status; null: a socket error, no answer. */
export function clientErrorAnswer(
  err: Error & { code?: string; reason?: unknown },
  limits: ClientErrorLimits,
): ErrorAnswer['error'] | null {
  const code = err.code;
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: HttpErrorCode.HEADERS_TOO_LARGE, message: `the request line and headers exceed ${maxHeaderSize} bytes` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: HttpErrorCode.PAYLOAD_TOO_LARGE, message: 'the chunk extensions of the request body are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT': {
      const [h, r] = [limits.headersTimeoutMs / 1000, limits.requestTimeoutMs / 1000];
      return {
        code: HttpErrorCode.REQUEST_TIMEOUT,
        message: `the request did not arrive in time (its headers within ${h} s, the whole of it within ${r} s)`,
      };
    }
    default:
      // HPE_*: llhttp's parse errors; anything else (ECONNRESET, EPIPE…) is the connection's own
      if (!code?.startsWith('HPE_')) return null;
      // llhttp's reason is one of its own fixed texts ("Invalid header token"), no byte of the request
      const why = typeof err.reason === 'string' && /^[\x20-\x7e]{1,80}$/.test(err.reason) ? `: ${err.reason}` : '';
      return { code: ErrorCode.BAD_REQUEST, message: `the request is not valid HTTP/1.1${why}` };
  }
}

/** The whole answer, as bytes: its status, `Connection: close`, and the error's JSON as every error answer has it. */
function answerBytes(error: ErrorAnswer['error']): Buffer {
  const status = HTTP_STATUS[error.code];
  const body = JSON.stringify({ error } satisfies ErrorAnswer);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    'Connection: close',
  ];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * The server's 'clientError' listener. A connection not answered yet gets its answer, then `end()`
 * (FIN after the answer); what the peer still sends is read and dropped until it closes its side, for
 * at most LINGER_MS and LINGER_MAX_BYTES, then the connection is destroyed. A request refused behind
 * one still being answered (pipelined) is answered after it, in order. A connection whose answer has
 * begun, or that is gone (ECONNRESET, EPIPE), is destroyed at once, silently.
 */
export function answerClientErrors(limits: ClientErrorLimits): (err: Error & { code?: string; reason?: unknown }, socket: Duplex) => void {
  const lingering = new WeakSet<Duplex>();
  return (err, socket) => {
    // called again for a connection lingering already: its end (the parser refuses it too), its request's time
    if (lingering.has(socket)) return;
    socket.on('error', () => undefined); // whatever comes now (a reset) is the peer's business
    const answer = clientErrorAnswer(err, limits);
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
    if (answer === null || current?.headersSent === true || !socket.writable) {
      socket.destroy();
      return;
    }
    lingering.add(socket);
    if (current === null) return closeLingering(socket, answer);
    // Requests before it are still being answered (pipelined): their answers first, in order, then
    // this one; within LINGER_MS, or the connection is closed without it.
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(timer));
    const after = (res: ServerResponse): void => {
      res.once('finish', () => {
        // Node hands the socket to the next answer queued before our listener runs: wait for it too.
        const next = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
        if (next !== null && next !== res) return after(next);
        clearTimeout(timer);
        if (socket.writable) closeLingering(socket, answer);
        else socket.destroy();
      });
      res.once('close', () => {
        if (!res.writableFinished) socket.destroy();
      });
    };
    after(current);
  };
}

/** Answer, end, then read and drop what the peer still sends, within LINGER_MS and LINGER_MAX_BYTES. */
function closeLingering(socket: Duplex, answer: ErrorAnswer['error']): void {
  socket.end(answerBytes(answer));
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
  // Node's own 'data' listener feeds its parser, refused: dropped. Ours (added on a socket of the
  // server, it takes the reading back from the parser) counts and drops; the peer's end, with our
  // end already sent, closes the connection.
  socket.removeAllListeners('data');
  let taken = 0;
  socket.on('data', (chunk: Buffer) => {
    taken += chunk.length;
    if (taken > LINGER_MAX_BYTES) socket.destroy();
  });
  socket.resume();
}
