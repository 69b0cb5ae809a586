// JSON with comments and trailing commas, parsed by recursive descent into a tree that keeps positions.
import type { ConfigIssue } from './types.js';
import { type JsonEntry, type JsonNode, type Pos, toValue } from './json-node.js';
import { JsoncSyntaxError, Lexer, type Token } from './jsonc-lexer.js';
import { joinKey, makeIssue } from './issues.js';

const MAX_DEPTH = 100;

function shown(token: Token): string {
  switch (token.type) {
    case 'eof':
      return 'the end of the file';
    case 'punct':
      return `"${token.text}"`;
    case 'string':
      return `the string ${JSON.stringify(token.value.length > 40 ? `${token.value.slice(0, 37)}…` : token.value)}`;
    case 'number':
      return `the number ${token.text}`;
    case 'word':
      return `the word ${token.text}`;
  }
}

function fail(token: Token, expected: string): never {
  const found = token.type === 'eof' ? 'found the end of the file' : `got ${shown(token)}`;
  throw new JsoncSyntaxError(token.pos, `${expected}, ${found}`);
}

class Parser {
  private readonly lexer: Lexer;
  private token: Token;

  constructor(text: string) {
    this.lexer = new Lexer(text);
    this.token = this.lexer.next();
  }

  private advance(): Token {
    const t = this.token;
    this.token = this.lexer.next();
    return t;
  }

  /** The current token (a method, so that narrowing does not outlive advance()). */
  private current(): Token {
    return this.token;
  }

  private isPunct(text: string): boolean {
    return this.token.type === 'punct' && this.token.text === text;
  }

  document(): JsonNode {
    if (this.token.type === 'eof') throw new JsoncSyntaxError(this.token.pos, 'the file is empty: expected a JSON object such as {}');
    const value = this.value(0);
    const after = this.current();
    if (after.type !== 'eof') fail(after, 'expected the end of the file after the top-level value');
    return value;
  }

  private value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) throw new JsoncSyntaxError(this.token.pos, `nested more than ${MAX_DEPTH} levels deep`);
    const t = this.token;
    if (t.type === 'punct' && t.text === '{') return this.object(depth);
    if (t.type === 'punct' && t.text === '[') return this.array(depth);
    if (t.type === 'string' || t.type === 'number') {
      this.advance();
      return { kind: t.type, pos: t.pos, value: t.value } as JsonNode;
    }
    if (t.type === 'word') {
      const word = t.text.toLowerCase();
      this.advance();
      if (word === 'null') return { kind: 'null', pos: t.pos };
      if (word === 'true' || word === 'false') return { kind: 'boolean', pos: t.pos, value: word === 'true' };
      throw new JsoncSyntaxError(t.pos, `unexpected word ${t.text}: strings must be in double quotes`);
    }
    return fail(t, 'expected a value');
  }

  private object(depth: number): JsonNode {
    const pos: Pos = this.advance().pos;
    const entries: JsonEntry[] = [];
    for (;;) {
      if (this.isPunct('}')) {
        this.advance();
        return { kind: 'object', pos, entries };
      }
      const keyToken = this.token;
      if (keyToken.type !== 'string') {
        if (keyToken.type === 'word') throw new JsoncSyntaxError(keyToken.pos, `expected a key in double quotes, got ${keyToken.text}`);
        fail(
          keyToken,
          entries.length === 0 ? 'expected a key in double quotes or "}"' : 'expected a key in double quotes or "}" after ","',
        );
      }
      this.advance();
      if (!this.isPunct(':')) fail(this.token, `expected ":" after the key ${JSON.stringify(keyToken.value)}`);
      this.advance();
      entries.push({ key: keyToken.value, keyPos: keyToken.pos, value: this.value(depth + 1) });
      if (this.isPunct(',')) this.advance();
      else if (!this.isPunct('}')) fail(this.token, 'expected "," or "}" after a value');
    }
  }

  private array(depth: number): JsonNode {
    const pos: Pos = this.advance().pos;
    const items: JsonNode[] = [];
    for (;;) {
      if (this.isPunct(']')) {
        this.advance();
        return { kind: 'array', pos, items };
      }
      items.push(this.value(depth + 1));
      if (this.isPunct(',')) this.advance();
      else if (!this.isPunct(']')) fail(this.token, 'expected "," or "]" after a value');
    }
  }
}

