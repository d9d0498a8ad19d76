import { createOperationContext, type Logger, type Provisioner } from '@vlab/core';
import type { Kysely } from 'kysely';
import type { ManagerConfig } from '../config/manager-config.js';
import type { LabDatabase } from '../database/schema.js';

/** How long one store may take to list its images at start, in ms. */
const LIST_TIMEOUT_MS = 60_000;

/**
 * Adds the revisions the provisioners' stores hold of the configured images that the database
 * does not know, as `production`: an image an admin put into a store (`importImage`, or by hand)
 * is reservable once the manager starts. Known revisions are left as they are; a revision whose
 * OS family differs from the image's is skipped with a warning. Returns the revisions added
 * (`name@revision`).
 *
 * @remarks
 * A production revision needs its SHA-256: one the store reports without it is skipped with a
 * warning.
 */
export async function syncRevisions(
  db: Kysely<LabDatabase>,
  config: ManagerConfig,
  provisioners: ReadonlyMap<string, Provisioner>,
  options: { readonly log: Logger; readonly signal: AbortSignal },
): Promise<string[]> {
  const images = new Map(config.images.map((image) => [image.name, image]));
  const added: string[] = [];
  for (const [key, provisioner] of provisioners) {
    const ctx = createOperationContext({
      log: options.log.child({ provisioner: key }),
      deadline: Date.now() + LIST_TIMEOUT_MS,
      signal: options.signal,
      phase: 'list-images',
    });
    for (const stored of await provisioner.listImages(ctx)) {
      const image = images.get(stored.name);
      if (image === undefined) continue;
      if (stored.osFamily !== undefined && stored.osFamily !== image.osFamily) {
        options.log.warn('a stored revision holds another OS family than its image; skipped', {
          image: stored.name,
          revision: stored.revision,
          stored: stored.osFamily,
          configured: image.osFamily,
        });
        continue;
      }
      if (stored.sha256 === undefined) {
        options.log.warn('a stored revision has no SHA-256; skipped', {
          image: stored.name,
          revision: stored.revision,
        });
        continue;
      }
      const inserted = await db
        .insertInto('revisions')
        .values({
          image: stored.name,
          revision: stored.revision,
          state: 'production',
          sha256: stored.sha256,
          size_bytes: stored.sizeBytes,
          stored_bytes: stored.storedBytes ?? null,
        })
        .onConflict((c) => c.columns(['image', 'revision']).doNothing())
        .returning('revision')
        .executeTakeFirst();
      if (inserted !== undefined) added.push(`${stored.name}@${stored.revision}`);
    }
  }
  if (added.length > 0) options.log.info('revisions found in the stores', { added });
  return added;
}
