import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Manager } from '../manager.js';

/** The fastify instance the routes are declared on: its schemas are zod's. */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What the routes act on. */
export interface ApiContext {
  readonly manager: Manager;
}

/** Where every route of the API lives. */
export const API_PREFIX = '/api/v1';
