import type { FastifyReply, FastifyRequest } from 'fastify';
import { managerError } from '../errors.js';
import type { ApiTokens, TokenHolder } from './api-tokens.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
import { sendError } from './error-responses.js';

const holders = new WeakMap<FastifyRequest, TokenHolder>();

/** Whom the request authenticated as; only routes marked public have none. */
export function holderOf(request: FastifyRequest): TokenHolder {
  const holder = holders.get(request);
  if (holder === undefined) throw new Error(`route ${request.url} has no authenticated user`);
  return holder;
}

/** Refuses the request unless its user is an admin. */
export function requireAdmin(request: FastifyRequest): TokenHolder {
  const holder = holderOf(request);
  if (holder.role !== 'admin') {
    throw managerError(
      'VLAB_ERR_AUTH_FORBIDDEN',
      `only an admin may ${request.method} ${request.routeOptions.url}`,
    );
  }
  return holder;
}

/** Route config of a route anyone may call. */
export const PUBLIC_ROUTE = { public: true } as const;

/**
 * The `onRequest` hook: authenticates the bearer token before the body is read, so a client
 * without a token costs no parsing; counts failures per client address and refuses an address
 * over its limit before looking at its token.
 */
export function authenticate(tokens: ApiTokens, limiter: AuthFailureLimiter) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const config = request.routeOptions.config as { public?: boolean } | undefined;
    if (config?.public === true || request.routeOptions.url === undefined) return;
    const retryMs = limiter.retryAfterMs(request.ip);
    if (retryMs > 0) {
      reply.header('retry-after', String(Math.ceil(retryMs / 1000)));
      await sendError(
        reply,
        429,
        'VLAB_ERR_AUTH_RATE_LIMITED',
        `too many requests from ${request.ip} failed to authenticate`,
      );
      return;
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([^\s]+)$/i.exec(header);
    const holder = match?.[1] === undefined ? undefined : await tokens.authenticate(match[1]);
    if (holder === undefined) {
      limiter.fail(request.ip);
      reply.header('www-authenticate', 'Bearer realm="vlab"');
      await sendError(
        reply,
        401,
        'VLAB_ERR_AUTH_REQUIRED',
        header === undefined ? 'the request has no bearer token' : 'the bearer token is not valid',
      );
      return;
    }
    holders.set(request, holder);
  };
}
