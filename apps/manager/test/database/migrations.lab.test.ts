import { isVlabError, Secret, silentLogger } from '@vlab/core';
import { Kysely, type Migration, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/database/database.js';
import {
  createMigrator,
  LAB_MIGRATIONS,
  MIGRATION_TABLES,
  migrateToLatest,
} from '../../src/database/migrations.js';
import { freshDatabase, query, startTestPostgres, type TestPostgres } from './lab-postgres.js';

const TABLES = [
  'api_tokens',
  'computers',
  'events',
  'host_keys',
  'images',
  'managers',
  'reservation_secrets',
  'reservations',
  'revisions',
  'users',
];

let lab: TestPostgres;
let databases = 0;

beforeAll(async () => {
  lab = await startTestPostgres('migrations');
});

afterAll(async () => {
  await lab?.cleanup();
});

async function fresh() {
  databases += 1;
  return freshDatabase(lab.server.url, `migrations_${databases}`);
}

function rawKysely(url: Secret): Kysely<unknown> {
  return new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.reveal() }) }),
  });
}

async function tablesOf(url: Secret): Promise<string[]> {
  const rows = await query<{ table_name: string }>(
    url,
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((row) => row.table_name);
}

describe('migrations', () => {
  it('take an empty database to the latest schema', async () => {
    const url = await fresh();
    const { db, close } = await openDatabase({ url, log: silentLogger });
    try {
      expect(await tablesOf(url)).toEqual(
        [...TABLES, MIGRATION_TABLES.migrations, MIGRATION_TABLES.lock].sort(),
      );
      const ran = await sql<{
        name: string;
      }>`SELECT name FROM vlab_migration ORDER BY name`.execute(db);
      expect(ran.rows.map((row) => row.name)).toEqual(Object.keys(LAB_MIGRATIONS));
      // Running again is a no-op.
      expect(await migrateToLatest(db as unknown as Kysely<unknown>, silentLogger)).toEqual([]);
    } finally {
      await close();
    }
    // And so is opening again.
    const again = await openDatabase({ url, log: silentLogger });
    await again.close();
  });

  it('keep the rows of the previous schema', async () => {
    const url = await fresh();
    const names = Object.keys(LAB_MIGRATIONS);
    const previous = Object.fromEntries(
      names.slice(0, -1).map((name) => [name, LAB_MIGRATIONS[name] as Migration]),
    );
    const raw = rawKysely(url);
    let hasUsers = false;
    try {
      const outcome = await createMigrator(raw, previous).migrateToLatest();
      expect(outcome.error).toBeUndefined();
      // A row in every schema: a table of its own (no migration may drop what it does not own),
      // and a user as soon as the previous schema has the users table.
      await sql`CREATE TABLE canary (note text)`.execute(raw);
      await sql`INSERT INTO canary VALUES ('still here')`.execute(raw);
      hasUsers = (await tablesOf(url)).includes('users');
      if (hasUsers) {
        await sql`INSERT INTO users (login, role) VALUES ('carol', 'user')`.execute(raw);
      }
    } finally {
      await raw.destroy();
    }

    const { db, close } = await openDatabase({ url, log: silentLogger });
    try {
      expect(await tablesOf(url)).toEqual(expect.arrayContaining(TABLES));
      const canary = await sql<{ note: string }>`SELECT note FROM canary`.execute(db);
      expect(canary.rows).toEqual([{ note: 'still here' }]);
      if (hasUsers) {
        const users = await db.selectFrom('users').select(['login', 'role']).execute();
        expect(users).toEqual([{ login: 'carol', role: 'user' }]);
      }
    } finally {
      await close();
    }
  });

  it('run once when two managers open a new database together', async () => {
    const url = await fresh();
    const [a, b] = await Promise.all([
      openDatabase({ url, log: silentLogger }),
      openDatabase({ url, log: silentLogger }),
    ]);
    try {
      const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM vlab_migration`.execute(
        a.db,
      );
      expect(rows.rows).toEqual([{ n: names().length }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('name the migration that failed and roll it back', async () => {
    const url = await fresh();
    const first = await openDatabase({ url, log: silentLogger });
    await first.close();
    const broken: Record<string, Migration> = {
      ...LAB_MIGRATIONS,
      '9000-broken': {
        async up(db: Kysely<unknown>) {
          await sql`CREATE TABLE half_done (id int)`.execute(db);
          await sql`SELECT no_such_column FROM users`.execute(db);
        },
      },
    };
    const raw = rawKysely(url);
    try {
      const error = await migrateToLatest(raw, silentLogger, broken).catch(
        (caught: unknown) => caught,
      );
      expect(isVlabError(error, 'VLAB_ERR_DATABASE_MIGRATION_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/the database migration 9000-broken failed/);
      expect((error as Error).message).toMatch(/no_such_column/);
      expect(await tablesOf(url)).not.toContain('half_done');
    } finally {
      await raw.destroy();
    }
  });

  it('refuse a database migrated by a newer manager', async () => {
    const url = await fresh();
    const first = await openDatabase({ url, log: silentLogger });
    await sql`INSERT INTO vlab_migration (name, timestamp) VALUES ('9999-future', now())`.execute(
      first.db,
    );
    await first.close();
    const error = await openDatabase({ url, log: silentLogger }).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_DATABASE_MIGRATION_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/9999-future/);
    expect((error as Error).message).toMatch(/newer manager/);
  });

  it('say which database cannot be reached, without the password', async () => {
    const url = new URL(lab.server.url.reveal());
    const password = decodeURIComponent(url.password);
    url.password = 'wrong-password';
    const error = await openDatabase({
      url: new Secret(url.toString()),
      log: silentLogger,
    }).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_DATABASE_START_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${lab.server.port}/vlab cannot be reached`),
    );
    expect((error as Error).message).not.toContain('wrong-password');
    expect((error as Error).message).not.toContain(password);
  });
});

function names(): string[] {
  return Object.keys(LAB_MIGRATIONS);
}
