import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ReservationStatus } from '../../engine/reservations.js';
import { managerError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../api-app.js';
import { holderOf } from '../authentication.js';
import {
  accessSchema,
  limits,
  pageOf,
  pageQuery,
  reservationRequestSchema,
  reservationSchema,
  reservationStateSchema,
} from '../wire-schemas.js';

export function reservationWire(r: ReservationStatus): z.input<typeof reservationSchema> {
  return {
    id: r.id,
    requestId: r.requestId,
    image: r.image,
    revision: r.revision,
    computer: r.computer ?? null,
    logins: [...r.logins],
    state: r.state,
    startsAt: r.startsAt.toISOString(),
    endsAt: r.endsAt.toISOString(),
    readyAt: r.readyAt?.toISOString() ?? null,
    connectedAt: r.connectedAt?.toISOString() ?? null,
    endedAt: r.endedAt?.toISOString() ?? null,
    endReason: r.endReason ?? null,
    access: r.access.map(({ login, protocol, host, port }) => ({ login, protocol, host, port })),
  };
}

/** Whether the request's user may see the reservation: admins see all, users their own. */
export function visibleTo(request: FastifyRequest, reservation: ReservationStatus): boolean {
  const holder = holderOf(request);
  return holder.role === 'admin' || reservation.logins.includes(holder.login);
}

const byId = z.strictObject({ id: limits.uuid });

/** The reservations: a user requests, follows, extends, ends and captures their own; admins all. */
export function reservationRoutes(app: ApiApp, { manager }: ApiContext): void {
  // Another user's reservation is "not found", as one that does not exist: ids are not probed.
  const visible = async (request: FastifyRequest, id: string): Promise<ReservationStatus> => {
    const reservation = await manager.reservations.get(id);
    if (reservation === undefined || !visibleTo(request, reservation)) {
      throw managerError(
        'VLAB_ERR_RESERVATION_NOT_FOUND',
        `no reservation of yours has the id ${id}`,
      );
    }
    return reservation;
  };

  app.get(
    '/reservations',
    {
      schema: {
        summary: 'Reservations, newest first: yours, or every one for admins',
        tags: ['reservations'],
        querystring: z.strictObject({
          state: reservationStateSchema.optional(),
          login: limits.login.optional().describe('Only those of this user'),
          ...pageQuery,
        }),
        response: { 200: pageOf(reservationSchema) },
      },
    },
    async (request) => {
      const { state, login, limit, offset } = request.query;
      const all = (await manager.reservations.list()).filter(
        (r) =>
          visibleTo(request, r) &&
          (state === undefined || r.state === state) &&
          (login === undefined || r.logins.includes(login)),
      );
      return { items: all.slice(offset, offset + limit).map(reservationWire), total: all.length };
    },
  );

  app.post(
    '/reservations',
    {
      schema: {
        summary:
          'Requests a computer with an image; the computer is prepared afterwards (follow its events)',
        tags: ['reservations'],
        body: reservationRequestSchema,
        response: { 201: reservationSchema },
      },
    },
    async (request, reply) => {
      const holder = holderOf(request);
      const body = request.body;
      const logins = body.logins ?? [holder.login];
      if (holder.role !== 'admin' && !logins.includes(holder.login)) {
        throw managerError(
          'VLAB_ERR_AUTH_FORBIDDEN',
          'a user who is not an admin may only reserve for a list of users that includes themselves',
        );
      }
      const reservation = await manager.reservations.request({
        requestId: body.requestId ?? randomUUID(),
        image: body.image,
        revision: body.revision,
        minutes: body.minutes,
        logins,
        computer: body.computer,
      });
      return reply.code(201).send(reservationWire(reservation));
    },
  );

  app.get(
    '/reservations/:id',
    {
      schema: {
        summary: 'One reservation',
        tags: ['reservations'],
        params: byId,
        response: { 200: reservationSchema },
      },
    },
    async (request) => reservationWire(await visible(request, request.params.id)),
  );

  app.get(
    '/reservations/:id/access',
    {
      schema: {
        summary: "How you connect to a ready reservation's computer, with your password",
        tags: ['reservations'],
        params: byId,
        response: { 200: accessSchema },
      },
    },
    async (request) => {
      await visible(request, request.params.id);
      const access = await manager.reservations.access(request.params.id, holderOf(request).login);
      return {
        login: access.login,
        protocol: access.protocol,
        host: access.host,
        port: access.port,
        password: access.password?.reveal() ?? null,
        hostKeys: [...access.hostKeys],
      };
    },
  );

  app.post(
    '/reservations/:id/end',
    {
      schema: {
        summary: 'Ends a reservation now; its computer is reclaimed',
        tags: ['reservations'],
        params: byId,
        body: z.strictObject({ reason: limits.endReason.optional() }).optional(),
        response: { 200: reservationSchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      await visible(request, id);
      await manager.reservations.end(id, request.body?.reason);
      return reservationWire(await visible(request, id));
    },
  );

  app.post(
    '/reservations/:id/extend',
    {
      schema: {
        summary: "Moves a reservation's end, within the lab's policy",
        tags: ['reservations'],
        params: byId,
        body: z.strictObject({ minutes: z.int().min(1).max(1_000_000) }),
        response: { 200: reservationSchema },
      },
    },
    async (request) => {
      await visible(request, request.params.id);
      return reservationWire(
        await manager.reservations.extend(request.params.id, request.body.minutes),
      );
    },
  );

  for (const mode of ['capture', 'checkpoint'] as const) {
    app.post(
      `/reservations/:id/${mode}`,
      {
        schema: {
          summary:
            mode === 'capture'
              ? "Saves the reservation's computer as a new revision of its image, or of the image `image` names (a new name makes a new image), and ends the reservation"
              : "Saves the reservation's computer as a new revision of its image, or of the image `image` names (a new name makes a new image), and hands it back",
          description:
            'Into an image that exists: admins and its owner. Into a new name: the reservation’s holder, who owns the new image.',
          tags: ['reservations'],
          params: byId,
          // A request without a body arrives as null: it captures into the reservation's image.
          body: z.strictObject({ image: limits.name.optional() }).nullish(),
          response: { 202: reservationSchema },
        },
      },
      async (request, reply) => {
        const reservation = await visible(request, request.params.id);
        const holder = holderOf(request);
        const into = request.body?.image ?? reservation.image;
        const image = await manager.images.get(into);
        if (image !== undefined && holder.role !== 'admin' && image.owner !== holder.login) {
          throw managerError(
            'VLAB_ERR_AUTH_FORBIDDEN',
            `only an admin or the owner of image "${into}" may capture into it`,
            {
              hint: 'capture into a new image name instead (`image`; `vlab capture --name`): you will own it',
            },
          );
        }
        await manager.reservations.capture(reservation.id, {
          mode: mode === 'capture' ? 'image' : 'checkpoint',
          image: into,
          owner: holder.login,
        });
        return reply.code(202).send(reservationWire(await visible(request, reservation.id)));
      },
    );
  }
}
