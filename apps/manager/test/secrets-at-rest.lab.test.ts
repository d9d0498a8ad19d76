import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReservationStatus } from '../src/engine/reservations.js';
import { loadSecretKey, open, type SecretKey } from '../src/secrets/secret-box.js';
import {
  type MemoryLabManager,
  startMemoryLabManager,
  stepsOf,
  untilState,
  untilSteps,
} from './memory-lab-manager.js';
import { copyToStdout } from './secrets-copy.js';

// Secrets at rest. DBOS checkpoints every step's inputs and outputs in the database, so no secret
// may reach a workflow's inputs or outputs in clear. After reservations that load, reuse, fail and
// end while still waiting, every table of every schema of the database (DBOS's `dbos` schema
// included) is dumped with `COPY (SELECT * FROM …) TO STDOUT` — through plain pg, see
// secrets-copy.ts: the embedded package ships no pg_dump, and Debian's pg_dump 15 refuses a
// PostgreSQL 18 server — and searched for every secret in play, in every usual encoding; so are
// the manager's log records.

/** A secret in play, and what it is (printed instead of the value when it is found). */
interface InPlay {
  readonly name: string;
  readonly value: string | Uint8Array;
}

/** One encoding of a secret. */
interface Form {
  readonly form: string;
  readonly text: string;
}

/**
 * The encodings a secret could be stored in: in clear, JSON-escaped, as COPY's text format
 * escapes that, URL-encoded, hex (both cases), and base64 and base64url at each of the three byte
 * alignments it could have inside a longer encoded value (the characters of its whole 3-byte
 * groups, which appear whatever surrounds it). Bytes have no clear form. Every form is at least 16
 * characters long, so a match is never chance.
 */
