import { readFile } from 'node:fs/promises';
import { CORE_ERROR_CODES } from '@vlab/core';
import type { FastifyReply } from 'fastify';
import { MANAGER_ERROR_CODES } from '../errors.js';
import type { ApiApp } from './api-app.js';
import { PUBLIC_ROUTE } from './authentication.js';

/**
 * The operator status page's files: plain HTML, CSS and one ES module, shipped as they are (no
 * build step). The same relative path from `src/http/` (tsx, tests) and `dist/http/` (the
 * package).
 */
export const STATUS_PAGE_DIR = new URL('../../static/status-page/', import.meta.url);

/** Where the page's assets are served. */
export const STATUS_PAGE_PREFIX = '/status-page';

/**
 * The page may load only its own script, style and icon and talk only to this manager: no inline
 * script or style, no other origin, no framing, no form posting elsewhere; DOM sinks take no
 * strings (the script writes text only).
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'status-page.js': 'text/javascript; charset=utf-8',
  'status-page.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
} as const;

type FileName = keyof typeof FILES;

/**
 * Serves the status page: `GET /` (the HTML shell) and its assets under `/status-page/`, all
 * public and out of the OpenAPI document. The page reads everything else through the API with
 * the token its user pastes. `hints.json` gives the documented hint of each core and manager
 * error code, which events carry only as codes.
 */
export async function statusPage(app: ApiApp): Promise<void> {
  const files = new Map<FileName, Buffer>();
  for (const name of Object.keys(FILES) as FileName[]) {
    files.set(name, await readFile(new URL(name, STATUS_PAGE_DIR)));
  }
  const hints: Record<string, string> = {};
  for (const [code, info] of Object.entries({ ...CORE_ERROR_CODES, ...MANAGER_ERROR_CODES })) {
    hints[code] = info.hint;
  }
  const hintsJson = JSON.stringify(hints);

  const send = (reply: FastifyReply, name: FileName): FastifyReply =>
    reply
      .type(FILES[name])
      .header('cache-control', name === 'index.html' ? 'no-store' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', STATUS_PAGE_CSP)
      .send(files.get(name));

  app.get('/', { config: PUBLIC_ROUTE, schema: { hide: true } }, async (_request, reply) =>
    send(reply, 'index.html'),
  );
  for (const name of ['status-page.js', 'status-page.css', 'icon.svg'] as const) {
    app.get(
      `${STATUS_PAGE_PREFIX}/${name}`,
      { config: PUBLIC_ROUTE, schema: { hide: true } },
      async (_request, reply) => send(reply, name),
    );
  }
  app.get(
    `${STATUS_PAGE_PREFIX}/hints.json`,
    { config: PUBLIC_ROUTE, schema: { hide: true } },
    async (_request, reply) =>
      reply
        .type('application/json; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .send(hintsJson),
  );
}
