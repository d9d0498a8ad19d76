import { z } from 'zod';
import type { LabEvent } from '../../database/events.js';
import { managerError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../api-app.js';
import { holderOf } from '../authentication.js';
import { eventSchema, limits } from '../wire-schemas.js';
import { visibleTo } from './reservations.js';

export function eventWire(event: LabEvent): z.input<typeof eventSchema> {
  return { ...event, at: event.at.toISOString() };
}

/** The recorded events, oldest first, a page after another: a user's of their reservations, an admin's of the whole lab. */
export function eventRoutes(app: ApiApp, { manager }: ApiContext): void {
  app.get(
    '/events',
    {
      schema: {
        summary: 'Recorded events, oldest first; pass the last id as `after` for the next page',
        tags: ['events'],
        querystring: z.strictObject({
          reservation: limits.uuid
            .optional()
            .describe('Only those of this reservation (required for users)'),
          computer: limits.name.optional().describe('Only those on this computer (admins)'),
          after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: z.object({ items: z.array(eventSchema) }) },
      },
    },
    async (request) => {
      const { reservation, computer, after, limit } = request.query;
      if (holderOf(request).role !== 'admin') {
        const found =
          reservation === undefined ? undefined : await manager.reservations.get(reservation);
        if (found === undefined || !visibleTo(request, found)) {
          throw managerError(
            reservation === undefined
              ? 'VLAB_ERR_AUTH_FORBIDDEN'
              : 'VLAB_ERR_RESERVATION_NOT_FOUND',
            reservation === undefined
              ? "only an admin may read the whole lab's events; name one of your reservations"
              : `no reservation of yours has the id ${reservation}`,
          );
        }
      }
      const events = await manager.events({ reservationId: reservation, computer, after, limit });
      return { items: events.map(eventWire) };
    },
  );
}
