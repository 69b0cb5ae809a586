// Edits a service file in place: one number of one service set (its text replaced, or its key
// inserted), every other character (comments, layout, other services) left as it was.
import type { JsonObjectNode, Pos } from './json-node.js';
import { parseTree } from './jsonc.js';

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The offset in `text` of a parser position (lines counted at `\n`, columns in UTF-16 units, as the lexer does). */
export function offsetOf(text: string, pos: Pos): number {
  let offset = 0;
  for (let line = 1; line < pos.line; line++) {
    const newline = text.indexOf('\n', offset);
    if (newline < 0) break;
    offset = newline + 1;
  }
  return offset + pos.column - 1;
}

/**
 * Set key `key` (matched in any letter case) of the service `serviceId` (the top-level key exactly as
 * the file writes it) to the number `value`. An existing number has its text replaced; a missing key
 * is inserted first in the service's object, on a line of its own when the object spans lines.
 * Refuses (a message) a file that does not parse, a service that is not an object, a key written
 * twice or holding something else than a number.
 */
export function setServiceNumber(text: string, serviceId: string, key: string, value: number): { text: string } | { message: string } {
  const { node, issues } = parseTree(text, '');
  if (node === null || node.kind !== 'object')
    return { message: `the file does not parse${issues[0] ? ` (line ${issues[0].line}: ${issues[0].message})` : ''}` };
  const services = node.entries.filter((e) => e.key === serviceId);
  if (services.length !== 1)
    return {
      message:
        services.length === 0 ? `it defines no service ${JSON.stringify(serviceId)}` : `it defines ${JSON.stringify(serviceId)} twice`,
    };
  const service = services[0]!.value;
  if (service.kind !== 'object')
    return { message: `${JSON.stringify(serviceId)} is not an object of service keys (line ${service.pos.line})` };
  const written = service.entries.filter((e) => e.key.toLowerCase() === key.toLowerCase());
  if (written.length > 1) return { message: `${key} is written ${written.length} times in ${JSON.stringify(serviceId)}` };
  let edited: string;
  if (written.length === 1) {
    const old = written[0]!.value;
    if (old.kind !== 'number') return { message: `${key} at line ${old.pos.line} is not a number` };
    const at = offsetOf(text, old.pos);
    JSON_NUMBER.lastIndex = at;
    const match = JSON_NUMBER.exec(text);
    if (match === null) return { message: `${key} at line ${old.pos.line}: cannot find its number` };
    edited = text.slice(0, at) + String(value) + text.slice(at + match[0].length);
  } else {
    edited = insertFirst(text, service, `${JSON.stringify(key)}: ${value},`);
  }
  // The edit must mean what it says: the file parses, and the key now holds the value.
  const check = parseTree(edited, '');
  const again = check.node?.kind === 'object' ? check.node.entries.find((e) => e.key === serviceId)?.value : undefined;
  const now = again?.kind === 'object' ? again.entries.find((e) => e.key.toLowerCase() === key.toLowerCase())?.value : undefined;
  if (now?.kind !== 'number' || now.value !== value)
    return { message: 'the edited file would not hold the new value (please edit it by hand)' };
  return { text: edited };
}

/**
 * Insert `member` (with its trailing comma, which JSON with comments allows before `}`) first in an
 * object: on a line of its own, indented like the object's first member, when nothing but a comment
 * follows the `{` on its line; else right after the `{`.
 */
function insertFirst(text: string, object: JsonObjectNode, member: string): string {
  const brace = offsetOf(text, object.pos);
  const lineEnd = text.indexOf('\n', brace);
  const rest = text.slice(brace + 1, lineEnd < 0 ? text.length : lineEnd);
  if (lineEnd >= 0 && /^\s*(?:\/\/[^\n]*)?$/.test(rest)) {
    const first = object.entries[0];
    const indent =
      first !== undefined && first.keyPos.line > object.pos.line
        ? leadingSpace(text, offsetOf(text, first.keyPos))
        : `${leadingSpace(text, brace)}  `;
    const at = text[lineEnd - 1] === '\r' ? lineEnd - 1 : lineEnd;
    const eol = at === lineEnd ? '\n' : '\r\n';
    return `${text.slice(0, at)}${eol}${indent}${member}${text.slice(at)}`;
  }
  return `${text.slice(0, brace + 1)} ${member}${text.slice(brace + 1)}`;
}

/** The spaces and tabs that begin the line holding `offset`. */
function leadingSpace(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}
