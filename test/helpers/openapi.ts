// The HTTP API's OpenAPI document as a JSON Schema validator (Ajv, draft 2020-12, the dialect of
// OpenAPI 3.1): answers checked against the schema the document gives for their path, method and status.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

export type Doc = Record<string, unknown> & { paths: Record<string, Record<string, Operation>>; components: Components };
export interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, Response | { $ref: string }>;
}
export interface Response {
  description: string;
  content?: Record<string, { schema?: Record<string, unknown>; 'x-upkeeper-messages'?: { $ref: string } }>;
}
export interface Components {
  schemas: Record<string, Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> }>;
  responses: Record<string, Response>;
}

/** A JSON pointer's token: `/` and `~` escaped. */
export const pointerToken = (s: string): string => s.replaceAll('~', '~0').replaceAll('/', '~1');

/** What a `#/a/b` pointer points at in `doc`, or undefined. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = doc;
  for (const token of ref.slice(2).split('/')) {
    const key = token.replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/**
 * A copy of `doc` whose record schemas (components.schemas) take no property they do not name: a
 * field an answer has and the document does not is an error (the document is open, as clients of a
 * newer server need; this is what keeps it complete).
 */
export function closed(doc: Doc): Doc {
  const copy = structuredClone(doc);
  const close = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(close);
    if (node === null || typeof node !== 'object') return;
    const schema = node as Record<string, unknown>;
    if (schema.type === 'object' && schema.properties !== undefined && schema.additionalProperties === undefined)
      schema.additionalProperties = false;
    Object.values(schema).forEach(close);
  };
  close(copy.components.schemas);
  return copy;
}

/** Validators of the document's schemas, found by their place in it. */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ allErrors: true });

  constructor(readonly doc: Doc) {
    // The document's own fields are no JSON Schema keywords: the schemas inside them are reached by pointer.
    this.ajv.addVocabulary(Object.keys(doc));
    this.ajv.addSchema(doc, 'openapi.json');
  }

  /** The validator of the schema at `pointer` (`#/components/schemas/ServiceStatus`). */
  at(pointer: string): ValidateFunction {
    if (resolvePointer(this.doc, pointer) === undefined) throw new Error(`the document has nothing at ${pointer}`);
    const validate = this.ajv.getSchema(`openapi.json${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    return validate;
  }

  /** The document's path template (`/api/services/{name}`) of a concrete path. */
  template(path: string): string {
    const found = Object.keys(this.doc.paths).find((t) =>
      new RegExp(`^${t.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`).test(path.split('?')[0]!),
    );
    if (!found) throw new Error(`the document has no path for ${path}`);
    return found;
  }

  /** The pointer of the schema of an answer: its path, method, status and content type. */
  responsePointer(path: string, method: string, status: number, type = 'application/json'): string {
    const operation = `#/paths/${pointerToken(this.template(path))}/${method.toLowerCase()}`;
    const response = resolvePointer(this.doc, `${operation}/responses/${status}`) as Response | { $ref: string } | undefined;
    if (!response) throw new Error(`${method} ${path}: the document has no answer ${status}`);
    const at = '$ref' in response ? response.$ref : `${operation}/responses/${status}`;
    return `${at}/content/${pointerToken(type)}/schema`;
  }

  /** Validate an answer's body; the errors as text, or null when it is valid. */
  check(path: string, method: string, status: number, body: unknown): string | null {
    const validate = this.at(this.responsePointer(path, method, status));
    return validate(body) ? null : this.ajv.errorsText(validate.errors, { separator: '\n' });
  }
}
