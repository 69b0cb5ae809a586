// Who asked, for the audit trail: each HTTP request reaches the controller as asked by its peer
// (libclient's onBehalfOf), recorded in client_requests.requester beside `upk serve` itself.
import type { IncomingMessage } from 'node:http';
import { REQUESTER_MAX } from '../../libclient/index.js';

/** The most characters of a User-Agent kept in a requester (longer ones end in `…`). */
export const AGENT_MAX = 120;

/** Control characters (C0, DEL, C1) and the Unicode line separators: never recorded. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A User-Agent as recorded: control characters removed, at most AGENT_MAX characters; null when none is left. */
export function cleanAgent(agent: string | undefined): string | null {
  const text = (agent ?? '').replace(CONTROL, '').trim();
  if (text === '') return null;
  return text.length > AGENT_MAX ? `${text.slice(0, AGENT_MAX - 1)}…` : text;
}

/**
 * The requester of an HTTP request: its transport and peer (`http 127.0.0.1:54321`, `https
 * [::1]:40112`; `unix socket`), then its User-Agent in parentheses, as `http 127.0.0.1:54321
 * (curl/8.5.0)`. Taken before the body is read, while the peer is surely connected.
 */
export function requesterOf(req: IncomingMessage): string {
  const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
  let where = 'unix socket';
  if (socket.remoteAddress !== undefined) {
    const address = socket.remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''); // an IPv4 peer of a dual-stack listener
    where = `${socket.encrypted === true ? 'https' : 'http'} ${address.includes(':') ? `[${address}]` : address}:${socket.remotePort ?? '?'}`;
  }
  const agent = cleanAgent(req.headers['user-agent']);
  return (agent === null ? where : `${where} (${agent})`).slice(0, REQUESTER_MAX);
}
