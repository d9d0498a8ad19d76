import { z } from 'zod';
import { managerError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../api-app.js';
import type { ApiToken } from '../api-tokens.js';
import { holderOf } from '../authentication.js';
import { limits, tokenSchema, userSchema } from '../wire-schemas.js';

function tokenWire(token: ApiToken): z.input<typeof tokenSchema> {
  return {
    id: token.id,
    login: token.login,
    name: token.name,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  };
}

/** Who you are, and the API tokens: yours, or anyone's for admins. */
export function tokenRoutes(app: ApiApp, { manager }: ApiContext): void {
  app.get(
    '/me',
    {
      schema: {
        summary: 'The user the token acts for',
        tags: ['tokens'],
        response: { 200: userSchema },
      },
    },
    async (request) => {
      const holder = holderOf(request);
      const user = await manager.users.get(holder.login);
      return { login: holder.login, role: holder.role, displayName: user?.displayName ?? '' };
    },
  );

  app.get(
    '/tokens',
    {
      schema: {
        summary: 'API tokens (never the tokens themselves): yours, or every one for admins',
        tags: ['tokens'],
        response: { 200: z.object({ items: z.array(tokenSchema) }) },
      },
    },
    async (request) => {
      const holder = holderOf(request);
      const list = await manager.apiTokens.list(holder.role === 'admin' ? undefined : holder.login);
      return { items: list.map(tokenWire) };
    },
  );

  app.post(
    '/tokens',
    {
      schema: {
        summary:
          'Issues a token: for you, or for any user for admins. The token is in this answer only',
        tags: ['tokens'],
        body: z.strictObject({ name: limits.tokenName, login: limits.login.optional() }),
        response: { 201: tokenSchema.extend({ token: z.string() }) },
      },
    },
    async (request, reply) => {
      const holder = holderOf(request);
      const login = request.body.login ?? holder.login;
      if (login !== holder.login && holder.role !== 'admin') {
        throw managerError(
          'VLAB_ERR_AUTH_FORBIDDEN',
          'only an admin may issue a token for another user',
        );
      }
      if ((await manager.users.get(login)) === undefined) {
        throw managerError('VLAB_ERR_USER_UNKNOWN', `the lab has no user "${login}"`);
      }
      const issued = await manager.apiTokens.issue(login, request.body.name);
      return reply.code(201).send({ ...tokenWire(issued), token: issued.token.reveal() });
    },
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        summary: 'Revokes a token: yours, or any for admins',
        tags: ['tokens'],
        params: z.strictObject({ id: limits.uuid }),
        response: { 204: z.null().describe('Revoked') },
      },
    },
    async (request, reply) => {
      const holder = holderOf(request);
      const revoked = await manager.apiTokens.revoke(
        request.params.id,
        holder.role === 'admin' ? undefined : holder.login,
      );
      if (!revoked) {
        throw managerError(
          'VLAB_ERR_TOKEN_NOT_FOUND',
          `no token of yours has the id ${request.params.id}`,
        );
      }
      return reply.code(204).send(null);
    },
  );
}