function forms(secret: string | Uint8Array): Form[] {
  const bytes = Buffer.from(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  const found: Form[] = [];
  if (typeof secret === 'string') {
    const json = JSON.stringify(secret).slice(1, -1);
    found.push(
      { form: 'clear', text: secret },
      { form: 'JSON-escaped', text: json },
      { form: 'COPY-escaped JSON', text: json.replaceAll('\\', '\\\\') },
      { form: 'URL-encoded', text: encodeURIComponent(secret) },
    );
  }
  found.push(
    { form: 'hex', text: bytes.toString('hex') },
    { form: 'HEX', text: bytes.toString('hex').toUpperCase() },
  );
  for (let skip = 0; skip < 3; skip++) {
    const whole = bytes.subarray(skip, skip + Math.floor((bytes.length - skip) / 3) * 3);
    found.push(
      { form: `base64 (from byte ${skip})`, text: whole.toString('base64') },
      { form: `base64url (from byte ${skip})`, text: whole.toString('base64url') },
    );
  }
  const unique = [...new Map(found.map((f) => [`${f.form}:${f.text}`, f])).values()];
  for (const f of unique) {
    if (f.text.length < 16) throw new Error(`a secret's ${f.form} form is too short to search`);
  }
  return unique;
}

/** Where secrets are found in `text`: "<secret> as <form>". */
function findIn(text: string, secrets: readonly InPlay[]): string[] {
  return secrets.flatMap((s) =>
    forms(s.value)
      .filter((f) => text.includes(f.text))
      .map((f) => `${s.name} as ${f.form}`),
  );
}

/** One table's `COPY … TO STDOUT` output. */
interface TableDump {
  readonly table: string;
  readonly columns: readonly string[];
  readonly text: string;
}

/**
 * Every table of every schema but pg_catalog and information_schema, each with
 * `COPY (SELECT * FROM schema.table) TO STDOUT` (text format: one line a row, tab-separated).
 */
async function dumpDatabase(): Promise<TableDump[]> {
  const client = new pg.Client({ connectionString: fixture.url.reveal() });
  await client.connect();
  try {
    const tables = (
      await client.query<{ schema: string; name: string }>(
        `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
          WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
          ORDER BY 1, 2`,
      )
    ).rows;
    // information_schema lists only what the user may see: the catalog must list no more.
    const catalog = (
      await client.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_toast%'
          ORDER BY 1, 2`,
      )
    ).rows;
    expect(tables).toEqual(catalog);
    const dumps: TableDump[] = [];
    for (const { schema, name } of tables) {
      const table = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      const columns = (
        await client.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
          [schema, name],
        )
      ).rows.map((r) => r.column_name);
      const data = await copyToStdout(client, `COPY (SELECT * FROM ${table}) TO STDOUT`);
      dumps.push({ table: `${schema}.${name}`, columns, text: data.toString('utf8') });
    }
    return dumps;
  } finally {
    await client.end();
  }
}

/** Every secret found in the dump, as "<secret> as <form> in <schema.table>.<column>, row <n>". */
function leaksIn(dumps: readonly TableDump[], secrets: readonly InPlay[]): string[] {
  const leaks: string[] = [];
  for (const dump of dumps) {
    dump.text
      .split('\n')
      .filter((line) => line !== '')
      .forEach((line, row) => {
        line.split('\t').forEach((field, column) => {
          for (const found of findIn(field, secrets)) {
            leaks.push(`${found} in ${dump.table}.${dump.columns[column]}, row ${row + 1}`);
          }
        });
      });
  }
  return leaks;
}

/** A new ed25519 public key as an OpenSSH line. */
function sshPublicKey(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

let fixture: MemoryLabManager;
let key: SecretKey;
const secrets: InPlay[] = [];
const reservationIds: string[] = [];
const sshKeys: string[] = [];
let sealedSeen: Buffer | undefined;
let dumpWhileHeld: TableDump[] = [];

beforeAll(async () => {
  fixture = await startMemoryLabManager('secrets-at-rest');
  const m = fixture.manager;
  for (const login of ['alice', 'bob']) {
    const line = sshPublicKey(`${login}@secrets-at-rest`);
    sshKeys.push(line);
    await m.users.update(login, { sshKeys: [line] });
  }
  const keyPath = join(m.config.dataDir, 'secret.key');
  key = await loadSecretKey(keyPath);
  const keyText = (await readFile(keyPath, 'utf8')).trim();
  const database = decodeURIComponent(new URL(fixture.url.reveal()).password);
  const bmc = fixture.lab.secretEnv['VLAB_MEMORY_BMC_PASSWORD'] as string;
  expect(database.length).toBeGreaterThan(8);
  expect(bmc.length).toBeGreaterThan(8);
  secrets.push(
    { name: "the memory lab's BMC password", value: bmc },
    { name: "c3's (wrong) BMC password", value: 'not-the-password' },
    { name: "the database url's password", value: database },
    { name: "the manager's secret key (its file's text)", value: keyText },
    { name: "the manager's secret key (its bytes)", value: Buffer.from(keyText, 'base64') },
  );
}, 300_000);

afterAll(async () => {
  await fixture?.cleanup();
});

/**
 * While the reservation is ready: opens its sealed passwords with the manager's key, checks each
 * is the one its user's account on the machine got, and adds them to the secrets in play.
 */
async function keepPasswords(ready: ReservationStatus): Promise<void> {
  expect(ready.state).toBe('ready');
  const sealed = await fixture.sql<{ reservation_id: string; login: string; ciphertext: Buffer }>(
    'SELECT reservation_id, login, ciphertext FROM reservation_secrets WHERE reservation_id = $1',
    [ready.id],
  );
  expect(sealed.map((s) => s.login).sort()).toEqual([...ready.logins].sort());
  const machine = fixture.lab.machine(ready.computer as string);
  for (const row of sealed) {
    const password = open(
      key,
      row.ciphertext,
      // What the password is bound to (`passwordAad` of the engine), written out here.
      `reservation:${row.reservation_id}:${row.login}`,
      `password of ${row.login}`,
    ).reveal();
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(machine.checkPassword(row.login, password)).toBe(true);
    secrets.push(
      { name: `the password of ${row.login} for reservation ${ready.id}`, value: password },
      {
        name: `the password of ${row.login} for reservation ${ready.id} (its random bytes)`,
        value: Buffer.from(password, 'base64url'),
      },
    );
    sealedSeen = row.ciphertext;
  }
}

describe('reservations', () => {
  it('load, reserve, become ready and end, for alice and bob', async () => {
    const m = fixture.manager;
    const first = await m.reservations.request({
      requestId: 'at-rest-load',
      image: 'base',
      minutes: 60,
      logins: ['alice', 'bob'],
    });
    reservationIds.push(first.id);
    const ready = await untilState(m, first.id, ['ready', 'failed']);
    await keepPasswords(ready);
    expect(await stepsOf(m, first.id)).toContain('load:ok');
    await m.reservations.end(first.id, 'done');
    expect((await untilState(m, first.id, ['ended', 'failed'])).state).toBe('ended');
  });

  it('reuse a computer that holds the revision, without loading it', async () => {
    const m = fixture.manager;
    const reuse = await m.reservations.request({
      requestId: 'at-rest-reuse',
      image: 'base',
      minutes: 30,
      logins: ['bob', 'alice'],
    });
    reservationIds.push(reuse.id);
    await keepPasswords(await untilState(m, reuse.id, ['ready', 'failed']));
    const steps = await stepsOf(m, reuse.id);
    expect(steps).toContain('node-status:ok');
    expect(steps).not.toContain('load:ok');
    await m.reservations.end(reuse.id);
    expect((await untilState(m, reuse.id, ['ended', 'failed'])).state).toBe('ended');
  });

  it('fail when the load on c3 fails (its BMC password is wrong)', async () => {
    const m = fixture.manager;
    const doomed = await m.reservations.request({
      requestId: 'at-rest-doomed',
      image: 'base',
      minutes: 30,
      logins: ['alice'],
      computer: 'c3',
    });
    reservationIds.push(doomed.id);
    const failed = await untilState(m, doomed.id, ['failed', 'ready']);
    expect(failed.state).toBe('failed');
    expect(await stepsOf(m, doomed.id)).toContain('load:failed');
  });

  it('end one that still waits for its computer', async () => {
    const m = fixture.manager;
    const holder = await m.reservations.request({
      requestId: 'at-rest-holder',
      image: 'base',
      minutes: 30,
      logins: ['alice'],
      computer: 'c1',
    });
    reservationIds.push(holder.id);
    await keepPasswords(await untilState(m, holder.id, ['ready', 'failed']));
    const waiting = await m.reservations.request({
      requestId: 'at-rest-waiting',
      image: 'base',
      minutes: 30,
      logins: ['bob'],
      computer: 'c1',
    });
    reservationIds.push(waiting.id);
    // Asked at least twice while c1 was taken.
    await untilSteps(m, waiting.id, (steps) => steps.filter((k) => k === 'assign:ok').length >= 2);
    expect((await m.reservations.get(waiting.id))?.state).toBe('pending');
    // A dump while secrets are in play: the passwords are sealed, never in clear.
    dumpWhileHeld = await dumpDatabase();
    await m.reservations.end(waiting.id, 'no longer needed');
    expect(await untilState(m, waiting.id, ['ended', 'failed'])).toMatchObject({
      state: 'ended',
      endReason: 'no longer needed',
    });
    expect(await stepsOf(m, waiting.id)).not.toContain('reserve:ok');
    await m.reservations.end(holder.id);
    expect((await untilState(m, holder.id, ['ended', 'failed'])).state).toBe('ended');
  });
});

describe('the search for secrets', () => {
  it('finds a planted secret in each of its encodings (control)', () => {
    const planted = `pl@nted/s+cret "${randomUUID()}"\\`;
    const plantedBytes = Buffer.from(planted, 'utf8');
    const encodings = [
      `x${planted}y`,
      JSON.stringify({ password: planted }),
      JSON.stringify({ password: planted }).replaceAll('\\', '\\\\'),
      `postgres://u:${encodeURIComponent(planted)}@host/db`,
      `\\x00${plantedBytes.toString('hex')}ff`,
      `0X${plantedBytes.toString('hex').toUpperCase()}`,
      ...[0, 1, 2].flatMap((prefix) => {
        const around = Buffer.concat([Buffer.alloc(prefix, 7), plantedBytes, Buffer.from('!')]);
        return [around.toString('base64'), around.toString('base64url')];
      }),
    ];
    const secret: InPlay[] = [{ name: 'planted', value: planted }];
    for (const encoded of encodings) expect(findIn(encoded, secret), encoded).not.toEqual([]);
    expect(
      findIn(`x${randomUUID()}y ${Buffer.from(randomUUID()).toString('base64')}`, secret),
    ).toEqual([]);
    // Bytes: hex and base64 of a random key, inside longer values.
    const bytes = Buffer.from(randomUUID().replaceAll('-', ''), 'hex');
    const inBytes: InPlay[] = [{ name: 'bytes', value: bytes }];
    expect(findIn(`\\\\x01${bytes.toString('hex')}`, inBytes)).not.toEqual([]);
    expect(
      findIn(Buffer.concat([Buffer.from('ab'), bytes]).toString('base64'), inBytes),
    ).not.toEqual([]);
  });
});

