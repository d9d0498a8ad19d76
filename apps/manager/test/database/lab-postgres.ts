import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger, type LogRecord, Secret } from '@vlab/core';
import pg from 'pg';
import {
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from '../../src/database/embedded-postgres.js';

/** A PostgreSQL of one test file, in a temporary data directory. */
export interface TestPostgres {
  /** The running server (another one after {@link TestPostgres.restart}). */
  readonly server: EmbeddedPostgres;
  readonly dataDir: string;
  readonly records: LogRecord[];
  readonly log: Logger;
  /** Stops the server and starts it again on the same data directory. */
  restart(): Promise<EmbeddedPostgres>;
  /** Stops the server and removes the data directory. */
  cleanup(): Promise<void>;
}

/** A logger that keeps its records in `records`. */
export function memoryLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { log: createLogger((record) => records.push(record)), records };
}

/** Starts a PostgreSQL in a new temporary data directory; throws (never skips) when it cannot. */
export async function startTestPostgres(name: string): Promise<TestPostgres> {
  const dataDir = await mkdtemp(join(tmpdir(), `vlab-manager-${name}-`));
  const { log, records } = memoryLogger();
  let server = await startEmbeddedPostgres({ dataDir, log });
  return {
    get server() {
      return server;
    },
    dataDir,
    records,
    log,
    async restart() {
      await server.stop();
      server = await startEmbeddedPostgres({ dataDir, log });
      return server;
    },
    async cleanup() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The url of another database on the same server. */
export function databaseUrl(url: Secret, database: string): Secret {
  const parsed = new URL(url.reveal());
  parsed.pathname = `/${database}`;
  return new Secret(parsed.toString(), `url of ${database}`);
}

/** Runs one statement on the server's `vlab` database (for CREATE DATABASE and checks). */
export async function query<Row extends Record<string, unknown>>(
  url: Secret,
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url.reveal() });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Makes an empty database on the server and returns its url. */
export async function freshDatabase(url: Secret, name: string): Promise<Secret> {
  await query(url, `CREATE DATABASE ${name}`);
  return databaseUrl(url, name);
}
