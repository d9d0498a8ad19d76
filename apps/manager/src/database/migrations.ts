import type { Logger } from '@vlab/core';
import { type Kysely, type Migration, type MigrationResultSet, Migrator, sql } from 'kysely';
import { migrationError } from './errors.js';
import { initial } from './migrations/0001-initial.js';
import { apiTokens } from './migrations/0002-api-tokens.js';
import { eventStream } from './migrations/0003-event-stream.js';

/**
 * The schema migrations, oldest first, by name. Listed in code — no directory scan — so they work
 * from the built `dist/` and from a bundle alike. Forward only: a migration has no `down`; a
 * release never edits one that shipped, it adds the next (`0002-…`).
 * @public
 */
export const LAB_MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-initial': initial,
  '0002-api-tokens': apiTokens,
  '0003-event-stream': eventStream,
});

/** The table recording which migrations ran, and the one Kysely locks while migrating. @public */
export const MIGRATION_TABLES = {
  /** Which migrations ran, and when. */
  migrations: 'vlab_migration',
  /** Locked while a manager migrates, so managers starting together migrate one at a time. */
  lock: 'vlab_migration_lock',
} as const;

/**
 * A Kysely `Migrator` over {@link LAB_MIGRATIONS} (or the given ones), in one transaction per
 * run, under the migration lock.
 * @param migrations - Defaults to {@link LAB_MIGRATIONS}; tests pass a prefix of it.
 * @public
 */
export function createMigrator(
  db: Kysely<unknown>,
  migrations: Readonly<Record<string, Migration>> = LAB_MIGRATIONS,
): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) },
    migrationTableName: MIGRATION_TABLES.migrations,
    migrationLockTableName: MIGRATION_TABLES.lock,
  });
}

/**
 * Brings the schema to the latest migration. Does nothing when it is there already.
 * @param migrations - Defaults to {@link LAB_MIGRATIONS}; tests pass others.
 *
 * @throws `VLAB_ERR_CONFIG_INVALID` naming the migration that failed (the transaction is rolled
 * back, so the schema is as before), or saying that the database was migrated by a newer manager.
 * @returns The names of the migrations that ran, oldest first.
 * @public
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  log: Logger,
  migrations: Readonly<Record<string, Migration>> = LAB_MIGRATIONS,
): Promise<string[]> {
  const known = Object.keys(migrations);
  const applied = await appliedMigrations(db);
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw migrationError(
      `the database has migrations this manager does not know (${unknown.join(', ')}): a newer manager migrated it`,
      {
        details: { unknownMigrations: unknown, knownMigrations: known },
        hint: 'Run the manager release that migrated this database, or a newer one; an older manager cannot use a newer schema.',
      },
    );
  }
  let outcome: MigrationResultSet;
  try {
    outcome = await createMigrator(db, migrations).migrateToLatest();
  } catch (error) {
    outcome = { error };
  }
  const ran = (outcome.results ?? [])
    .filter((result) => result.status === 'Success')
    .map((result) => result.migrationName);
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find((result) => result.status === 'Error')?.migrationName;
    const why = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    throw migrationError(
      failed === undefined
        ? `the database schema could not be migrated: ${why}`
        : `the database migration ${failed} failed: ${why}`,
      {
        cause: outcome.error,
        details: { migration: failed, applied },
        hint:
          failed === undefined
            ? 'Check that the database is reachable and that its user may create tables, then start again.'
            : `The migration was rolled back and the schema is as it was. Read the cause; if the data breaks a new constraint, fix the rows it names and start again, otherwise report it with the migration name (${failed}).`,
      },
    );
  }
  if (ran.length > 0) log.info('migrated the database schema', { migrations: ran });
  return ran;
}

/** The migrations recorded as run, or none when the bookkeeping table does not exist yet. */
async function appliedMigrations(db: Kysely<unknown>): Promise<string[]> {
  const present = await sql<{ present: boolean }>`
    SELECT to_regclass(${`public.${MIGRATION_TABLES.migrations}`}) IS NOT NULL AS present
  `.execute(db);
  if (present.rows[0]?.present !== true) return [];
  const rows = await sql<{ name: string }>`
    SELECT name FROM ${sql.table(MIGRATION_TABLES.migrations)} ORDER BY name
  `.execute(db);
  return rows.rows.map((row) => row.name);
}
