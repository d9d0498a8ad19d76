import { execFile } from 'node:child_process';
import { access, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Secret } from '@vlab/core';

const run = promisify(execFile);

/** Debian 12's PostgreSQL (package `postgresql-15`, which scripts/test.sh installs). */
export const DEBIAN_POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

/** A PostgreSQL server of Debian's package, in a temporary directory, for one test file. */
export interface DebianPostgres {
  /** The url of its database `vlab` (user `postgres`, over TCP on loopback). */
  readonly url: Secret;
  /** Stops the server and removes its directory. */
  cleanup(): Promise<void>;
}

/**
 * Starts Debian's PostgreSQL as the system user `postgres` in a new temporary cluster on a free
 * loopback port, the way several managers of a lab share an external database. Throws (never
 * skips) with the reason when it cannot.
 */
export async function startDebianPostgres(): Promise<DebianPostgres> {
  await access(join(DEBIAN_POSTGRES_BIN, 'initdb')).catch(() => {
    throw new Error(
      `Debian's PostgreSQL is not installed (${DEBIAN_POSTGRES_BIN}/initdb): apt-get install postgresql-15 (scripts/test.sh does)`,
    );
  });
  const dir = await mkdtemp(join(tmpdir(), 'vlab-debian-postgres-'));
  await chmod(dir, 0o755);
  const dataDir = join(dir, 'data');
  const { uid, gid } = await postgresUser();
  await chown(dir, uid, gid);
  const as = (command: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', join(DEBIAN_POSTGRES_BIN, command), ...args]);
  const port = await freePort();
  try {
    await as('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await as('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      join(dir, 'server.log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      '-w',
      'start',
    ]);
    await as('createdb', ['-h', dir, '-p', String(port), 'vlab']);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`Debian's PostgreSQL did not start in ${dir}: ${String(error)}`);
  }
  return {
    url: new Secret(`postgres://postgres@127.0.0.1:${port}/vlab`, 'test database url'),
    async cleanup() {
      await as('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['postgres']).catch(() => {
    throw new Error('no system user postgres (apt-get install postgresql-15 creates it)');
  });
  const uid = Number(/uid=(\d+)/.exec(stdout)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(stdout)?.[1]);
  return { uid, gid };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}
