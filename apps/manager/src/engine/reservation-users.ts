import { randomBytes } from 'node:crypto';
import { type ReservationUser, Secret, type UserAccess } from '@vlab/core';
import { UserRegistry } from '../database/users.js';
import { managerError } from '../errors.js';
import { open, seal } from '../secrets/secret-box.js';
import type { Engine } from './engine.js';
import { operationScope, osModuleOf, type ReservationPlan } from './reservation-plan.js';
import { moduleStep, type Outcome, stateStep } from './steps.js';

/**
 * Step `seal-passwords`: one generated password per user, sealed before it reaches the database.
 * A re-run keeps the passwords sealed the first time (`ON CONFLICT DO NOTHING`).
 */
export async function sealPasswords(plan: ReservationPlan): Promise<void> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
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
}

/**
 * Step `reserve`: `os.reserve` for the reservation's users, from the registry, with their sealed
 * passwords, and records how they connect. A re-run calls it again with the same users and
 * passwords (idempotent by contract) and records the answer again.
 */
export function reserveUsers(plan: ReservationPlan): Promise<Outcome<readonly UserAccess[]>> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  return moduleStep('reserve', scope, async (current) => {
    const users = await reservationUsers(current, plan);
    const os = osModuleOf(current, plan.image.osFamily);
    const result = await os.reserve(
      await current.access.osContext(plan.computer, os, operationScope(current, plan, 'reserve')),
      { users },
    );
    const access = result.access.map((a) => ({
      login: a.login,
      protocol: a.protocol,
      host: a.host,
      port: a.port,
    }));
    await current.db
      .updateTable('reservations')
      .set({ access: JSON.stringify(access) })
      .where('id', '=', plan.reservationId)
      .execute();
    return access;
  });
}

/** Every IPv4 and IPv6 address: a user whose `allowFrom` is empty may connect from anywhere. */
const ANYWHERE: readonly string[] = ['0.0.0.0/0', '::/0'];

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
      // The registry's empty list means anywhere; the contract's list is what the firewall opens.
      allowFrom: user.allowFrom.length === 0 ? ANYWHERE : user.allowFrom,
    });
  }
  return users;
}
