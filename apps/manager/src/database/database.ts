import { type Logger, redact, Secret } from '@vlab/core';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { databaseStartError } from './errors.js';
import { migrateToLatest } from './migrations.js';
import type { LabDatabase } from './schema.js';

/** Options of {@link openDatabase}. @public */
export interface OpenDatabaseOptions {
  /** `postgres://user:password@host:port/database`, e.g. {@link EmbeddedPostgres.url}. */
  readonly url: Secret;
  /** Where the pool's errors and the migrations are logged. */
  readonly log: Logger;
  /** Most connections the pool opens. Default: 10. */
  readonly maxConnections?: number | undefined;
}

/** An open database: the Kysely instance and how to close it. @public */
export interface LabDatabaseHandle {
  /** Queries, with the tables of {@link LabDatabase}. */
  readonly db: Kysely<LabDatabase>;
  /** Ends every connection of the pool. Idempotent. */
  close(): Promise<void>;
}

/** PostgreSQL's type id of `int8` (`bigint`, `bigserial`). */
const INT8_OID = 20;

/**
 * Opens a `pg` pool on `url`, checks that the database answers and migrates it to the latest
 * schema ({@link migrateToLatest}); managers opening it together migrate one at a time.
 *
 * @remarks
 * `bigint` columns are read as numbers (exact up to 2^53, far beyond any byte count or event id
 * here), in this pool only: the process-wide parsers of `pg` stay as they are.
 *
 * @throws `VLAB_ERR_CONFIG_INVALID` when the database cannot be reached (the message names host,
 * port and database, never the password) or a migration fails (naming it).
 * @public
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<LabDatabaseHandle> {
  const { log, url } = options;
  const where = describeUrl(url);
  const secrets = urlSecrets(url);
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, (value: string) => Number(value));
  const pool = new pg.Pool({
    connectionString: url.reveal(),
    max: options.maxConnections ?? 10,
    types,
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection that breaks (the server restarted) must not crash the process.
  pool.on('error', (error) => {
    log.warn('an idle database connection failed', {
      database: where,
      error: redact(error.message, secrets),
    });
  });
  const db = new Kysely<LabDatabase>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= db.destroy();
    return closing;
  };
  try {
    await sql`SELECT 1`.execute(db);
  } catch (error) {
    await close();
    throw databaseStartError(
      `the database ${where} cannot be reached: ${redact((error as Error).message, secrets)}`,
      {
        cause: error,
        details: { database: where },
        hint: 'Check that PostgreSQL runs and listens there, and that the user and password of the database url are right.',
      },
    );
  }
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, log);
  } catch (error) {
    await close();
    throw error;
  }
  return { db, close };
}

/** `host:port/database` of a url, never its password. */
export function describeUrl(url: Secret): string {
  try {
    const parsed = new URL(url.reveal());
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(unparsable database url)';
  }
}

/** The url and the password in it (decoded), for redaction. */
export function urlSecrets(url: Secret): Secret[] {
  try {
    const password = decodeURIComponent(new URL(url.reveal()).password);
    return password === '' ? [url] : [url, new Secret(password)];
  } catch {
    return [url];
  }
}
