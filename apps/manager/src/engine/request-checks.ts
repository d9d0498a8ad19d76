import type { VlabError } from '@vlab/core';
import type { Kysely } from 'kysely';
import type { LabDatabase, RevisionState } from '../database/schema.js';
import { managerError } from '../errors.js';

// Printable: no C0/C1 control characters, no line or paragraph separators.
const PRINTABLE = /^[^\p{Cc}\u2028\u2029]+$/u;

/** Whether `value` is a string of 1 to `max` printable characters. */
export function isText(value: unknown, max: number): value is string {
  return (
    typeof value === 'string' && value.length > 0 && value.length <= max && PRINTABLE.test(value)
  );
}

/** `VLAB_ERR_REQUEST_INVALID` for `field` of a request: "`subject` `field` `problem`". */
export function invalidRequest(subject: string, field: string, problem: string): VlabError {
  return managerError('VLAB_ERR_REQUEST_INVALID', `${subject} ${field} ${problem}`, {
    details: { field },
  });
}

/**
 * The revision a request names (`revision`, or the newest in one of `states`), checked to exist
 * and be in one of `states`.
 * @throws `VLAB_ERR_IMAGE_UNKNOWN` when the image or such a revision is not there.
 */
export async function knownRevision(
  db: Kysely<LabDatabase>,
  image: string,
  revision: number | undefined,
  states: readonly RevisionState[],
): Promise<{ readonly revision: number; readonly osFamily: string }> {
  const known = await db
    .selectFrom('images')
    .select('os_family')
    .where('name', '=', image)
    .executeTakeFirst();
  if (known === undefined) {
    throw managerError(
      'VLAB_ERR_IMAGE_UNKNOWN',
      `the lab has no image ${JSON.stringify(image).slice(0, 120)}`,
    );
  }
  let query = db
    .selectFrom('revisions')
    .select('revision')
    .where('image', '=', image)
    .where('state', 'in', states);
  if (revision !== undefined) query = query.where('revision', '=', revision);
  const chosen = await query.orderBy('revision', 'desc').executeTakeFirst();
  if (chosen === undefined) {
    const which = revision === undefined ? 'no revision' : `no revision ${revision}`;
    throw managerError(
      'VLAB_ERR_IMAGE_UNKNOWN',
      `image ${image} has ${which} in ${states.join(' or ')}`,
    );
  }
  return { revision: chosen.revision, osFamily: known.os_family };
}
