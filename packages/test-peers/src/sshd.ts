import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { descendants, forgetAtExit, isAlive, killAtExit, signalAll } from './process-tree.js';
import { runChecked } from './run.js';
import {
  clearTestPassword,
  DEFAULT_TEST_USER,
  ensureTestAccount,
  setTestPassword,
  type TestAccount,
} from './test-account.js';

/** A key type ssh-keygen can make. */
export type KeyType = 'ed25519' | 'rsa';

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /** sshd's `MaxSessions`: session channels per connection. Default: 10 (OpenSSH's default). */
  readonly maxSessions?: number;
  /**
   * The account to log in as; created if missing. Default: `vlab-test`. `root` (a hypervisor
   * host's login in tests) is used as it is, keys only, and never changed.
   */
  readonly user?: string;
  /**
   * Turns on password authentication and sets this password on the account while the sshd runs
   * (it is removed again by `stop`). Default: keys only.
   */
  readonly password?: string;
  /** Client key types to generate and authorise. Default: `['ed25519']`. */
  readonly clientKeyTypes?: readonly KeyType[];
  /** Host key types sshd offers. Default: `['ed25519', 'rsa']`. */
  readonly hostKeyTypes?: readonly KeyType[];
  /** More `sshd_config` lines, appended last. */
  readonly extraConfig?: readonly string[];
  /** How long sshd may take to answer on its port. Default: 15000 ms. */
  readonly startTimeoutMs?: number;
  /** The sshd binary (it must be an absolute path). Default: `$VLAB_SSHD` or `/usr/sbin/sshd`. */
  readonly sshdPath?: string;
}

/** A private and public key pair in a file of the temp dir. */
export interface KeyPair {
  readonly type: KeyType;
  /** Path of the private key file (mode 0600, no passphrase). */
  readonly path: string;
  /** The private key in OpenSSH format. */
  readonly privateKey: string;
  /** The public key, one line: `ssh-ed25519 AAAA… comment`. */
  readonly publicKey: string;
}

/** A running sshd started by {@link startSshd}. */
export interface Sshd extends AsyncDisposable {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The account to log in as. */
  readonly user: string;
  readonly account: TestAccount;
  /** The client key pairs, authorised for `user`; the first is the default. */
  readonly clientKeys: readonly KeyPair[];
  /** The first client key (ed25519 unless `clientKeyTypes` says otherwise). */
  readonly clientKey: KeyPair;
  /** The server's public host keys, OpenSSH one-line format (`ssh-ed25519 AAAA…`), no comment. */
  readonly hostPublicKeys: readonly string[];
  /** A known_hosts file that pins this server's host keys as `[127.0.0.1]:port`. */
  readonly knownHostsPath: string;
  /** The temp dir holding config, keys and the scratch dir; removed by `stop`. */
  readonly dir: string;
  /** A directory inside `dir` owned by the test account, for files tests write remotely. */
  readonly scratchDir: string;
  /** The pid of the listening sshd. */
  readonly pid: number;
  /** Arguments for the OpenSSH client that log in as `user` with the first client key. */
  sshArgs(): string[];
  /** What sshd wrote to stderr so far (its log, `-e`). */
  log(): string;
  /** Ends every connection (their sshd processes and what they run) but keeps listening. */
  dropConnections(): Promise<void>;
  /** Simulates a crash: SIGKILL to the listener and every process below it. The dir stays until `stop`. */
  kill(): Promise<void>;
  /** Stops sshd and everything it started, removes the temp dir and any password set. */
  stop(): Promise<void>;
}

async function keygen(type: KeyType, path: string, comment: string): Promise<KeyPair> {
  const size = type === 'rsa' ? ['-b', '2048'] : [];
  await runChecked('ssh-keygen', ['-q', '-t', type, ...size, '-N', '', '-C', comment, '-f', path]);
  const [privateKey, publicKey] = await Promise.all([
    readFile(path, 'utf8'),
    readFile(`${path}.pub`, 'utf8'),
  ]);
  return { type, path, privateKey, publicKey: publicKey.trim() };
}

