import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ImageStatus } from '../../engine/images.js';
import { managerError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../api-app.js';
import { holderOf } from '../authentication.js';
import { imageSchema, limits } from '../wire-schemas.js';

function imageWire(image: ImageStatus): z.input<typeof imageSchema> {
  return {
    name: image.name,
    osFamily: image.osFamily,
    owner: image.owner ?? null,
    newRevisionTest: image.newRevisionTest,
    revisions: image.revisions.map((r) => ({
      revision: r.revision,
      state: r.state,
      sizeBytes: r.sizeBytes ?? null,
      capturedFrom: r.capturedFrom ?? null,
      failure: r.failure ?? null,
    })),
  };
}

const byName = z.strictObject({ name: limits.name });
const byRevision = z.strictObject({
  name: limits.name,
  revision: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1),
});

/** The images and their revisions: anyone lists them; admins and the image's owner promote and retire revisions. */
export function imageRoutes(app: ApiApp, { manager }: ApiContext): void {
  const found = async (name: string): Promise<ImageStatus> => {
    const image = await manager.images.get(name);
    if (image === undefined) {
      throw managerError('VLAB_ERR_IMAGE_UNKNOWN', `the lab has no image "${name}"`);
    }
    return image;
  };
  const ownedBy = async (request: FastifyRequest, name: string): Promise<void> => {
    const image = await found(name);
    const holder = holderOf(request);
    if (holder.role !== 'admin' && image.owner !== holder.login) {
      throw managerError(
        'VLAB_ERR_AUTH_FORBIDDEN',
        `only an admin or the owner of image "${name}" may change its revisions`,
      );
    }
  };

  app.get(
    '/images',
    {
      schema: {
        summary: "The lab's images with their revisions",
        tags: ['images'],
        response: { 200: z.object({ items: z.array(imageSchema) }) },
      },
    },
    async () => ({ items: (await manager.images.list()).map(imageWire) }),
  );

  app.get(
    '/images/:name',
    {
      schema: {
        summary: 'One image with its revisions',
        tags: ['images'],
        params: byName,
        response: { 200: imageSchema },
      },
    },
    async (request) => imageWire(await found(request.params.name)),
  );

  app.post(
    '/images/:name/revisions/:revision/promote',
    {
      schema: {
        summary: 'Marks a testing revision production (admins and the image owner)',
        tags: ['images'],
        params: byRevision,
        response: { 200: imageSchema },
      },
    },
    async (request) => {
      await ownedBy(request, request.params.name);
      return imageWire(await manager.images.promote(request.params.name, request.params.revision));
    },
  );

  app.post(
    '/images/:name/revisions/:revision/retire',
    {
      schema: {
        summary: 'Retires a revision: no new reservation gets it (admins and the image owner)',
        tags: ['images'],
        params: byRevision,
        response: { 200: imageSchema },
      },
    },
    async (request) => {
      await ownedBy(request, request.params.name);
      return imageWire(await manager.images.retire(request.params.name, request.params.revision));
    },
  );
}
