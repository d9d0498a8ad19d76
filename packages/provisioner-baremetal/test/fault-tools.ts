import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { ComputerRef, ProvisionerContext } from '@vlab/core';
import { type LabComputer, type RunOutput, runChecked } from '@vlab/testlab';

/**
 * `ctx` with another computer ref: the provisioner reads `ctx.computer` once at the start of an
 * operation, so its facts (BMC, credentials) come from `change`'s ref; everything else, children
 * included, is the context's own.
 */
export function withComputer(
  ctx: ProvisionerContext,
  change: (computer: ComputerRef) => ComputerRef,
): ProvisionerContext {
  const computer = change(ctx.computer);
  return new Proxy(ctx, {
    get: (target, key, receiver) =>
      key === 'computer' ? computer : Reflect.get(target, key, receiver),
  });
}

/** Every string of `value`: an error's message and cause chain, details, arrays, objects. */
export function textsOf(value: unknown, into: string[] = [], seen = new Set<object>()): string[] {
  if (typeof value === 'string') into.push(value);
  if (typeof value !== 'object' || value === null || seen.has(value)) return into;
  seen.add(value);
  if (value instanceof Error) {
    into.push(value.message, value.stack ?? '');
    textsOf(value.cause, into, seen);
  }
  for (const key of Object.keys(value))
    textsOf((value as Record<string, unknown>)[key], into, seen);
  return into;
}

/** A process's argv from /proc (a retitled sshd: one element); `undefined` once it is gone. */
function argvOf(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/**
 * Waits until a process of `computer`'s deploy environment (its cgroup, while the lab says it
 * booted the deploy environment) has an argv `matches` accepts — a known point of an exchange —
 * and resolves with its pid. Rejects when `operation` settles first: the point was never reached.
 */
export async function waitForDeployProcess(
  computer: LabComputer,
  matches: (argv: readonly string[]) => boolean,
  operation: Promise<unknown>,
  what: string,
): Promise<number> {
  let settled = false;
  operation.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  // A bound for a hang of the operation, not a race: the point comes within seconds.
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (computer.booted() === 'deploy') {
      for (const pid of computer.pids()) {
        const argv = argvOf(pid);
        if (argv !== undefined && matches(argv)) return pid;
      }
    }
    if (settled)
      throw new Error(`the operation ended before ${what} ran in the deploy environment`);
    if (Date.now() > deadline) throw new Error(`${what} did not run within 300 s`);
    await delay(25);
  }
}

/** The processes of `computer` (its cgroup) as `pid argv` lines, for a diagnosis. */
export function processes(computer: LabComputer): string {
  return computer
    .pids()
    .map((pid) => `  ${pid} ${argvOf(pid)?.join(' ') ?? '(gone)'}`)
    .join('\n');
}

/**
 * SIGKILLs the per-connection sshd processes of `computer` (cmdline `sshd: …`, not the
 * `[listener]`): every SSH connection to it drops at once, the listener stays. Returns what it
 * killed, as `pid cmdline`.
 */