function sshdConfig(
  dir: string,
  user: string,
  hostKeyPaths: readonly string[],
  options: SshdOptions,
): string {
  return [
    '# written by @vlab/test-peers startSshd',
    'ListenAddress 127.0.0.1',
    ...hostKeyPaths.map((path) => `HostKey ${path}`),
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'PidFile none',
    `MaxSessions ${options.maxSessions ?? 10}`,
    'UsePAM no',
    'PubkeyAuthentication yes',
    `PasswordAuthentication ${options.password === undefined ? 'no' : 'yes'}`,
    'KbdInteractiveAuthentication no',
    `PermitRootLogin ${user === 'root' ? 'prohibit-password' : 'no'}`,
    `AllowUsers ${user}`,
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AllowTcpForwarding yes',
    'Compression no',
    'LogLevel INFO',
    'Subsystem sftp internal-sftp',
    ...(options.extraConfig ?? []),
    '',
  ].join('\n');
}

/** Resolves once `port` answers with an SSH banner; rejects if `child` exits first or time runs out. */
async function waitForBanner(
  port: number,
  child: ChildProcess,
  deadline: number,
  exited: () => string | undefined,
): Promise<void> {
  for (;;) {
    const why = exited();
    if (why !== undefined) throw new Error(why);
    if (Date.now() > deadline) throw new Error('sshd did not answer on its port in time');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      let data = '';
      const done = (value: boolean): void => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1000, () => done(false));
      socket.on('error', () => done(false));
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        if (data.includes('\n')) done(data.startsWith('SSH-2.0-'));
      });
      socket.on('end', () => done(false));
    });
    if (ok) return;
    if (child.exitCode !== null || child.signalCode !== null) continue;
    await delay(20);
  }
}

/**
 * Starts a real OpenSSH sshd on 127.0.0.1 and a free port, with fresh host keys, a fresh client
 * key authorised for the test account, and its config in a temp dir. Resolves once the port
 * answers with an SSH banner. If sshd is missing or fails to start, rejects with the reason and
 * sshd's stderr: tests that need it fail loudly, never skip.
 */
