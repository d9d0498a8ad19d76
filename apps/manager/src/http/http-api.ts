import fastifySwagger from '@fastify/swagger';
import type { Logger } from '@vlab/core';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_NAME } from '../engine/reservations.js';
import type { Manager } from '../manager.js';
import { API_PREFIX, type ApiApp } from './api-app.js';
import {
  AuthFailureLimiter,
  type AuthFailureLimits,
  DEFAULT_AUTH_FAILURE_LIMITS,
} from './auth-failure-limiter.js';
import { authenticate, PUBLIC_ROUTE } from './authentication.js';
import { badPath, errorHandler, notFoundHandler } from './error-responses.js';
import { labMetrics } from './lab-metrics.js';
import { computerRoutes } from './routes/computers.js';
import { eventStreamRoutes } from './routes/event-streams.js';
import { eventRoutes } from './routes/events.js';
import { imageRoutes } from './routes/images.js';
import { reservationRoutes } from './routes/reservations.js';
import { tokenRoutes } from './routes/tokens.js';
import { statusPage } from './status-page.js';
import { errorSchema } from './wire-schemas.js';

/** Largest request body the API reads, in bytes. @public */
export const MAX_REQUEST_BODY = 1024 * 1024;

/** Options of {@link createHttpApi}. @public */
export interface HttpApiOptions {
  /** Failed authentications a client address may make per window. Default: 10 a minute. */
  readonly authFailureLimits?: { readonly failures: number; readonly windowMs: number } | undefined;
  /** The clock of the failure limits, in ms. Default: `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/**
 * The manager's HTTP API (fastify), not yet listening: `listen` it, or `inject` requests.
 *
 * @remarks
 * The routes are under `/api/v1`, and the lab's metrics (Prometheus) at `GET /metrics`;
 * `GET /openapi.json` describes them (OpenAPI 3.1). Each needs a bearer token of
 * {@link Manager.apiTokens}, except that document and the operator status page (`GET /` and its
 * files under `/status-page/`, which read everything through the API with the token its user
 * pastes). Errors answer `{ error: { code, message, hint, requestId } }` with a 4xx status and a
 * `VLAB_ERR_…` code.
 * @public
 */
export async function createHttpApi(
  manager: Manager,
  options: HttpApiOptions = {},
): Promise<FastifyInstance> {
  const log: Logger = manager.log.child({ component: 'http' });
  const fastify = Fastify({
    logger: false,
    bodyLimit: MAX_REQUEST_BODY,
    return503OnClosing: true,
    // Closing ends every connection, streams and idle keep-alive ones alike: clients reconnect.
    forceCloseConnections: true,
    // Room for the longest name a request may give, percent-encoded.
    routerOptions: { maxParamLength: 3 * MAX_NAME },
    // A path the router cannot read: answered like every other refusal.
    frameworkErrors: badPath,
  });
  const app = fastify.withTypeProvider<ZodTypeProvider>() as ApiApp;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(log));
  app.setNotFoundHandler(notFoundHandler);
  const limits: AuthFailureLimits = options.authFailureLimits ?? DEFAULT_AUTH_FAILURE_LIMITS;
  app.addHook(
    'onRequest',
    authenticate(manager.apiTokens, new AuthFailureLimiter(limits, options.now)),
  );

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'vlab manager',
        version: '1',
        description:
          "The vlab manager's HTTP API: computers, images, reservations, events and tokens of one lab. Errors answer with a VLAB_ERR_… code (docs/errors.md).",
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
    // Every route answers its errors with the same body.
    transform: (document) =>
      jsonSchemaTransform({
        ...document,
        schema: {
          ...document.schema,
          response: { ...(document.schema.response as object), '4XX': errorSchema },
        },
      }),
    transformObject: jsonSchemaTransformObject,
  });

  const metrics = labMetrics(manager, log);
  app.addHook('onClose', async () => metrics.close());
  app.get(
    '/metrics',
    {
      schema: {
        summary: "The lab's metrics in Prometheus's text format (any user's token)",
        tags: ['metrics'],
        response: { 200: z.string() },
      },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/openapi.json', { config: PUBLIC_ROUTE, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  // The operator status page at `/` (public shell; its data comes through the API).
  await app.register(statusPage);
  await app.register(
    async (api) => {
      const routes = api as ApiApp;
      const context = { manager };
      for (const declare of [
        computerRoutes,
        imageRoutes,
        reservationRoutes,
        eventRoutes,
        eventStreamRoutes,
        tokenRoutes,
      ]) {
        declare(routes, context);
      }
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  return fastify;
}
