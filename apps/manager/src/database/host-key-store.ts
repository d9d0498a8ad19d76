import { type Kysely, sql } from 'kysely';
import { invalidValueError } from './errors.js';
import { normaliseOpenSshKey, openSshKeyProblem } from './openssh-key.js';
import type { LabDatabase } from './schema.js';

/** Most keys pinned for one host (a host has one per key type). @public */
export const MAX_PINNED_KEYS = 16;

/**
 * Where SSH host key pins live: the shape of `HostKeyStore` in `@vlab/ssh`, restated so the
 * manager's state layer does not depend on the SSH package. A class implementing this fits there.
 * @public
 */
export interface HostKeyPins {
  /** The OpenSSH one-line public keys pinned for `hostId`; empty when it has no pin. */
  get(hostId: string): Promise<readonly string[]>;
  /** Replaces every pin of `hostId` with `publicKeys`. */
  replace(hostId: string, publicKeys: readonly string[]): Promise<void>;
}

/**
 * SSH host key pins in the database (table `host_keys`): they survive restarts and every manager
 * on the database sees the same ones. Give it to `@vlab/ssh` wherever a `HostKeyStore` is asked
 * for.
 * @public
 */
export class PostgresHostKeyStore implements HostKeyPins {
  readonly #db: Kysely<LabDatabase>;

  /** @param db - The manager's database (see `openDatabase`). */
  constructor(db: Kysely<LabDatabase>) {
    this.#db = db;
  }

  /** The keys pinned for `hostId`, in the order they were given; empty when none. */
  async get(hostId: string): Promise<readonly string[]> {
    const row = await this.#db
      .selectFrom('host_keys')
      .select('public_keys')
      .where('host_id', '=', checkHostId(hostId))
      .executeTakeFirst();
    return row?.public_keys ?? [];
  }

  /**
   * Replaces the pins of `hostId`, in one statement (an upsert): a reader, or another manager
   * replacing them at the same time, sees the old set or a new one, never a mix. An empty list
   * removes every pin.
   * @throws `VLAB_ERR_CONFIG_INVALID` naming the key that is not an OpenSSH public key line;
   * nothing is written then.
   */
  async replace(hostId: string, publicKeys: readonly string[]): Promise<void> {
    const host = checkHostId(hostId);
    if (!Array.isArray(publicKeys) || publicKeys.length > MAX_PINNED_KEYS) {
      throw invalidValueError(
        'publicKeys',
        `the host keys of "${host}" are not a list of at most ${MAX_PINNED_KEYS} keys`,
      );
    }
    const keys = publicKeys.map((key, index) => {
      const problem = openSshKeyProblem(key);
      if (problem !== undefined) {
        throw invalidValueError(
          `publicKeys[${index}]`,
          `host key ${index} of "${host}" is not an OpenSSH public key line: it ${problem}`,
          { hint: 'Pass the keys as the host prints them (ssh-keyscan, /etc/ssh/*.pub).' },
        );
      }
      return normaliseOpenSshKey(key);
    });
    await this.#db
      .insertInto('host_keys')
      .values({ host_id: host, public_keys: JSON.stringify(keys) })
      .onConflict((conflict) =>
        conflict.column('host_id').doUpdateSet({
          public_keys: (eb) => eb.ref('excluded.public_keys'),
          updated_at: sql<Date>`now()`,
        }),
      )
      .execute();
  }
}

function checkHostId(hostId: unknown): string {
  if (
    typeof hostId !== 'string' ||
    hostId === '' ||
    hostId.length > 300 ||
    /[\p{Cc}\p{Cf}\s]/u.test(hostId)
  ) {
    throw invalidValueError(
      'hostId',
      'a host id is empty, too long or holds spaces or control characters',
      { hint: 'Use the host id @vlab/ssh gives (host, or [host]:port).' },
    );
  }
  return hostId;
}
