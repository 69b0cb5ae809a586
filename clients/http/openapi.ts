// The OpenAPI document of the HTTP API, as `npm run build` wrote it beside this module's compiled file
// (scripts/openapi.mjs, from the route table and the types of schema/ it names): GET /api/openapi.json.
import { readFileSync } from 'node:fs';
import { ErrorCode, UpkError } from '../../libclient/index.js';

/** An OpenAPI 3.1 document (the rest of its fields as the specification says). */
export interface OpenApiDocument {
  /** The version of the OpenAPI Specification: 3.1.x. */
  openapi: string;
  info: { title: string; version: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** Where the build writes the document: beside this module's compiled file (a bundle keeps that file's URL, scripts/bundle.mjs). */
export const OPENAPI_FILE = new URL('./openapi.json', import.meta.url);

let cached: OpenApiDocument | undefined;

/** The document, read once; a build that did not write it (a `tsc` alone) is an INTERNAL error that says so. */
export function readOpenApi(): OpenApiDocument {
  if (cached === undefined) {
    let text: string;
    try {
      text = readFileSync(OPENAPI_FILE, 'utf8');
    } catch (err) {
      throw new UpkError(ErrorCode.INTERNAL, `the OpenAPI document was not built (npm run build writes it): ${(err as Error).message}`);
    }
    cached = JSON.parse(text) as OpenApiDocument;
  }
  return cached;
}
