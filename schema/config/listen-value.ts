// Listen: the sockets a service is given (schema/listen.ts), each an address or an object with
// Address, Name, Backlog and Mode; checked item by item, every problem named by its index.
import type { ConfigIssue } from './types.js';
import { type JsonNode, toValue } from './json-node.js';
import { expectedGot, joinKey, makeIssue, unknownKeyMessage } from './issues.js';
import { resolvePath } from './paths.js';
import { duplicateKeyIssues } from './jsonc.js';
import {
  LISTEN_BACKLOG_DEFAULT,
  LISTEN_MAX,
  LISTEN_MODE_DEFAULT,
  UNIX_PATH_MAX,
  parseListenAddress,
  type ListenSocket,
} from '../listen.js';

/** Where the value comes from (check-value.ts's CheckContext, of which this needs the file and how paths resolve). */
interface Where {
  file: string;
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

interface Checked {
  value: unknown;
  issues: ConfigIssue[];
}

const FIELDS = ['Address', 'Name', 'Backlog', 'Mode'] as const;
/** A name in LISTEN_FDNAMES: what sd_listen_fds_with_names accepts (no ":", printable, at most 255). */
const FD_NAME = /^[A-Za-z0-9_.@+-]{1,255}$/;

export const LISTEN_DESCRIPTION =
  'a list of sockets, each "tcp:HOST:PORT", "tcp:[IPV6]:PORT", "tcp:PORT", "unix:PATH", or {Address, Name, Backlog, Mode}';

/** The sockets as checked; a socket's name is "" until the service's own name fills it in. */
export function checkListen(node: JsonNode, key: string, ctx: Where): Checked {
  const items = node.kind === 'array' ? node.items : node.kind === 'string' || node.kind === 'object' ? [node] : null;
  if (items === null) return bad(ctx, node, key, expectedGot(LISTEN_DESCRIPTION, toValue(node)));
  if (items.length > LISTEN_MAX) return bad(ctx, node, key, `at most ${LISTEN_MAX} sockets, got ${items.length}`);
  const issues: ConfigIssue[] = [];
  const sockets: ListenSocket[] = [];
  items.forEach((item, i) => {
    const at = node.kind === 'array' ? `${key}[${i}]` : key;
    const checked = checkSocket(item, at, ctx);
    issues.push(...checked.issues);
    if (checked.socket === null) return;
    const same = sockets.findIndex((s) => s.address === checked.socket!.address);
    if (same >= 0) issues.push(makeIssue(ctx.file, item.pos, at, `${checked.socket.address} is already ${key}[${same}]`));
    else sockets.push(checked.socket);
  });
  return issues.length > 0 ? { value: undefined, issues } : { value: sockets, issues };
}

function checkSocket(node: JsonNode, at: string, ctx: Where): { socket: ListenSocket | null; issues: ConfigIssue[] } {
  const fail = (n: JsonNode, key: string, message: string) => ({ socket: null, issues: [makeIssue(ctx.file, n.pos, key, message)] });
  if (node.kind === 'string') {
    const address = checkAddress(node.value, ctx);
    if ('message' in address) return fail(node, at, address.message);
    return { socket: { ...address, backlog: LISTEN_BACKLOG_DEFAULT, mode: LISTEN_MODE_DEFAULT, name: '' }, issues: [] };
  }
  if (node.kind !== 'object')
    return fail(node, at, expectedGot('"tcp:HOST:PORT", "unix:PATH" or {Address, Name, Backlog, Mode}', toValue(node)));
  const issues = duplicateKeyIssues(node, ctx.file, at);
  const given = new Map<(typeof FIELDS)[number], JsonNode>();
  for (const entry of node.entries) {
    const field = FIELDS.find((f) => f.toLowerCase() === entry.key.toLowerCase());
    if (field === undefined)
      issues.push(
        makeIssue(
          ctx.file,
          entry.keyPos,
          joinKey(at, entry.key),
          `${unknownKeyMessage(entry.key, FIELDS)}: a socket has ${FIELDS.join(', ')}`,
        ),
      );
    else if (!given.has(field)) given.set(field, entry.value);
  }
  const addressNode = given.get('Address');
  if (addressNode === undefined) {
    issues.push(makeIssue(ctx.file, node.pos, joinKey(at, 'Address'), 'Address is required'));
    return { socket: null, issues };
  }
  const address =
    addressNode.kind === 'string'
      ? checkAddress(addressNode.value, ctx)
      : { message: expectedGot('"tcp:HOST:PORT" or "unix:PATH"', toValue(addressNode)) };
  if ('message' in address) issues.push(makeIssue(ctx.file, addressNode.pos, joinKey(at, 'Address'), address.message));
  const socket: ListenSocket = {
    ...('message' in address ? { address: '', kind: 'tcp', host: '', port: 0, path: '' } : address),
    backlog: LISTEN_BACKLOG_DEFAULT,
    mode: LISTEN_MODE_DEFAULT,
    name: '',
  };
  const name = given.get('Name');
  if (name !== undefined) {
    if (name.kind === 'string' && FD_NAME.test(name.value)) socket.name = name.value;
    else
      issues.push(
        makeIssue(
          ctx.file,
          name.pos,
          joinKey(at, 'Name'),
          expectedGot('a name of letters, digits and _ . @ + - (at most 255, no ":")', toValue(name)),
        ),
      );
  }
  const backlog = given.get('Backlog');
  if (backlog !== undefined) {
    if (backlog.kind === 'number' && Number.isInteger(backlog.value) && backlog.value >= 1 && backlog.value <= 65535)
      socket.backlog = backlog.value;
    else issues.push(makeIssue(ctx.file, backlog.pos, joinKey(at, 'Backlog'), expectedGot('an integer from 1 to 65535', toValue(backlog))));
  }
  const mode = given.get('Mode');
  if (mode !== undefined) {
    if (socket.kind !== 'unix') issues.push(makeIssue(ctx.file, mode.pos, joinKey(at, 'Mode'), 'Mode is for a Unix socket only'));
    else if (mode.kind === 'string' && /^0?[0-7]{3}$/.test(mode.value)) socket.mode = parseInt(mode.value, 8);
    else
      issues.push(
        makeIssue(
          ctx.file,
          mode.pos,
          joinKey(at, 'Mode'),
          expectedGot('the file mode as a string of octal digits, like "0660"', toValue(mode)),
        ),
      );
  }
  return { socket: issues.length > 0 ? null : socket, issues };
}

/** The address, a Unix path resolved like every path (relative to the file's folder, ~ the home folder). */
function checkAddress(text: string, ctx: Where): ReturnType<typeof parseListenAddress> {
  const unix = /^unix:(.+)$/i.exec(text);
  if (!unix) return parseListenAddress(text);
  const resolved = resolvePath(unix[1]!, ctx.baseDir, ctx.env);
  if ('message' in resolved) return { message: `${JSON.stringify(text)}: ${resolved.message}` };
  if (Buffer.byteLength(resolved.path) > UNIX_PATH_MAX)
    return { message: `${JSON.stringify(text)}: ${resolved.path} is longer than a Unix socket path may be (${UNIX_PATH_MAX} bytes)` };
  return parseListenAddress(`unix:${resolved.path}`);
}

function bad(ctx: Where, node: JsonNode, key: string, message: string): Checked {
  return { value: undefined, issues: [makeIssue(ctx.file, node.pos, key, message)] };
}
