// upkeeper's HTTP face (the package's `upkeeper/http` entry): the request handler, and what it answers with.
export { createHandler, sendJson, HTTP_BODY_MAX_BYTES, type HandlerOptions, type NextFunction, type UpkeeperHandler } from './handler.js';
export { SSE_KEEPALIVE_MS, SSE_MAX_BUFFERED_BYTES } from './event-stream.js';
export { METRICS_CONTENT_TYPE, SCRAPE_TIMEOUT_MS, exposition, metricFamilies } from './metrics.js';
export { HTTP_STATUS, HttpError, HttpErrorCode } from './http-errors.js';
export { ROUTES } from './routes.js';
export type { Answers, Route, Streams } from './route-types.js';
export { loadOrCreateToken, bearerMatches } from './token.js';
