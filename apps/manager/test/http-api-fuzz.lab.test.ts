import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi } from '../src/http/http-api.js';
import { type MemoryLabManager, startMemoryLabManager } from './memory-lab-manager.js';

/*
 * Walks every route of the OpenAPI document with generated wrong requests: wrong types, unknown
 * fields, hostile names, malformed and huge bodies, and other users' ids, under every kind of
 * caller, over a real socket. Each must get a 4xx with an error body, or a success — never a
 * 5xx, a stack or a secret.
 */

const HOSTILE = [
  '../',
  '../../etc/passwd',
  '..%2f..%2f',
  "'; rm -rf / #",
  '$(reboot)',
  '`id`',
  'a\nb',
  'nul\u0000byte',
  '\u202egnp.exe',
  'ünïcødé 🚀',
  ' ',
  '',
  '-1',
  '1e309',
  'null',
  '{}',
  '%00',
  'x'.repeat(5000),
  // Real names and numbers, so that some requests get past the checks into the engine.
  'c1',
  'base',
  '2',
];

let fixture: MemoryLabManager;
let api: FastifyInstance;
let base = '';
const tokens: Record<string, string> = {};
let secrets: string[] = [];
let othersReservation = '';
let othersToken = '';
let requests = 0;
let serverErrors = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  fixture = await startMemoryLabManager('http-api-fuzz');
  const m = fixture.manager;
  await m.users.add({ login: 'carol', role: 'user' });
  for (const login of ['alice', 'bob', 'carol']) {
    tokens[login] = (await m.apiTokens.issue(login, 'fuzz')).token.reveal();
  }
  othersToken = (await m.apiTokens.list('alice'))[0]?.id ?? '';
  othersReservation = (
    await m.reservations.request({
      requestId: 'alice-own',
      image: 'base',
      minutes: 30,
      logins: ['alice'],
    })
  ).id;
  secrets = [...Object.values(tokens), fixture.url.reveal()];
  // Generous limits: this test is about inputs; the limits have their own test.
  api = await createHttpApi(m, { authFailureLimits: { failures: 1e9, windowMs: 60_000 } });
  // Over a real socket: Node's HTTP parser sees the requests as a client would send them.
  base = await api.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await fixture?.cleanup();
  const spread = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
  console.log(
    `HTTP API fuzz: ${requests} requests, ${serverErrors} answered 5xx (${spread.join(', ')})`,
  );
});

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly params: readonly string[];
  readonly query: readonly string[];
  readonly bodyFields: readonly string[];
}

function operationsOf(document: {
  paths: Record<
    string,
    Record<string, { parameters?: { in: string; name: string }[]; requestBody?: unknown }>
  >;
}): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const parameters = operation.parameters ?? [];
      const body = operation.requestBody as
        | { content?: { 'application/json'?: { schema?: { properties?: object } } } }
        | undefined;
      operations.push({
        method: method.toUpperCase(),
        path,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        bodyFields: Object.keys(body?.content?.['application/json']?.schema?.properties ?? {}),
      });
    }
  }
  return operations;
}

const hostile = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.integer().map(String),
  fc.uuid(),
);
/** Wrong values of any JSON type. */
const wrongValue = fc.oneof(
  hostile,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostile, { maxLength: 3 }),
  fc.dictionary(hostile, hostile, { maxKeys: 3 }),
);

function bodyFor(operation: Operation) {
  return fc.oneof(
    // Known fields with wrong values, sometimes with an unknown one besides.
    fc
      .record(Object.fromEntries(operation.bodyFields.map((f) => [f, wrongValue])), {
        requiredKeys: [],
      })
      .chain((known) =>
        fc
          .option(fc.tuple(hostile, wrongValue), { nil: undefined })
          .map((extra) => (extra === undefined ? known : { ...known, [extra[0]]: extra[1] })),
      ),
    // Any JSON at all.
    fc.jsonValue({ maxDepth: 3 }),
    // Not JSON, or not what its header says.
    fc.constantFrom('{"image": ', '\u0000', 'image=base&minutes=30', ''),
  );
}

const callers = fc.constantFrom('alice', 'bob', 'carol', 'none', 'garbage');

