import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { type Logger, Secret } from '@vlab/core';
import { databaseStartError } from './errors.js';

/** The file in the data directory that holds the password of the cluster's user `vlab`. */
export const PASSWORD_FILE = 'postgres.password';

const LABEL = 'password of the embedded PostgreSQL';

/**
 * Reads the password file, or `undefined` when there is none. A file readable by others than its
 * owner is used all the same, with a warning.
 */
export async function readClusterPassword(path: string, log: Logger): Promise<Secret | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw databaseStartError(`the PostgreSQL password file ${path} could not be read`, {
      cause: error,
      hint: `Make ${path} readable by the user the manager runs as (mode 0600).`,
    });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '' || /\p{Cc}/u.test(password)) {
    throw databaseStartError(`the PostgreSQL password file ${path} is empty or not one line`, {
      hint: `Restore ${path} from a backup of the data directory; it must hold the password the cluster was initialised with.`,
    });
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn('the PostgreSQL password file is readable by others than its owner', {
      path,
      mode: mode.toString(8),
    });
  }
  return new Secret(password, LABEL);
}

/**
 * Creates the password file with a new random password (mode 0600, created exclusively, so two
 * managers starting at once cannot both write one), or reads the one already there.
 */
export async function createClusterPassword(path: string, log: Logger): Promise<Secret> {
  const password = randomBytes(32).toString('base64url');
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const existing = await readClusterPassword(path, log);
      if (existing !== undefined) return existing;
    }
    throw databaseStartError(`the PostgreSQL password file ${path} could not be created`, {
      cause: error,
      hint: 'Check that the data directory exists and is writable by the user the manager runs as.',
    });
  }
  try {
    await handle.writeFile(`${password}\n`, 'utf8');
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => {});
    // A half-written file would be read as the password at the next start: leave none.
    await unlink(path).catch(() => {});
    throw databaseStartError(`the PostgreSQL password file ${path} could not be written`, {
      cause: error,
      hint: 'Check the free space and permissions of the data directory, then start again.',
    });
  }
  log.info('created the PostgreSQL password file', { path });
  return new Secret(password, LABEL);
}
