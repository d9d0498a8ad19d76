import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OsContext, type OsModule, type RunResult, Secret } from '@vlab/core';
import { MemoryHostKeyStore, SshPool } from '@vlab/ssh';
import {
  createLabHarness,
  type Lab,
  type LabClient,
  type LabHarness,
  opensshArgs,
  type RunOutput,
  runChecked,
  startLab,
} from '@vlab/testlab';
import { linuxOsConfig } from '../src/config.js';
import { createLinuxOsModule } from '../src/linux-os-module.js';

/** A lab of one computer and two clients, its conformance harness, and the module under test. */
export interface OsLab {
  readonly lab: Lab;
  readonly harness: LabHarness;
  readonly os: OsModule;
  /** A fresh OS context for `phase` (2 minutes). */
  ctx(phase: string): OsContext;
  /** Runs a program on the computer through the module's own communicator, as root. */
  guest(argv: readonly string[], stdin?: string): Promise<RunResult>;
  close(): Promise<void>;
}

/** Starts the lab (failing loudly, never skipping, when it cannot) and resets the computer. */
export async function startOsLab(suite: 'bookworm' | 'trixie'): Promise<OsLab> {
  const lab = await startLab({ computers: 1, clients: 2, suite });
  const harness = await createLabHarness(lab, 'c1', { pollMs: 200 });
  const os = createLinuxOsModule(linuxOsConfig({ pollIntervalMs: 200 }));
  const ctx = (phase: string): OsContext => harness.osContext({ phase, timeoutMs: 120_000 });
  return {
    lab,
    harness,
    os,
    ctx,
    guest: (argv, stdin) =>
      ctx('check').communicator.run(argv, stdin === undefined ? {} : { stdin }),
    async close() {
      await harness.close();
      await lab.down();
    },
  };
}

/** A user's key pair made by ssh-keygen: the public line for `sshKeys`, the private key's path. */
export async function userKeyPair(
  comment: string,
): Promise<{ publicKey: string; path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vlab-os-linux-key-'));
  const path = join(dir, 'id_ed25519');
  await runChecked('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return {
    publicKey: (await readFile(`${path}.pub`, 'utf8')).trim(),
    path,
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `ssh login@ip command` with a key, from a client namespace (OpenSSH, 5 s connect timeout). */
export function sshFromClient(
  client: LabClient,
  ip: string,
  login: string,
  keyPath: string,
  command: string,
): Promise<RunOutput> {
  return client.exec(
    'ssh',
    [...opensshArgs({ keyPath, address: ip, user: login }), command],
    30_000,
  );
}

/** An interactive login held open by {@link openPtySession}. */
export interface PtySession {
  /** The pid of the user's shell inside the guest (the session's utmp `ut_pid`). */
  readonly shellPid: number;
  /** Ends the client (as a user closing the window) and resolves once it exited. */
  close(): Promise<void>;
}

const SESSION_MARKER = 'vlab-session-open';

/**
 * Logs in as `login` from `client` with `ssh -tt` (sshd records utmp logins only for a pty),
 * running a sleep; resolves once the remote shell printed its pid, which it does after sshd wrote
 * the login record. Rejects when the login fails or prints nothing within 60 s.
 */
export async function openPtySession(
  client: LabClient,
  ip: string,
  login: string,
  keyPath: string,
): Promise<PtySession> {
  const args = [
    '-tt',
    ...opensshArgs({ keyPath, address: ip, user: login }),
    `echo ${SESSION_MARKER} $$; exec sleep 600`,
  ];
  // `ip netns exec` execs ssh, so killing the child ends the client itself.
  const child = spawn('ip', ['netns', 'exec', client.netns, 'ssh', ...args], { stdio: 'pipe' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  let output = '';
  try {
    const shellPid = await new Promise<number>((resolve, reject) => {
      // A bound for a hang, not a race: a login takes well under a second here.
      const timer = setTimeout(
        () => reject(new Error(`${login}'s session did not open in 60 s: ${output}`)),
        60_000,
      );
      const onData = (chunk: string): void => {
        output += chunk;
        const match = new RegExp(`${SESSION_MARKER} (\\d+)`).exec(output);
        if (match !== null) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout.setEncoding('utf8').on('data', onData);
      child.stderr.setEncoding('utf8').on('data', onData);
      child.once('close', (code) => {
        clearTimeout(timer);
        reject(
          new Error(`ssh ${login}@${ip} ended (${code}) before the session opened: ${output}`),
        );
      });
    });
    return { shellPid, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Calls `probe` until `done` accepts its result, at most `timeoutMs` (a bound for a machine that
 * never gets there, not a wait for one that does); returns the last result.
 */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Runs `argv` as `login` logged in with a password (ssh2), from this host, pinning `hostKeys`.
 * Rejects when the login is refused.
 */
export async function runWithPassword(
  ip: string,
  hostKeys: readonly string[],
  login: string,
  password: Secret,
  argv: readonly string[],
  stdin?: string,
): Promise<RunResult> {
  const pool = new SshPool({ hostKeys: new MemoryHostKeyStore({ [ip]: hostKeys }) });
  try {
    const client = pool.client({
      host: ip,
      user: login,
      auth: { kind: 'password', password },
      computer: 'c1',
    });
    return await client.exec(argv, {
      timeoutMs: 30_000,
      ...(stdin === undefined ? {} : { stdin }),
    });
  } finally {
    await pool.close();
  }
}

/** The lab's two clients; throws when the lab has fewer. */
export function clientsOf(t: OsLab): [LabClient, LabClient] {
  const [first, second] = t.lab.clients;
  if (first === undefined || second === undefined)
    throw new Error('the lab has fewer than 2 clients');
  return [first, second];
}

/** A secret for tests. */
export function secret(value: string, label: string): Secret {
  return new Secret(value, label);
}