describe('at rest, after the reservations', () => {
  it('every table of every schema, DBOS included, holds none of the secrets in play', async () => {
    // The secrets: 5 of the configuration, 2 (clear and bytes) for each generated password:
    // alice and bob twice, alice once more.
    expect(secrets.length).toBe(5 + 2 * 5);
    const dumps = await dumpDatabase();
    const tables = dumps.map((d) => d.table);
    expect(tables).toEqual(
      expect.arrayContaining([
        'dbos.workflow_status',
        'dbos.operation_outputs',
        'dbos.workflow_input',
        'dbos.workflow_output',
        'dbos.notifications',
        'public.reservations',
        'public.reservation_secrets',
        'public.users',
      ]),
    );
    const rows = (table: string) =>
      (dumps.find((d) => d.table === table)?.text ?? '').split('\n').filter((l) => l !== '');
    expect(rows('dbos.workflow_status').length).toBeGreaterThanOrEqual(reservationIds.length);
    expect(rows('dbos.operation_outputs').length).toBeGreaterThan(50);
    expect(rows('public.reservations').length).toBe(reservationIds.length);
    // Every generated password is gone with its reservation.
    expect(rows('public.reservation_secrets')).toEqual([]);
    // Control on the dump itself: what is there is found, by the same search.
    const all = dumps.map((d) => d.text).join('\n');
    for (const id of reservationIds) {
      expect(all).toContain(id);
      // The checkpoints of its workflows: their inputs, and every step's output.
      for (const table of [
        'dbos.workflow_status',
        'dbos.workflow_input',
        'dbos.operation_outputs',
      ]) {
        expect(rows(table).join('\n'), table).toContain(`reservation:${id}`);
      }
    }
    for (const line of sshKeys) {
      expect(
        findIn(all, [{ name: 'a public key', value: line.split(' ')[1] as string }]),
      ).toContain('a public key as clear');
    }
    expect(
      leaksIn(dumpWhileHeld, [{ name: 'a sealed password', value: sealedSeen as Buffer }]),
    ).toContainEqual(
      expect.stringMatching(
        /^a sealed password as hex in public\.reservation_secrets\.ciphertext, row \d+$/,
      ),
    );

    expect(leaksIn(dumps, secrets)).toEqual([]);
    expect(leaksIn(dumpWhileHeld, secrets)).toEqual([]);
  });

  it('no DBOS system database lies beside it', async () => {
    const databases = await fixture.sql<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE NOT datistemplate',
    );
    expect(databases.map((d) => d.datname).filter((name) => /dbos/i.test(name))).toEqual([]);
  });

  it('no log record holds a secret', () => {
    expect(fixture.records.length).toBeGreaterThan(0);
    const text = JSON.stringify(fixture.records, (_, value: unknown) =>
      value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value,
    );
    // Control: each account made with a generated password is logged, its password redacted.
    const accounts = fixture.records.filter((r) => r.message === 'created reservation account');
    expect(accounts.length).toBeGreaterThanOrEqual(5);
    for (const r of accounts) expect(r.fields['password']).toBe('[redacted]');
    expect(findIn(text, secrets)).toEqual([]);
  });
});
