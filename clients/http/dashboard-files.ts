// The dashboard's files (clients/http/dashboard, built into dist/clients/http/dashboard/ by npm run
// build), served at / by the handler. They hold no data: every figure on the page comes from the
// API, with the token when one is asked, so the files themselves are served without it.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, HttpErrorCode } from './http-errors.js';

const DIR = new URL('./dashboard/', import.meta.url);

/** The page's paths, each with its file and type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/**
 * What the page may do: load its own script and style, talk to this server alone, be framed by
 * nobody (clickjacking), send no referrer. No inline script: a text that slipped into the page as
 * HTML could not run.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export const isDashboardPath = (path: string): boolean => Object.hasOwn(FILES, path);

const cache = new Map<string, Buffer>();

/** Answer a GET or HEAD of one of the page's paths (isDashboardPath). A build without the page answers 404. */
export function serveDashboardFile(req: IncomingMessage, res: ServerResponse, path: string): void {
  const { file, type } = FILES[path]!;
  let body = cache.get(file);
  if (body === undefined) {
    try {
      body = readFileSync(new URL(file, DIR));
    } catch {
      throw new HttpError(
        HttpErrorCode.NOT_FOUND,
        `the dashboard is not built (dist/clients/http/dashboard/${file} is missing): run npm run build`,
      );
    }
    cache.set(file, body);
  }
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, ...DASHBOARD_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
}
