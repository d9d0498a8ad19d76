/**
 * Writes the HTTP API's OpenAPI document to docs/http-api.openapi.json, or with `--check` changes
 * nothing and exits 1 when the file differs from what the code declares.
 *
 * The document comes from the routes' schemas alone, so the API is built over a stand-in manager:
 * declaring the routes reads nothing of it but its log.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { silentLogger } from '@vlab/core';
import { createHttpApi } from '../src/http/http-api.js';
import type { Manager } from '../src/manager.js';

const FILE = new URL('../../../docs/http-api.openapi.json', import.meta.url);

const standIn = { log: silentLogger, apiTokens: {} } as unknown as Manager;
const api = await createHttpApi(standIn);
const document = `${JSON.stringify(api.swagger(), null, 2)}\n`;
await api.close();

if (process.argv.includes('--check')) {
  const current = await readFile(FILE, 'utf8').catch(() => '');
  if (current !== document) {
    console.error('docs/http-api.openapi.json is stale: run pnpm run docs');
    process.exit(1);
  }
} else {
  await writeFile(FILE, document);
}
