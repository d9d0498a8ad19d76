import { readFile, stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueFirstAdminToken } from '../src/http/first-admin-token.js';
import { createHttpApi } from '../src/http/http-api.js';
import { type MemoryLabManager, startMemoryLabManager, untilState } from './memory-lab-manager.js';
import { poll } from './poll.js';

let fixture: MemoryLabManager;
let api: FastifyInstance;
let clock = 0;
const token: Record<'alice' | 'bob' | 'carol', string> = { alice: '', bob: '', carol: '' };

beforeAll(async () => {
  fixture = await startMemoryLabManager('http-api');
  const m = fixture.manager;
  await m.users.add({ login: 'carol', role: 'user' });
  const first = await issueFirstAdminToken(m);
  if (first === undefined) throw new Error('the first start issued no admin token');
  token.alice = first.token.reveal();
  token.bob = (await m.apiTokens.issue('bob', 'test')).token.reveal();
  token.carol = (await m.apiTokens.issue('carol', 'test')).token.reveal();
  api = await createHttpApi(m, {
    authFailureLimits: { failures: 3, windowMs: 60_000 },
    now: () => clock,
  });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await fixture?.cleanup();
});

type Who = keyof typeof token;

async function call(
  who: Who | undefined,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  body?: unknown,
) {
  const response = await api.inject({
    method,
    url: `/api/v1${url}`,
    headers: who === undefined ? {} : { authorization: `Bearer ${token[who]}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}

describe('the first admin token', () => {
  it('is written once to a 0600 file in the data directory, for the lab admin, and never logged', async () => {
    const file = `${fixture.manager.config.dataDir}/admin-token`;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(token.alice);
    expect(await issueFirstAdminToken(fixture.manager)).toBeUndefined();
    expect((await call('alice', 'GET', '/me')).body).toEqual({
      login: 'alice',
      role: 'admin',
      displayName: '',
    });
    expect(JSON.stringify(fixture.records)).not.toContain(token.alice);
  });
});

describe('authentication', () => {
  it('refuses a request without a valid token, then an address that keeps failing, until its window ends', async () => {
    const none = await call(undefined, 'GET', '/computers');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('VLAB_ERR_AUTH_REQUIRED');
    expect(none.headers['www-authenticate']).toBe('Bearer realm="vlab"');
    const wrong = await api.inject({
      url: '/api/v1/computers',
      headers: { authorization: `Bearer vlab_${'A'.repeat(43)}` },
    });
    expect(wrong.statusCode).toBe(401);
    await call(undefined, 'GET', '/images');
    // Three failures: the fourth request is refused before its token is looked at, a valid one too.
    const limited = await call('bob', 'GET', '/computers');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('VLAB_ERR_AUTH_RATE_LIMITED');
    expect(limited.headers['retry-after']).toBe('60');
    clock += 60_000;
    expect((await call('bob', 'GET', '/computers')).status).toBe(200);
  });

  it('lets anyone read the OpenAPI document, the one checked in as docs/http-api.openapi.json', async () => {
    const response = await api.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const checkedIn = await readFile(
      new URL('../../../docs/http-api.openapi.json', import.meta.url),
      'utf8',
    );
    expect(response.json(), 'docs/http-api.openapi.json is stale: run pnpm run docs').toEqual(
      JSON.parse(checkedIn),
    );
  });
});

describe('reservations', () => {
  let id: string;

  it('are made for the user who asks, and seen by them and admins only', async () => {
    const made = await call('bob', 'POST', '/reservations', { image: 'base', minutes: 30 });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ image: 'base', logins: ['bob'] });
    id = made.body.id;
    expect((await call('bob', 'GET', `/reservations/${id}`)).status).toBe(200);
    expect((await call('alice', 'GET', `/reservations/${id}`)).status).toBe(200);
    const foreign = await call('carol', 'GET', `/reservations/${id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('VLAB_ERR_RESERVATION_NOT_FOUND');
    expect((await call('carol', 'GET', '/reservations')).body).toEqual({ items: [], total: 0 });
    expect((await call('carol', 'POST', `/reservations/${id}/end`, {})).status).toBe(404);
    expect((await call('carol', 'GET', `/events?reservation=${id}`)).status).toBe(404);
    expect((await call('carol', 'GET', '/events')).status).toBe(403);
  });

  it('refuse a user reserving for others only', async () => {
    const response = await call('carol', 'POST', '/reservations', {
      image: 'base',
      minutes: 30,
      logins: ['bob'],
    });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('VLAB_ERR_AUTH_FORBIDDEN');
  });

  it('give their user the way to connect once ready, and their events', async () => {
    await untilState(fixture.manager, id, ['ready']);
    const access = await call('bob', 'GET', `/reservations/${id}/access`);
    expect(access.status).toBe(200);
    expect(access.body).toMatchObject({ login: 'bob', protocol: 'ssh' });
    const events = await call('bob', 'GET', `/events?reservation=${id}&limit=1000`);
    expect(events.body.items.map((e: { kind: string }) => e.kind)).toContain('load');
  });

  it('are captured into an image by its owner or an admin, and into a new image by their user, who owns it', async () => {
    const refused = await call('bob', 'POST', `/reservations/${id}/capture`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.hint).toContain('new image');
    const badName = await call('bob', 'POST', `/reservations/${id}/capture`, {
      image: '../base',
    });
    expect(badName.status).toBe(400);
    expect(badName.body.error.code).toBe('VLAB_ERR_REQUEST_INVALID');
    const extended = await call('bob', 'POST', `/reservations/${id}/extend`, { minutes: 10 });
    expect(extended.status).toBe(200);
    const captured = await call('bob', 'POST', `/reservations/${id}/capture`, {
      image: 'bobs-work',
    });
    expect(captured.status).toBe(202);
    await untilState(fixture.manager, id, ['ended']);
    const image = await call('carol', 'GET', '/images/bobs-work');
    expect(image.body).toMatchObject({ owner: 'bob', osFamily: 'linux' });
    expect(image.body.revisions.map((r: { revision: number }) => r.revision)).toEqual([1]);
    // Into an image that exists now, only its owner (or an admin) captures.
    const made = await call('carol', 'POST', '/reservations', { image: 'base', minutes: 30 });
    await untilState(fixture.manager, made.body.id, ['ready']);
    const foreign = await call('carol', 'POST', `/reservations/${made.body.id}/checkpoint`, {
      image: 'bobs-work',
    });
    expect(foreign.status).toBe(403);
    expect((await call('carol', 'POST', `/reservations/${made.body.id}/end`, {})).status).toBe(200);
  });
});

describe('metrics', () => {
  it("give the lab's reservations and computers by state, step durations and failures by code", async () => {
    // c3's BMC password is wrong: its load fails with a code.
    const failed = await call('alice', 'POST', '/reservations', {
      image: 'base',
      minutes: 30,
      computer: 'c3',
    });
    await untilState(fixture.manager, failed.body.id, ['failed']);
    const expected = [
      /^vlab_reservations\{state="ended"\} [1-9]/m,
      /^vlab_reservations\{state="failed"\} 1$/m,
      /^vlab_computers\{state="available"\} [1-9]/m,
      /^vlab_queue_depth 0$/m,
      /^vlab_step_duration_seconds_count\{step="load",outcome="ok"\} [1-9]/m,
      /^vlab_step_failures_total\{step="load",code="VLAB_ERR_[A-Z_]+"\} 1$/m,
    ];
    // The step counts follow the recorded events, as they are announced.
    const text = await poll(
      async () => {
        const response = await api.inject({
          url: '/metrics',
          headers: { authorization: `Bearer ${token.carol}` },
        });
        expect(response.statusCode).toBe(200);
        expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
        return expected.every((line) => line.test(response.body)) ? response.body : undefined;
      },
      async () =>
        (await api.inject({ url: '/metrics', headers: { authorization: `Bearer ${token.carol}` } }))
          .body,
      { boundMs: 60_000, pauseMs: 100 },
    );
    expect(text).not.toContain(token.carol);
    expect((await api.inject({ url: '/metrics' })).statusCode).toBe(401);
  });
});

describe('bad requests', () => {
  it('get a 4xx naming what is wrong, with a code', async () => {
    const unknownField = await call('bob', 'POST', '/reservations', {
      image: 'base',
      minutes: 30,
      colour: 'red',
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error).toMatchObject({ code: 'VLAB_ERR_REQUEST_INVALID' });
    expect(unknownField.body.error.message).toContain('colour');
    const wrongType = await call('bob', 'POST', '/reservations', { image: 'base', minutes: '30' });
    expect(wrongType.body.error.message).toContain('body.minutes');
    const huge = await call('bob', 'POST', '/reservations', {
      image: 'x'.repeat(10 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('VLAB_ERR_REQUEST_TOO_LARGE');
    const route = await call('bob', 'GET', '/nowhere');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('VLAB_ERR_ROUTE_NOT_FOUND');
    const image = await call('bob', 'POST', '/reservations', { image: '../etc', minutes: 30 });
    expect(image.status).toBe(404);
    expect(image.body.error.code).toBe('VLAB_ERR_IMAGE_UNKNOWN');
  });
});

describe('tokens', () => {
  it('are issued, listed and revoked by their user; admins see all', async () => {
    const issued = await call('carol', 'POST', '/tokens', { name: 'laptop' });
    expect(issued.status).toBe(201);
    expect(issued.body.token).toMatch(/^vlab_/);
    const mine = await call('carol', 'GET', '/tokens');
    expect(mine.body.items.map((t: { login: string }) => t.login)).toEqual(['carol', 'carol']);
    const all = await call('alice', 'GET', '/tokens');
    expect(new Set(all.body.items.map((t: { login: string }) => t.login))).toEqual(
      new Set(['alice', 'bob', 'carol']),
    );
    const alices = all.body.items.find((t: { login: string }) => t.login === 'alice').id;
    expect((await call('carol', 'DELETE', `/tokens/${alices}`)).status).toBe(404);
    expect((await call('carol', 'POST', '/tokens', { name: 'x', login: 'bob' })).status).toBe(403);
    const revoked = await api.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${issued.body.id}`,
      headers: { authorization: `Bearer ${token.carol}` },
    });
    expect(revoked.statusCode).toBe(204);
    const used = await api.inject({
      url: '/api/v1/me',
      headers: { authorization: `Bearer ${issued.body.token}` },
    });
    expect(used.statusCode).toBe(401);
  });
});
