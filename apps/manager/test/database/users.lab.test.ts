import { generateHostKey, isVlabError } from '@vlab/core';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LabDatabaseHandle, openDatabase } from '../../src/database/database.js';
import { type NewUser, UserRegistry } from '../../src/database/users.js';
import { startTestPostgres, type TestPostgres } from './lab-postgres.js';

let lab: TestPostgres;
let database: LabDatabaseHandle;
let users: UserRegistry;

const KEY = generateHostKey('alice@laptop').publicKey;
const OTHER_KEY = generateHostKey('alice@desktop').publicKey;

beforeAll(async () => {
  lab = await startTestPostgres('users');
  database = await openDatabase({ url: lab.server.url, log: lab.log });
  users = new UserRegistry(database.db);
});

afterAll(async () => {
  await database?.close();
  await lab?.cleanup();
});

beforeEach(async () => {
  await sql`DELETE FROM images`.execute(database.db);
  await sql`DELETE FROM users`.execute(database.db);
});

async function rowCount(): Promise<number> {
  const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users`.execute(database.db);
  return rows.rows[0]?.n ?? -1;
}

async function refused(action: () => Promise<unknown>, field: RegExp | string): Promise<Error> {
  const before = await rowCount();
  const error = await action().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), String(error)).toBe(true);
  const vlab = error as Error & { details: Record<string, unknown> };
  expect(vlab.details['field']).toMatch(field);
  expect(await rowCount()).toBe(before);
  return vlab;
}

describe('UserRegistry', () => {
  it('adds, gets, lists, updates and removes users', async () => {
    const alice = await users.add({
      login: 'alice',
      role: 'admin',
      displayName: 'Alice Liddell',
      sshKeys: [`  ${KEY}  `],
      allowFrom: ['192.0.2.7', '198.51.100.0/24', '2001:db8::/32'],
    });
    expect(alice).toMatchObject({
      login: 'alice',
      role: 'admin',
      displayName: 'Alice Liddell',
      sshKeys: [KEY],
      allowFrom: ['192.0.2.7', '198.51.100.0/24', '2001:db8::/32'],
    });
    expect(alice.createdAt).toBeInstanceOf(Date);
    await users.add({ login: '_bob-2', role: 'user' });

    expect(await users.get('alice')).toEqual(alice);
    expect(await users.get('nobody_here')).toBeUndefined();
    expect((await users.list()).map((user) => user.login)).toEqual(['_bob-2', 'alice']);
    expect((await users.get('_bob-2'))?.sshKeys).toEqual([]);

    const changed = await users.update('alice', { role: 'user', sshKeys: [KEY, OTHER_KEY] });
    expect(changed).toMatchObject({
      role: 'user',
      sshKeys: [KEY, OTHER_KEY],
      displayName: 'Alice Liddell',
    });
    expect(await users.update('alice', {})).toEqual(changed);

    expect(await users.remove('alice')).toBe(true);
    expect(await users.remove('alice')).toBe(false);
    expect((await users.list()).map((user) => user.login)).toEqual(['_bob-2']);
  });

  it('refuses a login that exists, and changes nothing', async () => {
    await users.add({ login: 'carol', role: 'user', displayName: 'first' });
    const error = await refused(
      () => users.add({ login: 'carol', role: 'admin', displayName: 'second' }),
      'login',
    );
    expect(error.message).toMatch(/a user with the login "carol" already exists/);
    expect(await users.get('carol')).toMatchObject({ role: 'user', displayName: 'first' });
  });

  const HOSTILE_LOGINS = [
    "'; rm -rf / #",
    'a\nb',
    'a\0b',
    'аlice', // Cyrillic а
    'alice\u200b', // zero-width space
    'ＡＬＩＣＥ', // full-width
    'a'.repeat(33),
    'root',
    'vlab',
    'Alice',
    '-alice',
    '',
    '../etc',
  ];

  it.each(HOSTILE_LOGINS)('refuses the login %j and writes nothing', async (login) => {
    await users.add({ login: 'dave', role: 'user' });
    await refused(() => users.add({ login, role: 'user' }), 'login');
    await refused(() => users.update(login, { role: 'admin' }), 'login');
    await refused(() => users.get(login), 'login');
    await refused(() => users.remove(login), 'login');
    expect((await users.list()).map((user) => user.login)).toEqual(['dave']);
  });

  it('refuses bad SSH keys, naming the key', async () => {
    const [type = '', base64 = ''] = KEY.split(' ');
    const bad = [
      `${KEY}\nssh-ed25519 ${base64} injected`,
      `${KEY}\r`,
      `${KEY}\0`,
      `command="sh" ${KEY}`,
      `${type}`,
      `ssh-rsa ${base64}`,
      `${type} ${base64.slice(0, -4)}`,
      `${type} not*base64`,
      `${KEY} comment\u202ereversed`,
      'x'.repeat(20_000),
      42,
    ];
    for (const key of bad) {
      const error = await refused(
        () => users.add({ login: 'erin', role: 'user', sshKeys: [KEY, key] } as unknown as NewUser),
        'sshKeys[1]',
      );
      expect(error.message).toMatch(/sshKeys\[1\] is not an OpenSSH public key line/);
      expect(error.message).not.toContain(base64);
    }
    await refused(
      () => users.add({ login: 'erin', role: 'user', sshKeys: KEY } as unknown as NewUser),
      'sshKeys',
    );
    await users.add({ login: 'erin', role: 'user', sshKeys: [KEY] });
    await refused(
      () => users.update('erin', { displayName: 'Erin', sshKeys: [`${KEY}\n`] }),
      'sshKeys[0]',
    );
    expect(await users.get('erin')).toMatchObject({ displayName: '', sshKeys: [KEY] });
  });

  it('refuses bad allowFrom entries, naming the entry', async () => {
    const bad = [
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '10.0.0.0/08',
      '10.0.0.0/',
      '10.0.0/24',
      '10.0.0.256',
      '2001:db8::/129',
      'fe80::1%eth0',
      'fe80::1%eth0/64',
      'example.org',
      ' 10.0.0.1',
      '10.0.0.1/24/8',
      '',
      7,
    ];
    for (const entry of bad) {
      await refused(
        () =>
          users.add({
            login: 'frank',
            role: 'user',
            allowFrom: ['192.0.2.1', entry],
          } as unknown as NewUser),
        'allowFrom[1]',
      );
    }
    const frank = await users.add({
      login: 'frank',
      role: 'user',
      allowFrom: ['0.0.0.0/0', '::/0', '10.1.2.3/32', '::1', '::ffff:192.0.2.1'],
    });
    expect(frank.allowFrom).toHaveLength(5);
  });

  it('refuses a bad role or display name', async () => {
    await refused(() => users.add({ login: 'gina', role: 'root' } as unknown as NewUser), 'role');
    await refused(
      () => users.add({ login: 'gina', role: 'user', displayName: 'G\u0007' }),
      'displayName',
    );
    await refused(
      () => users.add({ login: 'gina', role: 'user', displayName: 'g'.repeat(201) }),
      'displayName',
    );
    await refused(() => users.update('nobody', { role: 'user' }), 'login');
  });

  it('refuses to remove a user who owns images', async () => {
    await users.add({ login: 'hank', role: 'user' });
    await database.db
      .insertInto('images')
      .values({ name: 'hank-ubuntu', os_family: 'linux', owner: 'hank' })
      .execute();
    const error = await refused(() => users.remove('hank'), 'login');
    expect(error.message).toMatch(/owns images/);
    expect(await users.get('hank')).toBeDefined();
  });
});