/** Parse to a tree; a syntax error gives one issue (the first) and a null tree. Duplicate keys are kept. */
export function parseTree(text: string, file: string): { node: JsonNode | null; issues: ConfigIssue[] } {
  try {
    const node = new Parser(text).document();
    return { node, issues: loneSurrogates(node, file, '') };
  } catch (err) {
    if (err instanceof JsoncSyntaxError) return { node: null, issues: [makeIssue(file, err.pos, '', err.message)] };
    const message = err instanceof Error ? err.message : String(err);
    return { node: null, issues: [makeIssue(file, null, '', `cannot parse: ${message}`)] };
  }
}

/** Half of a UTF-16 surrogate pair, alone. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * An issue for every string, a key or a value anywhere, that holds half of a UTF-16 surrogate pair (a
 * JSON escape such as "\ud800" alone): no text as written, which no file, database or terminal holds.
 */
function loneSurrogates(node: JsonNode, file: string, keyPath: string, out: ConfigIssue[] = []): ConfigIssue[] {
  const check = (text: string, pos: Pos, key: string): void => {
    const lone = LONE_SURROGATE.exec(text);
    if (lone === null) return;
    const hex = lone[0].charCodeAt(0).toString(16).toUpperCase();
    const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}…` : text);
    out.push(
      makeIssue(file, pos, key, `${shown} holds half of a surrogate pair (U+${hex} at index ${lone.index}): write the character whole`),
    );
  };
  if (node.kind === 'string') check(node.value, node.pos, keyPath);
  else if (node.kind === 'array') node.items.forEach((item, i) => loneSurrogates(item, file, `${keyPath}[${i}]`, out));
  else if (node.kind === 'object')
    for (const e of node.entries) {
      check(e.key, e.keyPos, joinKey(keyPath, e.key));
      loneSurrogates(e.value, file, joinKey(keyPath, e.key), out);
    }
  return out;
}

/** Issues for keys of one object that repeat an earlier key (compared case-insensitively unless caseSensitive). */
export function duplicateKeyIssues(
  node: Extract<JsonNode, { kind: 'object' }>,
  file: string,
  keyPath: string,
  caseSensitive = false,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, JsonEntry>();
  for (const entry of node.entries) {
    const folded = caseSensitive ? entry.key : entry.key.toLowerCase();
    const first = seen.get(folded);
    if (first === undefined) seen.set(folded, entry);
    else issues.push(makeIssue(file, entry.keyPos, joinKey(keyPath, entry.key), duplicateMessage(entry.key, first)));
  }
  return issues;
}

export function duplicateMessage(key: string, first: JsonEntry): string {
  const same = first.key === key ? '' : ` as ${JSON.stringify(first.key)}`;
  return `duplicate key ${JSON.stringify(key)} (already set${same} at line ${first.keyPos.line})`;
}

function allDuplicates(node: JsonNode, file: string, keyPath: string, out: ConfigIssue[]): void {
  if (node.kind === 'object') {
    out.push(...duplicateKeyIssues(node, file, keyPath));
    for (const entry of node.entries) allDuplicates(entry.value, file, joinKey(keyPath, entry.key), out);
  } else if (node.kind === 'array') {
    node.items.forEach((item, i) => allDuplicates(item, file, `${keyPath}[${i}]`, out));
  }
}

/**
 * Parse JSON with `//` and `/* *\/` comments, trailing commas and null/true/false in any letter case.
 * Issues: the first syntax error (value is then undefined), or every duplicate key (compared
 * case-insensitively; the first one is kept in value). Never throws.
 */
export function parseJsonc(text: string, file: string): { value: unknown; issues: ConfigIssue[]; node: JsonNode | null } {
  const { node, issues } = parseTree(text, file);
  if (node === null) return { value: undefined, issues, node };
  allDuplicates(node, file, '', issues);
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  return { value: toValue(node), issues, node };
}