/** root as the account to log in as: nothing about it is changed; `/run/sshd` is made. */
async function rootAccount(): Promise<TestAccount> {
  if (process.getuid?.() !== 0) throw new Error('running sshd for root needs root');
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  return { name: 'root', uid: 0, gid: 0, home: '/root' };
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const sshdPath = options.sshdPath ?? process.env['VLAB_SSHD'] ?? '/usr/sbin/sshd';
  if (!existsSync(sshdPath)) {
    throw new Error(
      `OpenSSH sshd not found at ${sshdPath}: install openssh-server (scripts/test.sh does) or set VLAB_SSHD`,
    );
  }
  const user = options.user ?? DEFAULT_TEST_USER;
  if (user === 'root' && options.password !== undefined)
    throw new Error('startSshd: root logs in with keys only (no password option)');
  // root (a hypervisor host's login) is used as it is: never changed like a test account.
  const account = user === 'root' ? await rootAccount() : await ensureTestAccount(user);

  const dir = await mkdtemp(join(tmpdir(), 'vlab-sshd-'));
  const entry = killAtExit({ pid: 0, dir });
  let passwordSet = false;
  try {
    // The account reads authorized_keys (sshd drops to it for that) and writes in scratch/.
    await chmod(dir, 0o755);
    const scratchDir = join(dir, 'scratch');
    await mkdir(scratchDir, { mode: 0o700 });
    await chown(scratchDir, account.uid, account.gid);

    const hostKeyTypes = options.hostKeyTypes ?? ['ed25519', 'rsa'];
    const clientKeyTypes = options.clientKeyTypes ?? ['ed25519'];
    const [hostKeys, clientKeys] = await Promise.all([
      Promise.all(
        hostKeyTypes.map((type) =>
          keygen(type, join(dir, `ssh_host_${type}_key`), 'vlab-test-host'),
        ),
      ),
      Promise.all(
        clientKeyTypes.map((type) => keygen(type, join(dir, `client_${type}`), 'vlab-test-client')),
      ),
    ]);
    const firstClientKey = clientKeys[0];
    if (firstClientKey === undefined) throw new Error('clientKeyTypes is empty');
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, `${clientKeys.map((key) => key.publicKey).join('\n')}\n`, {
      mode: 0o644,
    });
    const hostPublicKeys = hostKeys.map((key) => key.publicKey.split(' ').slice(0, 2).join(' '));

    if (options.password !== undefined) {
      await setTestPassword(user, options.password);
      passwordSet = true;
    }
    const configPath = join(dir, 'sshd_config');
    await writeFile(
      configPath,
      sshdConfig(
        dir,
        user,
        hostKeys.map((key) => key.path),
        options,
      ),
    );

    const startTimeoutMs = options.startTimeoutMs ?? 15_000;
    let child: ChildProcess | undefined;
    let port = 0;
    let stderr = '';
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      stderr = '';
      const started = spawn(sshdPath, ['-D', '-e', '-f', configPath, '-p', String(port)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      started.stderr?.setEncoding('utf8');
      started.stderr?.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-256 * 1024);
      });
      let spawnError: Error | undefined;
      started.once('error', (error) => {
        spawnError = error;
      });
      entry.pid = started.pid ?? 0;
      const exited = (): string | undefined => {
        if (spawnError !== undefined) return `sshd could not be started: ${spawnError.message}`;
        if (started.exitCode === null && started.signalCode === null) return undefined;
        const how =
          started.exitCode === null
            ? `was killed by ${started.signalCode}`
            : `exited with code ${started.exitCode}`;
        return `sshd ${how} while starting`;
      };
      try {
        await waitForBanner(port, started, Date.now() + startTimeoutMs, exited);
        child = started;
        break;
      } catch (error) {
        if (started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
        // Another process took the port between freePort and bind: try a new one.
        if (attempt < 5 && /Address already in use/.test(stderr)) continue;
        throw new Error(
          `${(error as Error).message} (${sshdPath} -D -e -f ${configPath} -p ${port}); sshd stderr:\n${stderr.trim() || '(empty)'}`,
        );
      }
    }
    const listener = child;
    const pid = listener.pid ?? 0;

    const knownHostsPath = join(dir, 'known_hosts');
    await writeFile(
      knownHostsPath,
      hostPublicKeys.map((key) => `[127.0.0.1]:${port} ${key}\n`).join(''),
    );

    const exitedPromise = new Promise<void>((resolve) => {
      if (listener.exitCode !== null || listener.signalCode !== null) resolve();
      else listener.once('exit', () => resolve());
    });
    let stopped = false;

    /**
     * Signals the whole tree below the listener (and the listener, if asked). The tree is frozen
     * with SIGSTOP first, so that nothing forks or gets orphaned (reparented out of our sight)
     * while we collect it.
     */
    const killTree = async (signal: NodeJS.Signals, includeListener: boolean): Promise<void> => {
      const frozen = new Set<number>();
      for (let round = 0; round < 100; round += 1) {
        const found = new Set<number>(descendants([pid, ...frozen]));
        if (includeListener && isAlive(pid)) found.add(pid);
        const fresh = [...found].filter((p) => !frozen.has(p) && isAlive(p));
        if (fresh.length === 0) break;
        signalAll(fresh, 'SIGSTOP');
        for (const p of fresh) frozen.add(p);
      }
      const targets = [...frozen];
      signalAll(targets, signal);
      if (signal !== 'SIGKILL') signalAll(targets, 'SIGCONT');
      for (let round = 0; round < 250 && targets.some(isAlive); round += 1) {
        await delay(20);
        if (round === 100) signalAll(targets.filter(isAlive), 'SIGKILL');
      }
    };

    const sshd: Sshd = {
      host: '127.0.0.1',
      port,
      user,
      account,
      clientKeys,
      clientKey: firstClientKey,
      hostPublicKeys,
      knownHostsPath,
      dir,
      scratchDir,
      pid,
      sshArgs() {
        return [
          '-i',
          firstClientKey.path,
          '-p',
          String(port),
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          `UserKnownHostsFile=${knownHostsPath}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'LogLevel=ERROR',
          '-F',
          '/dev/null',
          `${user}@127.0.0.1`,
        ];
      },
      log: () => stderr,
      async dropConnections() {
        await killTree('SIGKILL', false);
      },
      async kill() {
        await killTree('SIGKILL', true);
        await exitedPromise;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await killTree('SIGTERM', true);
        await Promise.race([exitedPromise, delay(5000)]);
        if (passwordSet) await clearTestPassword(user);
        await rm(dir, { recursive: true, force: true });
        forgetAtExit(entry);
      },
      [Symbol.asyncDispose]() {
        return this.stop();
      },
    };
    return sshd;
  } catch (error) {
    if (entry.pid > 0) signalAll([entry.pid, ...descendants(entry.pid)], 'SIGKILL');
    if (passwordSet) await clearTestPassword(user).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    forgetAtExit(entry);
    throw error;
  }
}
