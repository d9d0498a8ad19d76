import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { FollowQuery } from '../../database/follow-events.js';
import { managerError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../api-app.js';
import { requireAdmin } from '../authentication.js';
import { limits } from '../wire-schemas.js';
import { eventWire } from './events.js';
import { visibleTo } from './reservations.js';

/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** What a client reconnecting after a drop waits, in ms (the SSE `retry` field). */
const RETRY_MS = 2000;

const streamQuery = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Start after this event id (the Last-Event-ID header takes precedence)'),
  progress: z
    .enum(['true', 'false'])
    .default('true')
    .describe('Whether progress samples (kind "progress") are sent'),
});

const lastEventId = z.looseObject({
  'last-event-id': z
    .string()
    .regex(/^\d{1,15}$/)
    .optional()
    .describe('The id of the last event received: the stream resumes after it'),
});

const streamDescription =
  'Server-Sent Events: each event is sent with its id (the stored row id), its kind as the event name and the event as JSON data; resumable with Last-Event-ID.';

/** Live events as Server-Sent Events: a reservation's for its users, the whole lab's for admins. */
export function eventStreamRoutes(app: ApiApp, { manager }: ApiContext): void {
  const stream = (reply: FastifyReply, query: FollowQuery): FastifyReply => {
    const controller = new AbortController();
    // The response closes when the client hangs up (the request's own close comes earlier, once
    // its body is read); the follower, waiting for the next event, stops at once.
    reply.raw.on('close', () => controller.abort(new Error('the client went away')));
    async function* frames(): AsyncGenerator<string> {
      yield `retry: ${RETRY_MS}\n\n`;
      for await (const event of manager.followEvents(query, controller.signal)) {
        yield `id: ${event.id}\nevent: ${event.kind}\ndata: ${JSON.stringify(eventWire(event))}\n\n`;
      }
    }
    const body = Readable.from(frames());
    const keepAlive = setInterval(() => body.push(': keep-alive\n\n'), KEEP_ALIVE_MS);
    body.on('close', () => {
      clearInterval(keepAlive);
      controller.abort(new Error('the stream closed'));
    });
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
      .send(body);
  };
  const after = (request: { headers: { 'last-event-id'?: string | undefined } }, query?: number) =>
    request.headers['last-event-id'] === undefined
      ? query
      : Number(request.headers['last-event-id']);

  app.get(
    '/reservations/:id/stream',
    {
      schema: {
        summary: "A reservation's events as they happen: steps, state changes and progress samples",
        description: streamDescription,
        tags: ['events'],
        params: z.strictObject({ id: limits.uuid }),
        querystring: streamQuery,
        headers: lastEventId,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const reservation = await manager.reservations.get(id);
      if (reservation === undefined || !visibleTo(request, reservation)) {
        throw managerError(
          'VLAB_ERR_RESERVATION_NOT_FOUND',
          `no reservation of yours has the id ${id}`,
        );
      }
      return stream(reply, {
        reservationId: id,
        after: after(request, request.query.after),
        progress: request.query.progress === 'true',
      });
    },
  );

  app.get(
    '/events/stream',
    {
      schema: {
        summary: "The whole lab's events as they happen (admins)",
        description: streamDescription,
        tags: ['events'],
        querystring: streamQuery.extend({ computer: limits.name.optional() }),
        headers: lastEventId,
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      return stream(reply, {
        computer: request.query.computer,
        after: after(request, request.query.after),
        progress: request.query.progress === 'true',
      });
    },
  );
}
