import { createOperationContext } from '@vlab/core';
import { sql } from 'kysely';
import { updateComputer } from './computer-rows.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';

/** What {@link assignComputer} decided. */
export type Assignment =
  /** The computer is the reservation's; `reuse` when it already holds the revision, untainted. */
  | { readonly kind: 'assigned'; readonly computer: string; readonly reuse: boolean }
  /** No computer is free now; ask again later. */
  | { readonly kind: 'wait' }
  /** The reservation ended before it got a computer, or no computer can ever serve it. */
  | { readonly kind: 'none'; readonly reason: string };

/**
 * Picks the reservation's computer and marks both `loading`, in one transaction.
 *
 * @remarks
 * Re-run: a reservation that has its computer gets the same answer, so a recovered workflow never
 * takes a second computer. Candidates are `available` computers (or the one the request names)
 * whose provisioner's store holds the revision; a computer that already holds the revision and is
 * not tainted comes first (reuse before reload).
 */
export async function assignComputer(current: Engine, reservationId: string): Promise<Assignment> {
  const { db, access } = current;
  const reservation = await db
    .selectFrom('reservations')
    .selectAll()
    .where('id', '=', reservationId)
    .executeTakeFirstOrThrow();
  if (reservation.computer !== null) {
    const row = await db
      .selectFrom('computers')
      .select(['loaded_image', 'loaded_revision', 'tainted'])
      .where('name', '=', reservation.computer)
      .executeTakeFirstOrThrow();
    return {
      kind: 'assigned',
      computer: reservation.computer,
      reuse: holds(row, reservation.image, reservation.revision),
    };
  }
  if (reservation.state !== 'pending') {
    return { kind: 'none', reason: `the reservation is ${reservation.state}` };
  }

  // Which provisioner instances can load the revision: asked before the transaction, which must
  // not wait on a store.
  const provisioners = new Set(
    (await db.selectFrom('computers').select('provisioner').distinct().execute()).map(
      (r) => r.provisioner,
    ),
  );
  const able = new Set<string>();
  for (const key of provisioners) {
    const sample = await db
      .selectFrom('computers')
      .select('name')
      .where('provisioner', '=', key)
      .executeTakeFirst();
    if (sample === undefined || !access.has(sample.name)) continue;
    const ctx = createOperationContext({
      log: current.log,
      deadline: Date.now() + OPERATION_TIMEOUTS_MS.imageExists,
      signal: current.signal,
      phase: 'image-exists',
    });
    const exists = await access
      .provisioner(sample.name)
      .imageExists(ctx, { name: reservation.image, revision: reservation.revision });
    if (exists) able.add(key);
  }
  if (able.size === 0) {
    return {
      kind: 'none',
      reason: `no provisioner's store holds ${reservation.image} revision ${reservation.revision}`,
    };
  }

  return db.transaction().execute(async (tx) => {
    // One row, locked: concurrent assignments skip it and take the next free computer. A computer
    // holding the revision untainted comes first (reuse before reload).
    const holdsIt = sql<boolean>`coalesce(loaded_image = ${reservation.image} AND loaded_revision = ${reservation.revision} AND NOT tainted, false)`;
    let query = tx
      .selectFrom('computers')
      .select(['name', holdsIt.as('reuse')])
      .where('state', '=', 'available')
      .where('provisioner', 'in', [...able])
      .orderBy(holdsIt, 'desc')
      .orderBy('name')
      .limit(1)
      .forUpdate()
      .skipLocked();
    if (reservation.requested_computer !== null) {
      query = query.where('name', '=', reservation.requested_computer);
    }
    const chosen = await query.executeTakeFirst();
    if (chosen === undefined) return { kind: 'wait' } as const;
    await updateComputer(tx, chosen.name, { state: 'loading' });
    await tx
      .updateTable('reservations')
      .set({ computer: chosen.name, state: 'loading' })
      .where('id', '=', reservationId)
      .execute();
    return { kind: 'assigned', computer: chosen.name, reuse: chosen.reuse } as const;
  });
}

function holds(
  row: { loaded_image: string | null; loaded_revision: number | null; tainted: boolean },
  image: string,
  revision: number,
): boolean {
  return row.loaded_image === image && row.loaded_revision === revision && !row.tainted;
}
