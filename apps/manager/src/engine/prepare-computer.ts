import { randomBytes } from 'node:crypto';
import { type ImageRef, type ReservationUser, Secret, type UserAccess } from '@vlab/core';
import { UserRegistry } from '../database/users.js';
import { managerError } from '../errors.js';
import { open, seal } from '../secrets/secret-box.js';
import { updateComputer } from './computer-rows.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';
import { moduleStep, type Outcome, stateStep } from './steps.js';

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

/**
 * The child workflow that makes a computer ready for its reservation, on the computer's queue
 * partition (one machine workflow per computer at a time): check or load the image, then
 * `os.reserve` for the reservation's users.
 *
 * @remarks
 * Its steps and what a re-run of each does:
 * - `node-status` (only when the computer already holds the revision): asks again; harmless.
 * - `load`: loads again. Only a load interrupted before its outcome was checkpointed re-runs; a
 *   completed load is never started again for the same reservation.
 * - `loaded`: writes the same row again.
 * - `seal-passwords`: keeps the passwords sealed the first time (`ON CONFLICT DO NOTHING`).
 * - `taint`: marks the computer tainted again (before `reserve` runs, so a crash inside `reserve`
 *   still reloads the computer before anyone else gets it).
 * - `reserve`: calls `os.reserve` again with the same users and passwords; the contract makes it
 *   idempotent for the same users.
 */
export async function prepareComputer(
  plan: ReservationPlan,
  reuse: boolean,
): Promise<Outcome<readonly UserAccess[]>> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  const os = (current: Engine) => {
    const module = current.access.osModule(plan.image.osFamily);
    if (module === undefined) throw new TypeError(`no OS module for ${plan.image.osFamily}`);
    return module;
  };
  const operation = (current: Engine, phase: keyof typeof OPERATION_TIMEOUTS_MS) => ({
    phase,
    timeoutMs: OPERATION_TIMEOUTS_MS[phase],
    signal: current.signal,
    image: plan.image,
    reservation: { id: plan.reservationId, endsAt: plan.endsAt },
  });

  let loaded = false;
  if (reuse) {
    const status = await moduleStep('node-status', scope, async (current) => {
      const node = await current.access
        .provisioner(plan.computer)
        .nodeStatus(
          await current.access.provisionerContext(
            plan.computer,
            os(current),
            operation(current, 'nodeStatus'),
          ),
        );
      return {
        verdict: node.verdict,
        image: node.stamp?.image,
        revision: node.stamp?.revision,
      };
    });
    loaded =
      status.ok &&
      status.value.verdict === 'ready' &&
      status.value.image === plan.image.name &&
      status.value.revision === plan.image.revision;
  }
  if (!loaded) {
    const load = await moduleStep('load', scope, async (current) => {
      await current.access
        .provisioner(plan.computer)
        .load(
          await current.access.provisionerContext(
            plan.computer,
            os(current),
            operation(current, 'load'),
          ),
          {
            image: plan.image.name,
            revision: plan.image.revision,
          },
        );
    });
    if (!load.ok) return load;
    await stateStep('loaded', scope, (current) =>
      updateComputer(current.db, plan.computer, {
        loaded_image: plan.image.name,
        loaded_revision: plan.image.revision,
        tainted: false,
      }),
    );
  }

  await stateStep('seal-passwords', scope, async (current) => {
    for (const login of plan.logins) {
      const password = new Secret(randomBytes(18).toString('base64url'), `password of ${login}`);
      await current.db
        .insertInto('reservation_secrets')
        .values({
          reservation_id: plan.reservationId,
          login,
          ciphertext: seal(current.key, password, passwordAad(plan.reservationId, login)),
        })
        .onConflict((c) => c.columns(['reservation_id', 'login']).doNothing())
        .execute();
    }
  });
  await stateStep('taint', scope, (current) =>
    updateComputer(current.db, plan.computer, { tainted: true }),
  );
  return moduleStep('reserve', scope, async (current) => {
    const users = await reservationUsers(current, plan);
    const result = await os(current).reserve(
      await current.access.osContext(plan.computer, operation(current, 'reserve')),
      { users },
    );
    return result.access.map((a) => ({
      login: a.login,
      protocol: a.protocol,
      host: a.host,
      port: a.port,
    }));
  });
}

/** What a sealed password of a reservation is bound to. */
export function passwordAad(reservationId: string, login: string): string {
  return `reservation:${reservationId}:${login}`;
}

/** The reservation's users as `os.reserve` takes them: from the registry, passwords unsealed. */
async function reservationUsers(
  current: Engine,
  plan: ReservationPlan,
): Promise<ReservationUser[]> {
  const registry = new UserRegistry(current.db);
  const sealed = new Map(
    (
      await current.db
        .selectFrom('reservation_secrets')
        .select(['login', 'ciphertext'])
        .where('reservation_id', '=', plan.reservationId)
        .execute()
    ).map((row) => [row.login, row.ciphertext]),
  );
  const users: ReservationUser[] = [];
  for (const login of plan.logins) {
    const user = await registry.get(login);
    if (user === undefined) {
      throw managerError(
        'VLAB_ERR_USER_UNKNOWN',
        `user ${login} of reservation ${plan.reservationId} is no longer registered`,
      );
    }
    const ciphertext = sealed.get(login);
    users.push({
      login,
      fullName: user.displayName === '' ? undefined : user.displayName,
      sshKeys: user.sshKeys,
      password:
        ciphertext === undefined
          ? undefined
          : open(
              current.key,
              ciphertext,
              passwordAad(plan.reservationId, login),
              `password of ${login}`,
            ),
      admin: user.role === 'admin',
      allowFrom: user.allowFrom,
    });
  }
  return users;
}
