import { readFileSync } from 'node:fs';
import { Secret } from '@vlab/core';
import {
  descendants,
  isAlive,
  liveProcessesOf,
  type Sshd,
  type SshdOptions,
  startSshd,
} from '@vlab/test-peers';
import { MemoryHostKeyStore } from '../src/host-key.js';
import { SshPool, type SshPoolOptions } from '../src/ssh-pool.js';
import type { SshTarget } from '../src/target.js';

/** A real sshd, a pool whose store pins its host keys, and a target that logs in with the key. */
export interface Lab extends AsyncDisposable {
  readonly sshd: Sshd;
  readonly pool: SshPool;
  readonly store: MemoryHostKeyStore;
  readonly target: SshTarget;
  close(): Promise<void>;
}

/** Starts a lab; tests that need sshd call it and fail (never skip) when it cannot start. */
export async function startLab(
  options: { readonly sshd?: SshdOptions; readonly pool?: Partial<SshPoolOptions> } = {},
): Promise<Lab> {
  const sshd = await startSshd(options.sshd);
  const store = new MemoryHostKeyStore({ [`[127.0.0.1]:${sshd.port}`]: sshd.hostPublicKeys });
  const pool = new SshPool({ hostKeys: store, ...options.pool });
  const target: SshTarget = {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    auth: { kind: 'key', privateKey: new Secret(sshd.clientKey.privateKey, 'test client key') },
    computer: 'lab-node',
  };
  const close = async (): Promise<void> => {
    await pool.close();
    await sshd.stop();
  };
  return { sshd, pool, store, target, close, [Symbol.asyncDispose]: close };
}

/**
 * Live processes of the test account (zombies left out) whose command line is exactly `args`
 * (all of them for `''`), as `pid args` lines.
 */
export function remoteProcesses(user: string, args: string): string[] {
  return liveProcessesOf(user).filter(
    (line) => args === '' || line.slice(line.indexOf(' ') + 1) === args,
  );
}

/** Ends processes a test left on purpose (a dropped connection leaves its command running). */
export function killRemote(lines: readonly string[]): void {
  for (const line of lines) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Live processes below the lab's sshd listener, as `pid args` lines: its per-connection
 * processes and every command a session runs (from the fork on, before the command's exec too).
 */
export function processesUnder(sshd: Sshd): string[] {
  return descendants(sshd.pid)
    .filter(isAlive)
    .map((pid) => {
      try {
        return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
      } catch {
        return undefined;
      }
    })
    .filter((line): line is string => line !== undefined);
}

/**
 * Blocks the event loop for `ms`. Called from ssh2's debug hook it orders a timer against the
 * protocol: a timer due meanwhile runs before the next packet is read, whatever the load.
 */
export function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Blocks the event loop until `check` holds (true) or `ms` pass (false). */
export function blockEventLoopUntil(check: () => boolean, ms: number): boolean {
  const deadline = performance.now() + ms;
  for (;;) {
    if (check()) return true;
    if (performance.now() > deadline) return false;
    blockEventLoop(5);
  }
}

/** A number no other run (nor another suite on the shared test account) uses: a command marker. */
export function uniqueTag(): string {
  return `${process.pid}${Math.floor(Math.random() * 1e9)}`;
}
