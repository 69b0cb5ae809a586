// The OpenAPI 3.1 document of the HTTP API, made at build time (scripts/openapi.mjs) from the route
// table (routes.ts: paths, methods, parameters, bodies, answers), the status of each error code
// (http-errors.ts), and the JSON Schemas of the types the routes name, which scripts/openapi.mjs
// converts from their TypeScript definitions (with their comments) in schema/ and here.
import { ErrorCode, upkeeperVersion } from '../../libclient/index.js';
import { HTTP_STATUS, HttpErrorCode } from './http-errors.js';
import type { OpenApiDocument } from './openapi.js';
import type { Field, Fields } from './route-args.js';
import type { Route } from './route-types.js';
import { PATH_PARAMS, ROUTES } from './routes.js';

export type JsonSchema = Record<string, unknown>;

/**
 * The types the document's schemas are made from: each property of `Answers` and `Streams` (a
 * schema named as the property), and the error answer. For scripts/openapi.mjs.
 */
export const SCHEMA_SOURCES: readonly { file: string; type: string; each?: boolean }[] = [
  { file: 'clients/http/route-types.ts', type: 'Answers', each: true },
  { file: 'clients/http/route-types.ts', type: 'Streams', each: true },
  { file: 'clients/http/http-errors.ts', type: 'ErrorAnswer' },
];

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** `/api/services/:name` as OpenAPI writes it: `/api/services/{name}`. */
export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

/** The codes of each status, in the order of HTTP_STATUS. */
function codesByStatus(): Map<number, string[]> {
  const by = new Map<number, string[]>();
  for (const [code, status] of Object.entries(HTTP_STATUS)) by.set(status, [...(by.get(status) ?? []), code]);
  return new Map([...by].sort(([a], [b]) => a - b));
}

/** What an error answer of each status may say besides its body. */
const ERROR_HEADERS: Readonly<Record<number, JsonSchema>> = {
  401: { 'WWW-Authenticate': { description: '`Bearer realm="upkeeper"`', schema: { type: 'string' } } },
  405: { Allow: { description: 'The methods the path takes.', schema: { type: 'string' } } },
};

/** The error answers of one status: the error answer's schema, its code one of the status's. */
function errorResponse(status: number, codes: string[]): JsonSchema {
  return {
    description: `${codes.map((c) => `\`${c}\``).join(', ')}`,
    ...(ERROR_HEADERS[status] ? { headers: ERROR_HEADERS[status] } : {}),
    content: {
      'application/json': {
        schema: { ...ref('ErrorAnswer'), type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } },
      },
    },
  };
}

/**
 * The statuses of the errors an operation may answer. 405 never: an operation is a path with its
 * method. Only a change reads a body (413) and checks its Origin (403). The metrics answer 200 even
 * without a controller: only a missing token fails them.
 */
function errorStatuses(route: Route, all: number[]): number[] {
  if ('text' in route) return [401];
  return all.filter((s) => s !== 405 && (route.method === 'POST' || (s !== 403 && s !== 413)));
}

function fieldSchema(f: Field): JsonSchema {
  const one: JsonSchema = { type: f.type };
  if (f.enum) one.enum = [...f.enum];
  if (f.minimum !== undefined) one.minimum = f.minimum;
  if (f.maximum !== undefined) one.maximum = f.maximum;
  if (f.type === 'string' && f.required) one.minLength = 1;
  if (f.default !== undefined) one.default = f.default;
  return f.repeat || f.commas ? { type: 'array', items: one } : one;
}

function parameters(route: Route): JsonSchema[] {
  const inPath = [...route.path.matchAll(/:(\w+)/g)].map(([, name]) => {
    const description = PATH_PARAMS[name!];
    if (description === undefined) throw new Error(`${route.path}: PATH_PARAMS does not describe :${name}`);
    return { name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } };
  });
  const declared = (where: 'query' | 'header', fields: Fields = {}): JsonSchema[] =>
    Object.entries(fields).map(([name, f]) => ({
      name,
      in: where,
      description: f.description,
      required: f.required === true,
      schema: fieldSchema(f),
      ...(f.commas ? { style: 'form', explode: false } : {}),
    }));
  return [...inPath, ...declared('query', route.query), ...declared('header', route.headers)];
}

function requestBody(fields: Fields): JsonSchema {
  const required = Object.keys(fields).filter((k) => fields[k]!.required);
  const properties = Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, { ...fieldSchema(f), description: f.description }]));
  return {
    required: required.length > 0,
    content: { 'application/json': { schema: { type: 'object', properties, ...(required.length > 0 ? { required } : {}) } } },
  };
}

function success(route: Route): JsonSchema {
  if ('answer' in route) return { description: 'OK', content: { 'application/json': { schema: ref(route.answer) } } };
  if ('text' in route) return { description: 'OK', content: { [route.text]: { schema: { type: 'string' } } } };
  return {
    description:
      `Server-Sent Events for as long as the reader stays: each message's \`event:\` names a property of ${route.stream}, ` +
      `and its \`data:\` is that property's value as JSON (one line); \`x-upkeeper-messages\` refers to that schema.`,
    content: { 'text/event-stream': { schema: { type: 'string' }, 'x-upkeeper-messages': ref(route.stream) } },
  };
}

function operation(route: Route, statuses: number[]): JsonSchema {
  const params = parameters(route);
  const responses: JsonSchema = { 200: success(route) };
  for (const status of errorStatuses(route, statuses)) responses[status] = { $ref: `#/components/responses/Error${status}` };
  return {
    operationId: route.id,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body ? { requestBody: requestBody(route.body) } : {}),
    responses,
  };
}

/** The document, given the schemas of the types SCHEMA_SOURCES names (and of every type they refer to), by name. */
export function openApiDocument(schemas: Record<string, JsonSchema>): OpenApiDocument {
  const byStatus = codesByStatus();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of ROUTES) (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = operation(route, [...byStatus.keys()]);
  const codes = [...Object.values(ErrorCode), ...Object.values(HttpErrorCode)];
  for (const code of codes) if (!(code in HTTP_STATUS)) throw new Error(`HTTP_STATUS has no status for ${code}`);
  return {
    openapi: '3.1.0',
    info: {
      title: 'upkeeper HTTP API',
      version: upkeeperVersion(),
      summary: "upkeeper's services, events and controller over HTTP (upk serve, or upkeeper/http's createHandler)",
      description:
        'Every answer is JSON unless said (`Cache-Control: no-store`). An error is `{"error": {code, message, details?}}`: ' +
        "the code is one of upkeeper's stable codes (ErrorCode, and the few only HTTP has), the status the one HTTP_STATUS gives it. " +
        'Reads are GET, changes POST; a change whose `Origin` names another host is refused (403).',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses: Object.fromEntries([...byStatus].map(([status, c]) => [`Error${status}`, errorResponse(status, c)])),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'The token in `<StateDir>/http-token`: every request on TCP (`upk serve --listen`) must carry it, else 401 UNAUTHORIZED. ' +
            'On the Unix socket (`<StateDir>/http.sock`, 0600) none is asked.',
        },
      },
    },
  };
}
