import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { quoteArgument } from '@vlab/ssh';
import { isAlive, readPostmasterLock } from '../../src/database/postmaster-lock.js';

const run = promisify(execFile);

/** The demo's files, all in one directory (`VLAB_DEMO_DIR`, default `/var/lib/vlab-demo`). */
export interface DemoFiles {
  readonly dir: string;
  /** The manager's configuration, written at each start. */
  readonly config: string;
  /** The manager's data directory: its embedded PostgreSQL, secret key and first admin token. */
  readonly dataDir: string;
  /** The image store of the lab's computers. */
  readonly storeDir: string;
  /** The demo user's private SSH key (0600), made once and kept. */
  readonly userKey: string;
  /** What `vlab` reads: the server, the token and the SSH key (0600). */
  readonly cliConfig: string;
  /** `. <dir>/env` puts `vlab` on PATH, talking to the demo's manager. */
  readonly env: string;
  /** The manager's log (JSON lines). */
  readonly log: string;
  /** The pid of the demo that runs, while it runs. */
  readonly lock: string;
}

export function demoFiles(dir: string): DemoFiles {
  return {
    dir,
    config: join(dir, 'vlab.yaml'),
    dataDir: join(dir, 'data'),
    storeDir: join(dir, 'store'),
    userKey: join(dir, 'demo-key'),
    cliConfig: join(dir, 'cli.json'),
    env: join(dir, 'env'),
    log: join(dir, 'manager.log'),
    lock: join(dir, 'demo.pid'),
  };
}

/**
 * Takes the demo directory for this process: refuses while another demo runs in it (its pid file
 * names a live process), else writes this pid.
 */
export async function takeDemoDir(files: DemoFiles): Promise<void> {
  // Searchable by others, not listable: the embedded PostgreSQL runs as the user postgres and
  // must reach the data directory; the secrets in here are files of mode 0600.
  await mkdir(files.dir, { recursive: true, mode: 0o711 });
  await chmod(files.dir, 0o711);
  const other = Number.parseInt(await readFile(files.lock, 'utf8').catch(() => ''), 10);
  if (Number.isSafeInteger(other) && other !== process.pid && isAlive(other)) {
    throw new Error(
      `a demo runs already in ${files.dir} (process ${other}): stop it with Ctrl-C in its terminal, or set VLAB_DEMO_DIR to run another`,
    );
  }
  await writeFile(files.lock, `${process.pid}\n`);
}

/** Gives the demo directory back (the lock only; the files stay for a look). */
export async function releaseDemoDir(files: DemoFiles): Promise<void> {
  await rm(files.lock, { force: true });
}

/**
 * Removes what a previous run left of the manager's state and the store, so each run starts from
 * the same place; a PostgreSQL server a killed run left on the data directory is stopped first.
 * The demo user's key stays.
 */
export async function clearPreviousRun(files: DemoFiles): Promise<void> {
  const cluster = join(files.dataDir, 'postgres');
  const lock = await readPostmasterLock(cluster);
  if (lock.state === 'live') {
    process.kill(lock.pid, 'SIGTERM');
    for (let waited = 0; isAlive(lock.pid); waited += 100) {
      if (waited > 60_000) throw new Error(`PostgreSQL ${lock.pid} on ${cluster} does not stop`);
      await sleep(100);
    }
  }
  for (const path of [files.dataDir, files.storeDir, join(files.dir, 'known_hosts'), files.log]) {
    await rm(path, { recursive: true, force: true });
  }
}

/** The demo user's key pair (ed25519, no passphrase), made when missing; returns the public key. */
export async function ensureUserKey(files: DemoFiles): Promise<string> {
  const exists = await stat(files.userKey).catch(() => undefined);
  if (exists === undefined) {
    await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'vlab-demo',
      '-f',
      files.userKey,
    ]);
  }
  await chmod(files.userKey, 0o600);
  return (await readFile(`${files.userKey}.pub`, 'utf8')).trim();
}

/**
 * What a user of the demo sources: `vlab` (a wrapper of the built command, in `<dir>/bin`) and
 * its settings file with the manager's address, the admin token and the demo key.
 */
export async function writeClientFiles(
  files: DemoFiles,
  settings: { readonly server: string; readonly token: string; readonly vlabMain: string },
): Promise<void> {
  const bin = join(files.dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeNew(
    files.cliConfig,
    `${JSON.stringify({ server: settings.server, token: settings.token, sshKey: files.userKey }, null, 2)}\n`,
    0o600,
  );
  await writeNew(
    join(bin, 'vlab'),
    `#!/bin/sh\nexec ${quoteArgument(process.execPath)} ${quoteArgument(settings.vlabMain)} "$@"\n`,
    0o755,
  );
  await writeNew(
    files.env,
    `# . ${files.env}: the vlab command, talking to the demo's manager as the demo user\n` +
      `export PATH=${quoteArgument(bin)}:"$PATH"\nexport VLAB_CLI_CONFIG=${quoteArgument(files.cliConfig)}\n`,
    0o644,
  );
}

/** Writes a new file with `mode` and renames it into place. */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}