export function killSshSessions(computer: LabComputer): string[] {
  const killed: string[] = [];
  for (const pid of computer.pids()) {
    const line = argvOf(pid)?.join(' ');
    if (line === undefined || !line.startsWith('sshd:') || line.includes('[listener]')) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(`${pid} ${line.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** Every file and directory below `dir` (hidden ones too), as sorted relative paths. */
async function entriesBelow(dir: string): Promise<string[]> {
  const out = await runChecked('find', [dir, '-mindepth', '1', '-printf', '%P\\n']);
  return out.stdout
    .split('\n')
    .filter((line) => line !== '')
    .sort();
}

/**
 * A small ext4 file system on a loop device as an image store that fills up: {@link LoopStore.create}
 * sizes it so that `freeAfterBytes` remain free once `contentBytes` (an imported raw image) are in
 * it. It is mounted only inside a mount namespace of its own, held by a helper process
 * (`unshare --mount --propagation private`), and reached through that process's
 * `/proc/<pid>/root`: a lab that starts meanwhile (nspawn, `ip netns exec`) copies the host's
 * mounts, never this one, so nothing but the helper can keep the file system alive. The loop device
 * is `mount -o loop`'s, detached by the kernel once the file system is gone (autoclear) — also when
 * this process dies: the helper ends with its stdin, and its namespace with it.
 */
export class LoopStore {
  #dir: string | undefined;
  #helper: ChildProcessByStdio<Writable, null, null> | undefined;
  #mounted = false;

  /** The store directory, in the mounted file system (a path through the helper's root). */
  get storeDir(): string {
    return join(this.#mountPoint(), 'store');
  }

  /** Bytes available to a writer in the file system now. */
  async freeBytes(): Promise<number> {
    const s = await statfs(this.#mountPoint());
    return s.bavail * s.bsize;
  }

  /** Every file and directory below the store directory, hidden ones too. */
  entries(): Promise<string[]> {
    return entriesBelow(this.storeDir);
  }

  /**
   * Makes the file system: a first one of `contentBytes` + 64 MiB tells the overhead of ext4 (its
   * journal, metadata and reserved clusters), the second has room for exactly `contentBytes` +
   * `freeAfterBytes`. Returns the bytes available in it.
   */
  async create(contentBytes: number, freeAfterBytes: number): Promise<number> {
    this.#dir = await mkdtemp(join(tmpdir(), 'vlab-faults-store-'));
    await mkdir(join(this.#dir, 'mnt'));
    await writeFile(this.#file(), '');
    const helper = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', 'read -r _'],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    this.#helper = helper;
    helper.stdin.on('error', () => undefined);
    // The namespace exists once unshare exec'd sh: its mount namespace differs from ours.
    const ours = readlinkSync('/proc/self/ns/mnt');
    for (let i = 0; ; i += 1) {
      const theirs = (() => {
        try {
          return readlinkSync(`/proc/${helper.pid}/ns/mnt`);
        } catch {
          return undefined;
        }
      })();
      if (theirs !== undefined && theirs !== ours) break;
      if (helper.exitCode !== null || i > 200) throw new Error('unshare --mount did not start');
      await delay(25);
    }
    const first = contentBytes + 64 * 2 ** 20;
    const overhead = first - (await this.#format(first));
    await this.#unmount();
    const size = Math.ceil((contentBytes + freeAfterBytes + overhead) / 4096) * 4096;
    const available = await this.#format(size);
    await mkdir(this.storeDir);
    return available;
  }

  #file(): string {
    if (this.#dir === undefined) throw new Error('the loop store was not created');
    return join(this.#dir, 'store.img');
  }

  #mountPoint(): string {
    if (this.#dir === undefined || this.#helper?.pid === undefined)
      throw new Error('the loop store was not created');
    return `/proc/${this.#helper.pid}/root${join(this.#dir, 'mnt')}`;
  }

  /** Runs `args` in the helper's mount namespace. */
  #inNamespace(args: readonly string[]): Promise<RunOutput> {
    return runChecked('nsenter', ['--target', String(this.#helper?.pid), '--mount', ...args]);
  }

  async #format(size: number): Promise<number> {
    const file = this.#file();
    await truncate(file, size);
    // No reserved blocks for root; few inodes; a small journal: the room is nearly all data.
    await runChecked('mkfs.ext4', ['-q', '-F', '-m', '0', '-N', '64', '-J', 'size=8', file]);
    await this.#inNamespace(['mount', '-o', 'loop', file, join(this.#dir as string, 'mnt')]);
    this.#mounted = true;
    return this.freeBytes();
  }

  async #unmount(): Promise<void> {
    if (!this.#mounted) return;
    await this.#inNamespace(['umount', join(this.#dir as string, 'mnt')]);
    this.#mounted = false;
  }

  /**
   * Unmounts, ends the helper (and its namespace) and removes everything; throws when a loop
   * device still backs onto the file afterwards.
   */
  async dispose(): Promise<void> {
    if (this.#dir === undefined) return;
    const file = this.#file();
    const helper = this.#helper;
    try {
      await this.#unmount();
    } finally {
      if (helper !== undefined && helper.exitCode === null && helper.signalCode === null) {
        const exited = once(helper, 'exit');
        helper.stdin.end();
        await exited;
      }
    }
    // The kernel detaches an autoclear loop device once its file system is gone.
    let left = '';
    for (let i = 0; i < 100; i += 1) {
      left = (await runChecked('losetup', ['-j', file])).stdout.trim();
      if (left === '') break;
      await delay(100);
    }
    if (left !== '') throw new Error(`loop devices still back onto ${file}: ${left}`);
    await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
    this.#helper = undefined;
  }
}
