// Who asked, for the audit trail: each HTTP request reaches the controller as asked by its peer
// (libclient's onBehalfOf), recorded in client_requests.requester beside `upk serve` itself.
import type { IncomingMessage } from 'node:http';
import { REQUESTER_MAX } from '../../libclient/index.js';

/** The most characters of a User-Agent kept in a requester (longer ones end in `…`). */
export const AGENT_MAX = 120;

/** Control characters (C0, DEL, C1) and the Unicode line separators: never recorded. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header's text as it was sent. Node reads header bytes as Latin-1, one character a byte: bytes
 * that are UTF-8 are read again as UTF-8 (`curl/8 é`, not `curl/8 Ã©`); others stay as they came.
 */
function headerText(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value; // ASCII; or decoded already
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

/**
 * A User-Agent as recorded: read as UTF-8 when it is, control characters removed, at most AGENT_MAX
 * characters (never half of one: no lone surrogate); null when none is left.
 */
export function cleanAgent(agent: string | undefined): string | null {
  const text = headerText(agent ?? '')
    .replace(CONTROL, '')
    .trim();
  if (text === '') return null;
  if (text.length <= AGENT_MAX) return text;
  const cut = text.slice(0, AGENT_MAX - 1);
  return `${/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut}…`;
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