async function send(
  operation: Operation,
  caller: string,
  params: Record<string, string>,
  query: Record<string, unknown>,
  body: unknown,
  contentType: string,
) {
  let path = operation.path;
  for (const [name, value] of Object.entries(params)) {
    path = path.replace(`{${name}}`, encodeURIComponent(value));
  }
  const search = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [
      k,
      typeof v === 'string' ? v : (JSON.stringify(v) ?? ''),
    ]),
  ).toString();
  const hasBody = operation.method !== 'GET' && operation.method !== 'DELETE' && body !== undefined;
  const headers: Record<string, string> = hasBody ? { 'content-type': contentType } : {};
  if (caller === 'garbage') headers['authorization'] = "Bearer '; rm -rf / #";
  else if (caller !== 'none') headers['authorization'] = `Bearer ${tokens[caller]}`;
  const controller = new AbortController();
  const response = await fetch(`${base}${search === '' ? path : `${path}?${search}`}`, {
    method: operation.method,
    headers,
    signal: controller.signal,
    ...(hasBody ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  requests += 1;
  // A stream that was accepted goes on forever: its headers are the answer.
  const streaming = response.headers.get('content-type')?.startsWith('text/event-stream') === true;
  if (streaming) controller.abort();
  return { statusCode: response.status, body: streaming ? '' : await response.text() };
}

function check(response: { statusCode: number; body: string }, what: string): void {
  statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
  if (response.statusCode >= 500) serverErrors += 1;
  expect(response.statusCode, `${what} → ${response.body.slice(0, 500)}`).toBeLessThan(500);
  for (const secret of secrets) expect(response.body).not.toContain(secret);
  expect(response.body).not.toMatch(/\n\s+at /);
  if (response.statusCode >= 400) {
    expect(
      JSON.parse(response.body).error?.code,
      `${what} → ${response.body.slice(0, 500)}`,
    ).toMatch(/^VLAB_ERR_[A-Z0-9]+_[A-Z0-9_]+$/);
  }
}

describe('the HTTP API under generated wrong requests', () => {
  it('answers every route of its OpenAPI document with a 4xx, never a 5xx', async () => {
    const document = (await api.inject({ url: '/openapi.json' })).json();
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThanOrEqual(18);
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(
          callers,
          fc.record(Object.fromEntries(operation.params.map((p) => [p, hostile]))),
          fc.dictionary(
            fc.oneof(fc.constantFrom(...operation.query, 'unknown'), hostile),
            wrongValue,
            { maxKeys: 3 },
          ),
          bodyFor(operation),
          fc.constantFrom(
            'application/json',
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
          ),
          async (caller, params, query, body, contentType) => {
            const response = await send(
              operation,
              caller,
              params as Record<string, string>,
              query,
              body,
              contentType,
            );
            check(response, `${operation.method} ${operation.path} as ${caller}`);
          },
        ),
        { numRuns: 300, seed: Number(process.env['VLAB_FUZZ_SEED'] ?? Date.now() % 2 ** 31) },
      );
    }
  }, 600_000);

  it('answers a 10 MB body with 413 on every route that takes a body', async () => {
    const document = (await api.inject({ url: '/openapi.json' })).json();
    for (const operation of operationsOf(document).filter((o) => o.method === 'POST')) {
      const params = Object.fromEntries(operation.params.map((p) => [p, 'x']));
      const response = await send(
        operation,
        'bob',
        params,
        {},
        { image: 'x'.repeat(10 * 1024 * 1024) },
        'application/json',
      );
      check(response, `${operation.method} ${operation.path} with 10 MB`);
      expect(response.statusCode).toBe(413);
    }
  });

  it("finds nothing of another user's: their reservation and token are not found", async () => {
    const document = (await api.inject({ url: '/openapi.json' })).json();
    for (const operation of operationsOf(document).filter((o) => o.params.includes('id'))) {
      const id = operation.path.startsWith('/api/v1/tokens') ? othersToken : othersReservation;
      const body = operation.path.endsWith('/extend') ? { minutes: 5 } : {};
      const response = await send(operation, 'carol', { id }, {}, body, 'application/json');
      check(response, `${operation.method} ${operation.path} with alice's id`);
      expect(response.statusCode, `${operation.method} ${operation.path}`).toBe(404);
    }
    const reservation = await fixture.manager.reservations.get(othersReservation);
    expect(reservation?.state).not.toBe('ended');
    expect(await fixture.manager.apiTokens.list('alice')).toHaveLength(1);
  });
});
