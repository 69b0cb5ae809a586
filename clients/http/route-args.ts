// A route's query parameters, headers and body fields as its entry in the route table declares them: checked
// before the route runs (anything else is BAD_REQUEST), read by name, and described by the same
// declaration in the OpenAPI document (openapi-document.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, ISO_INSTANT_WORDS, isoInstant, UpkError } from '../../libclient/index.js';

/** One query parameter, header or body field. */
export interface Field {
  type: 'integer' | 'string' | 'boolean';
  description: string;
  /** Absent: BAD_REQUEST. A required string may not be empty. */
  required?: boolean;
  /** An integer's bounds. */
  minimum?: number;
  maximum?: number;
  /** What the route takes when it is absent (`Args.int` gives it). */
  default?: number;
  /** The only values a string may take. */
  enum?: readonly string[];
  /** A query parameter that may be given more than once (`service=a&service=b`): a list. */
  repeat?: boolean;
  /** A query parameter of comma-separated values (`type=exited,failed`): a list. */
  commas?: boolean;
  /** A string that is a time as the controller takes it (isoInstant: ISO 8601 with Z or an offset, a date that exists). */
  time?: boolean;
}

export type Fields = Readonly<Record<string, Field>>;

type Value = number | string | boolean | string[];

const bad = (message: string): UpkError => new UpkError(ErrorCode.BAD_REQUEST, message);

/** What a field takes, in words, for an error message. */
function expected(f: Field): string {
  if (f.type === 'boolean') return 'true or false';
  if (f.type === 'integer') return `an integer from ${f.minimum ?? '-∞'} to ${f.maximum ?? '∞'}`;
  if (f.enum) return `one of ${f.enum.join(', ')}`;
  if (f.time) return `an ISO 8601 time (${ISO_INSTANT_WORDS})`;
  return f.required ? 'a non-empty string' : 'a string';
}

/** One value checked against its field; `where` names it in the error (`query parameter limit`). */
function checked(f: Field, where: string, value: unknown): Value {
  const refuse = (): never => {
    throw bad(`${where}: expected ${expected(f)}, got ${JSON.stringify(value)}`);
  };
  switch (f.type) {
    case 'boolean':
      return typeof value === 'boolean' ? value : refuse();
    case 'integer': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return refuse();
      if ((f.minimum !== undefined && n < f.minimum) || (f.maximum !== undefined && n > f.maximum)) return refuse();
      return n;
    }
    case 'string':
      if (typeof value !== 'string' || (f.required && value === '') || (f.enum && !f.enum.includes(value))) return refuse();
      if (f.time && Number.isNaN(isoInstant(value))) return refuse();
      return value;
  }
}

/** What a route declares, and a request gives. */
export interface Declared {
  query?: Fields;
  /** By name, as `Last-Event-ID` (an empty header is absent). */
  headers?: Fields;
  body?: Fields;
}

/**
 * A request's arguments: the query parameters, headers and JSON body fields its route declares,
 * checked (what it does not declare is left alone). A route declares no name twice.
 */
export function routeArgs(declared: Declared, query: URLSearchParams, headers: IncomingHttpHeaders, body: Record<string, unknown>): Args {
  const values = new Map<string, Value>();
  for (const [name, f] of Object.entries(declared.headers ?? {})) {
    const where = `header ${name}`;
    const header = headers[name.toLowerCase()];
    const given = Array.isArray(header) ? header[0] : header;
    if (given === undefined || given === '') {
      if (f.required) throw bad(`${where} is required: ${f.description}`);
    } else values.set(name, checked(f, where, given));
  }
  for (const [key, f] of Object.entries(declared.query ?? {})) {
    const where = `query parameter ${key}`;
    const given = query.getAll(key);
    if (given.length === 0) {
      if (f.required) throw bad(`${where} is required: ${f.description}`);
    } else if (f.repeat || f.commas) {
      const items = f.commas ? given.flatMap((g) => g.split(',')) : given;
      values.set(
        key,
        items.filter((item) => item !== '').map((item) => String(checked(f, where, item))),
      );
    } else {
      // Two values of a one-value parameter: a proxy in front may have checked the other one.
      if (given.length > 1) throw bad(`${where}: given ${given.length} times, takes one value`);
      const text = given[0]!;
      values.set(key, checked(f, where, f.type === 'boolean' && (text === 'true' || text === 'false') ? text === 'true' : text));
    }
  }
  for (const [key, f] of Object.entries(declared.body ?? {})) {
    const where = `body field ${key}`;
    if (body[key] === undefined) {
      if (f.required) throw bad(`${where} is required: ${f.description}`);
    } else values.set(key, checked(f, where, body[key]));
  }
  return new Args({ ...declared.query, ...declared.headers, ...declared.body }, values);
}

/** The checked values of a route's fields, by name; asking for a field the route does not declare (or of another type) is a bug. */
export class Args {
  constructor(
    private readonly fields: Fields,
    private readonly values: ReadonlyMap<string, Value>,
  ) {}

  private declared(key: string, type: Field['type'], list = false): Field {
    const f = this.fields[key];
    if (!f || f.type !== type || list !== Boolean(f.repeat || f.commas))
      throw new UpkError(ErrorCode.INTERNAL, `the route reads ${key} as ${list ? 'a list of ' : ''}${type}, which it does not declare`);
    return f;
  }

  /** Whether the request gave it. */
  has(key: string): boolean {
    return this.values.has(key);
  }

  int(key: string): number | undefined {
    const f = this.declared(key, 'integer');
    const v = this.values.get(key);
    return typeof v === 'number' ? v : f.default;
  }

  str(key: string): string | undefined {
    this.declared(key, 'string');
    const v = this.values.get(key);
    return typeof v === 'string' ? v : undefined;
  }

  bool(key: string): boolean | undefined {
    this.declared(key, 'boolean');
    const v = this.values.get(key);
    return typeof v === 'boolean' ? v : undefined;
  }

  /** A list (`repeat` or `commas`): empty when absent. */
  strs(key: string): string[] {
    this.declared(key, 'string', true);
    const v = this.values.get(key);
    return Array.isArray(v) ? v : [];
  }
}
