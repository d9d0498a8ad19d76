import type { ImageRef, OsModule } from '@vlab/core';
import type { OperationScope } from './computer-access.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';

/** What the machine steps of one reservation need to know; read once, checkpointed. */
export interface ReservationPlan {
  readonly reservationId: string;
  readonly computer: string;
  readonly image: ImageRef;
  readonly logins: readonly string[];
  readonly endsAt: string;
}

/** Reads the {@link ReservationPlan} of a reservation that has its computer. */
export async function readPlan(current: Engine, reservationId: string): Promise<ReservationPlan> {
  const row = await current.db
    .selectFrom('reservations')
    .innerJoin('images', 'images.name', 'reservations.image')
    .select([
      'reservations.computer',
      'reservations.image',
      'reservations.revision',
      'reservations.logins',
      'reservations.ends_at',
      'images.os_family',
    ])
    .where('reservations.id', '=', reservationId)
    .executeTakeFirstOrThrow();
  if (row.computer === null) throw new TypeError(`reservation ${reservationId} has no computer`);
  return {
    reservationId,
    computer: row.computer,
    image: { name: row.image, revision: row.revision, osFamily: row.os_family },
    logins: row.logins,
    endsAt: row.ends_at.toISOString(),
  };
}

/** The OS module of an OS family; the configuration names one for every image's family. */
export function osModuleOf(current: Engine, family: string): OsModule {
  const module = current.access.osModule(family);
  if (module === undefined)
    throw new TypeError(`the configuration names no OS module for ${family}`);
  return module;
}

/** The scope of one module operation of the reservation, with its phase's time limit. */
export function operationScope(
  current: Engine,
  plan: ReservationPlan,
  phase: keyof typeof OPERATION_TIMEOUTS_MS,
  image: ImageRef = plan.image,
): OperationScope {
  return {
    phase,
    timeoutMs: OPERATION_TIMEOUTS_MS[phase],
    signal: current.signal,
    image,
    reservation: { id: plan.reservationId, endsAt: plan.endsAt },
  };
}
