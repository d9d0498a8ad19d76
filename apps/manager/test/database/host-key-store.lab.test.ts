import { generateHostKey, isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { openDatabase } from '../../src/database/database.js';
import { type HostKeyPins, PostgresHostKeyStore } from '../../src/database/host-key-store.js';
import { startTestPostgres, type TestPostgres } from './lab-postgres.js';

let lab: TestPostgres;

beforeAll(async () => {
  lab = await startTestPostgres('host-keys');
});

afterAll(async () => {
  await lab?.cleanup();
});

function keys(count: number, comment: string): string[] {
  return Array.from(
    { length: count },
    (_, index) => generateHostKey(`${comment}-${index}`).publicKey,
  );
}

describe('PostgresHostKeyStore', () => {
  it('has the shape of @vlab/ssh’s HostKeyStore', () => {
    // Restated from packages/ssh/src/host-key.ts; the manager does not depend on @vlab/ssh.
    interface HostKeyStore {
      get(hostId: string): Promise<readonly string[]>;
      replace(hostId: string, publicKeys: readonly string[]): Promise<void>;
    }
    expectTypeOf<PostgresHostKeyStore>().toExtend<HostKeyStore>();
    expectTypeOf<HostKeyPins>().toEqualTypeOf<HostKeyStore>();
  });

  it('replaces and gets pins, and keeps them across a reopen and a restart', async () => {
    const pins = keys(2, 'node1');
    let database = await openDatabase({ url: lab.server.url, log: lab.log });
    try {
      const store = new PostgresHostKeyStore(database.db);
      expect(await store.get('node1')).toEqual([]);
      await store.replace('node1', pins);
      expect(await store.get('node1')).toEqual(pins);
      await store.replace('[node1]:2222', [pins[0] as string]);
      expect(await store.get('[node1]:2222')).toEqual([pins[0]]);
      expect(await store.get('node1')).toEqual(pins);
    } finally {
      await database.close();
    }

    database = await openDatabase({ url: lab.server.url, log: lab.log });
    try {
      expect(await new PostgresHostKeyStore(database.db).get('node1')).toEqual(pins);
    } finally {
      await database.close();
    }

    await lab.restart();
    database = await openDatabase({ url: lab.server.url, log: lab.log });
    try {
      const store = new PostgresHostKeyStore(database.db);
      expect(await store.get('node1')).toEqual(pins);
      await store.replace('node1', []);
      expect(await store.get('node1')).toEqual([]);
    } finally {
      await database.close();
    }
  });

  it('ends a race of two managers with one of the two sets, never a mix', async () => {
    const a = await openDatabase({ url: lab.server.url, log: lab.log });
    const b = await openDatabase({ url: lab.server.url, log: lab.log });
    try {
      const storeA = new PostgresHostKeyStore(a.db);
      const storeB = new PostgresHostKeyStore(b.db);
      const setA = keys(3, 'a');
      const setB = keys(2, 'b');
      await storeA.replace('race', setA);
      const seen: (readonly string[])[] = [];
      await Promise.all(
        Array.from({ length: 40 }, async (_, index) => {
          if (index % 4 === 3) {
            seen.push(await (index % 8 === 3 ? storeA : storeB).get('race'));
          } else if (index % 2 === 0) {
            await storeA.replace('race', setA);
          } else {
            await storeB.replace('race', setB);
          }
        }),
      );
      seen.push(await storeA.get('race'), await storeB.get('race'));
      for (const pins of seen) expect([setA, setB]).toContainEqual(pins);
      expect(await storeA.get('race')).toEqual(await storeB.get('race'));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuses keys that are not OpenSSH public key lines, and writes nothing', async () => {
    const database = await openDatabase({ url: lab.server.url, log: lab.log });
    try {
      const store = new PostgresHostKeyStore(database.db);
      const [good] = keys(1, 'good');
      await store.replace('node2', [good as string]);
      for (const bad of [`${good}\nssh-ed25519 AAAA`, 'ssh-ed25519', '', 'garbage']) {
        const error = await store
          .replace('node2', [good as string, bad])
          .catch((caught: unknown) => caught);
        expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
        expect((error as { details: Record<string, unknown> }).details['field']).toBe(
          'publicKeys[1]',
        );
      }
      for (const hostId of ['', 'a b', 'node\n2']) {
        const error = await store.get(hostId).catch((caught: unknown) => caught);
        expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
      }
      expect(await store.get('node2')).toEqual([good]);
    } finally {
      await database.close();
    }
  });
});
