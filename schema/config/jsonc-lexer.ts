// Tokenizer for JSON with comments: skips whitespace and comments, tracks line and column.
import type { Pos } from './json-node.js';

export type Token =
  | { type: 'punct'; text: '{' | '}' | '[' | ']' | ':' | ','; pos: Pos }
  | { type: 'string'; value: string; pos: Pos }
  | { type: 'number'; value: number; text: string; pos: Pos }
  | { type: 'word'; text: string; pos: Pos }
  | { type: 'eof'; pos: Pos };

/** A syntax error at a position; caught by the parser and turned into an issue. */
export class JsoncSyntaxError extends Error {
  constructor(
    readonly pos: Pos,
    message: string,
  ) {
    super(message);
  }
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const NUMBER_LIKE = /[-+.\dA-Za-z_]+/y;
const WORD = /[A-Za-z_$][\w$]*/y;

export class Lexer {
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.i = 1; // byte order mark
  }

  private pos(at = this.i): Pos {
    return { line: this.line, column: at - this.lineStart + 1 };
  }

  private newline(at: number): void {
    this.line++;
    this.lineStart = at + 1;
  }

  /** Skip whitespace and comments. */
  private skip(): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t[this.i];
      if (c === '\n') {
        this.newline(this.i);
        this.i++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        this.i++;
      } else if (c === '/' && t[this.i + 1] === '/') {
        while (this.i < t.length && t[this.i] !== '\n') this.i++;
      } else if (c === '/' && t[this.i + 1] === '*') {
        const start = this.pos();
        this.i += 2;
        while (this.i < t.length && !(t[this.i] === '*' && t[this.i + 1] === '/')) {
          if (t[this.i] === '\n') this.newline(this.i);
          this.i++;
        }
        if (this.i >= t.length) throw new JsoncSyntaxError(start, 'unterminated comment (missing "*/")');
        this.i += 2;
      } else {
        return;
      }
    }
  }

  next(): Token {
    this.skip();
    const t = this.text;
    const pos = this.pos();
    if (this.i >= t.length) return { type: 'eof', pos };
    const c = t[this.i] as string;
    if ('{}[]:,'.includes(c)) {
      this.i++;
      return { type: 'punct', text: c as '{', pos };
    }
    if (c === '"') return this.string(pos);
    if (c === "'") throw new JsoncSyntaxError(pos, 'strings must be in double quotes, not single quotes');
    if (c === '-' || (c >= '0' && c <= '9')) return this.number(pos);
    WORD.lastIndex = this.i;
    const word = WORD.exec(t);
    if (word) {
      this.i += word[0].length;
      return { type: 'word', text: word[0], pos };
    }
    const shown = c.charCodeAt(0) < 0x20 ? `U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}` : JSON.stringify(c);
    throw new JsoncSyntaxError(pos, `unexpected character ${shown}`);
  }

  private number(pos: Pos): Token {
    NUMBER_LIKE.lastIndex = this.i;
    const whole = (NUMBER_LIKE.exec(this.text) as RegExpExecArray)[0];
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    if (!m || m[0].length !== whole.length) throw new JsoncSyntaxError(pos, `invalid number ${JSON.stringify(whole)}`);
    const value = Number(m[0]);
    if (!Number.isFinite(value)) throw new JsoncSyntaxError(pos, `number ${m[0]} is too large`);
    this.i += m[0].length;
    return { type: 'number', value, text: m[0], pos };
  }

  private string(pos: Pos): Token {
    const t = this.text;
    let out = '';
    this.i++; // opening quote
    for (;;) {
      if (this.i >= t.length) throw new JsoncSyntaxError(pos, 'unterminated string');
      const c = t[this.i] as string;
      const code = c.charCodeAt(0);
      if (c === '"') {
        this.i++;
        return { type: 'string', value: out, pos };
      }
      if (c === '\n' || c === '\r') throw new JsoncSyntaxError(pos, 'unterminated string (a string cannot span lines; write \\n)');
      if (code < 0x20 && c !== '\t') {
        throw new JsoncSyntaxError(this.pos(), `control character U+${code.toString(16).padStart(4, '0').toUpperCase()} in string`);
      }
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = t[this.i + 1];
      if (e === undefined) throw new JsoncSyntaxError(pos, 'unterminated string');
      if (e === 'u') {
        const hex = t.slice(this.i + 2, this.i + 6);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new JsoncSyntaxError(this.pos(), 'invalid escape "\\u": expected 4 hex digits');
        out += String.fromCharCode(parseInt(hex, 16));
        this.i += 6;
        continue;
      }
      const replacement = ESCAPES[e];
      if (replacement === undefined) {
        if (e === '\n' || e === '\r') throw new JsoncSyntaxError(pos, 'unterminated string (a string cannot span lines; write \\n)');
        throw new JsoncSyntaxError(this.pos(), `invalid escape "\\${e}" in string`);
      }
      out += replacement;
      this.i += 2;
    }
  }
}
