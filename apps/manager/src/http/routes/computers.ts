import { z } from 'zod';
import type { ComputerStatus } from '../../engine/computers.js';
import { managerError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../api-app.js';
import { requireAdmin } from '../authentication.js';
import { computerSchema, limits } from '../wire-schemas.js';

export function computerWire(computer: ComputerStatus): z.input<typeof computerSchema> {
  return {
    name: computer.name,
    provisioner: computer.provisioner,
    state: computer.state,
    maintenanceReason: computer.maintenanceReason ?? null,
    maintenanceRequested: computer.maintenanceRequested ?? null,
    loaded: computer.loaded ?? null,
    tainted: computer.tainted,
    power: {
      state: computer.power.state,
      checkedAt: computer.power.checkedAt?.toISOString() ?? null,
    },
  };
}

const byName = z.strictObject({ name: limits.name });

/** The computers: anyone lists them; admins take them in and out of maintenance and reload them. */
export function computerRoutes(app: ApiApp, { manager }: ApiContext): void {
  const found = async (name: string): Promise<ComputerStatus> => {
    const computer = await manager.computers.get(name);
    if (computer === undefined) {
      throw managerError('VLAB_ERR_COMPUTER_UNAVAILABLE', `the lab has no computer "${name}"`);
    }
    return computer;
  };

  app.get(
    '/computers',
    {
      schema: {
        summary: "The lab's computers",
        tags: ['computers'],
        querystring: z.strictObject({ state: computerSchema.shape.state.optional() }),
        response: { 200: z.object({ items: z.array(computerSchema) }) },
      },
    },
    async (request) => {
      const all = await manager.computers.list();
      const { state } = request.query;
      return {
        items: all.filter((c) => state === undefined || c.state === state).map(computerWire),
      };
    },
  );

  app.get(
    '/computers/:name',
    {
      schema: {
        summary: 'One computer',
        tags: ['computers'],
        params: byName,
        response: { 200: computerSchema },
      },
    },
    async (request) => computerWire(await found(request.params.name)),
  );

  app.post(
    '/computers/:name/maintenance',
    {
      schema: {
        summary:
          'Takes a computer into maintenance (admins); at once when it is free, else when its reservation ends',
        tags: ['computers'],
        params: byName,
        body: z.strictObject({ reason: limits.maintenanceReason }),
        response: { 200: computerSchema },
      },
    },
    async (request) => {
      requireAdmin(request);
      await found(request.params.name);
      return computerWire(
        await manager.computers.maintenance(request.params.name, request.body.reason),
      );
    },
  );

  app.delete(
    '/computers/:name/maintenance',
    {
      schema: {
        summary: 'Takes a computer out of maintenance (admins)',
        tags: ['computers'],
        params: byName,
        response: { 200: computerSchema },
      },
    },
    async (request) => {
      requireAdmin(request);
      await found(request.params.name);
      return computerWire(await manager.computers.release(request.params.name));
    },
  );

  app.post(
    '/computers/:name/reload',
    {
      schema: {
        summary: 'Loads an image revision on a computer in maintenance (admins)',
        tags: ['computers'],
        params: byName,
        body: z.strictObject({
          image: limits.name,
          revision: z.int().min(1).optional(),
          requestId: limits.reloadRequestId.optional(),
        }),
        response: { 200: computerSchema },
      },
    },
    async (request) => {
      requireAdmin(request);
      await found(request.params.name);
      return computerWire(await manager.computers.reload(request.params.name, request.body));
    },
  );
}
