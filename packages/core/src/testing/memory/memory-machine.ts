import { randomBytes } from 'node:crypto';
import { IDENTITY_DISK, type IdentityDiskFile } from '../../identity-disk.js';
import type { PowerState } from '../../power.js';

/** A local account of a {@link MemoryMachine}. @public */
export interface MemoryAccount {
  /** The login name. */
  readonly login: string;
  /** The numeric user id; 1000 and above for non-system accounts. */
  readonly uid: number;
  /** Its groups, its own first (`usermod --append --groups` adds more). */
  readonly groups: readonly string[];
  /** Whether `chpasswd` gave it a password. */
  readonly hasPassword: boolean;
}

/** What a command run on a {@link MemoryMachine} returns. @public */
export interface MemoryCommandResult {
  /** The exit code; 127 for an unknown command. */
  readonly code: number;
  /** What the command printed on stdout. */
  readonly stdout: string;
  /** What the command printed on stderr. */
  readonly stderr: string;
  /** When set, the command does not finish by itself: it runs this long in milliseconds. */
  readonly runsForMs?: number;
}

/** A power change of a {@link MemoryMachine}, stamped with `performance.now()`. @public */
export interface PowerEvent {
  /** When the power changed, in `performance.now()` milliseconds. */
  readonly at: number;
  /** The power state it changed to. */
  readonly state: Exclude<PowerState, 'unknown'>;
}

/** A read of a {@link MemoryMachine}'s disk from outside, stamped with `performance.now()`. @public */
export interface DiskReadEvent {
  /** When the read started, in `performance.now()` milliseconds. */
  readonly at: number;
  /** The machine's power when the read started. */
  readonly power: Exclude<PowerState, 'unknown'>;
}

/** Timing of a {@link MemoryMachine}. @public */
export interface MemoryMachineTiming {
  /** From `systemctl poweroff` to power off. Default: 20 ms. */
  readonly shutdownMs?: number;
  /** How long a reboot keeps the machine down. Default: 20 ms. */
  readonly rebootDownMs?: number;
}

/** Path of the public host key a {@link MemoryMachine} presents. @public */
export const MEMORY_HOST_KEY_PATH = '/etc/ssh/ssh_host_ed25519_key.pub';

/**
 * Path of the boot unit that makes a {@link MemoryMachine} take its host key from an attached
 * identity disk at boot: any file there will do (the machine does not read it). @public
 */
export const MEMORY_IDENTITY_UNIT_PATH = '/etc/systemd/system/vlab-identity.service';

/** A login session on a {@link MemoryMachine}. @public */
export interface MemorySession {
  /** Who is logged in. */
  readonly login: string;
  /** When the session began, ISO 8601. */
  readonly since: string;
  /** The address the user came from. */
  readonly from: string;
}

/**
 * An in-memory computer for the conformance kit's reference harness: power, local accounts, a
 * file system that is also its disk, a host key, and a handful of Linux-like commands. It is a
 * stand-in for tests of the kit and of module logic, not a model of Linux.
 *
 * @remarks
 * Commands it understands (argv, no shell): `true`, `cat PATH`, `rm -f PATH…`,
 * `hostnamectl set-hostname NAME`, `useradd --create-home [--uid N] LOGIN`,
 * `userdel --remove LOGIN` (exit 6 when absent), `usermod --append --groups G LOGIN`,
 * `chpasswd` (stdin `login:password`), `getent passwd`, `pkill -KILL -u LOGIN` (exit 1 when no
 * process), `ssh-keygen -A` (makes a missing host key), `systemd-machine-id-setup`,
 * `systemctl poweroff`, `systemctl reboot`, `sleep SECONDS`, and `who` (one line per open
 * session: login, ISO start time and address, tab-separated — the memory machine's own format).
 * Anything else exits 127. Files are written with `writeFile` (the communicator's `put`).
 * A boot with an identity disk attached ({@link MemoryMachine.attachIdentityDisk}) takes the disk's
 * Ed25519 public key as host key when the disk has a file at {@link MEMORY_IDENTITY_UNIT_PATH}.
 * @public
 */
export class MemoryMachine {
  /** The computer's name. */
  readonly name: string;
  /** Files by absolute path; together they are the disk. */
  files = new Map<string, Buffer>();
  /** The host name `hostnamectl set-hostname` set; `localhost` until then, kept across disk writes. */
  hostname = 'localhost';
  /** Incremented at every boot. */
  bootCount = 0;
  /** Every power change since the machine was made, oldest first. */
  readonly powerEvents: PowerEvent[] = [];
  /** Every recorded read of the disk ({@link MemoryMachine.readDisk}), oldest first. */
  readonly diskReads: DiskReadEvent[] = [];
  /** Open login sessions ({@link MemoryMachine.openSession}), oldest first; gone at power off. */
  sessions: MemorySession[] = [];
  #identityDisk: readonly IdentityDiskFile[] | undefined;
  #power: Exclude<PowerState, 'unknown'> = 'off';
  #accounts = new Map<string, MemoryAccount>();
  #stalled = false;
  #stallWaiters: (() => void)[] = [];
  #pendingPowerChange: ReturnType<typeof setTimeout> | undefined;
  readonly #timing: Required<MemoryMachineTiming>;

  /**
   * A machine that is off, with an empty disk and no accounts.
   * @param name - The computer's name.
   */
  constructor(name: string, timing: MemoryMachineTiming = {}) {
    this.name = name;
    this.#timing = { shutdownMs: timing.shutdownMs ?? 20, rebootDownMs: timing.rebootDownMs ?? 20 };
  }

  /** Power as a BMC would report it. */
  get power(): Exclude<PowerState, 'unknown'> {
    return this.#power;
  }

  /** Whether the machine answers on its management network (on, and not stalled). */
  get reachable(): boolean {
    return this.#power === 'on' && !this.#stalled;
  }

  /** Accounts with uid ≥ 1000, i.e. not system accounts. */
  get userAccounts(): readonly MemoryAccount[] {
    return [...this.#accounts.values()].filter((a) => a.uid >= 1000);
  }

  /** Powers on (a boot) from outside; no-op when on. */
  powerOn(): void {
    this.#cancelPendingPowerChange();
    if (this.#power === 'on') return;
    this.#takeIdentity();
    this.#setPower('on');
    this.bootCount += 1;
  }

  /** Attaches an identity disk (`IDENTITY_DISK`) for the following boots, or detaches it (`undefined`). */
  attachIdentityDisk(files: readonly IdentityDiskFile[] | undefined): void {
    this.#identityDisk = files;
  }

  /** Opens a login session for `login` from `from`; the returned function ends it. */
  openSession(login: string, from: string): () => void {
    const session: MemorySession = { login, since: new Date().toISOString(), from };
    this.sessions.push(session);
    return () => {
      this.sessions = this.sessions.filter((s) => s !== session);
    };
  }

  // What the identity unit of an image does at boot: version 1 only, the disk's host key replaces the image's.
  #takeIdentity(): void {
    const disk = this.#identityDisk;
    if (disk === undefined || !this.files.has(MEMORY_IDENTITY_UNIT_PATH)) return;
    const file = (path: string) => disk.find((f) => f.path === path)?.data;
    const manifest = file(IDENTITY_DISK.manifestPath)?.toString('utf8') ?? '{}';
    if ((JSON.parse(manifest) as { version?: unknown }).version !== IDENTITY_DISK.version) return;
    const key = file(`${IDENTITY_DISK.hostKeyDirectory}/ssh_host_ed25519_key.pub`);
    if (key !== undefined) this.files.set(MEMORY_HOST_KEY_PATH, key);
  }

  /** Cuts power from outside; no-op when off. */
  powerOff(): void {
    this.#cancelPendingPowerChange();
    if (this.#power === 'off') return;
    this.#setPower('off');
  }

  /**
   * Makes the machine stop answering (a hung network or kernel) until the returned function is
   * called. Commands already running hang too.
   */
  stall(): () => void {
    this.#stalled = true;
    return () => {
      this.#stalled = false;
      for (const wake of this.#stallWaiters.splice(0)) wake();
    };
  }

  /** Resolves when the machine is no longer stalled. */
  whenUnstalled(): Promise<void> {
    if (!this.#stalled) return Promise.resolve();
    return new Promise((resolve) => this.#stallWaiters.push(resolve));
  }

  /** Replaces the whole disk (a deploy), accounts included: afterwards the machine has exactly the image's accounts. */
  writeDisk(image: Buffer): void {
    const parsed = JSON.parse(image.toString('utf8')) as {
      files: Record<string, string>;
      accounts: MemoryAccount[];
    };
    this.files = new Map(
      Object.entries(parsed.files).map(([path, b64]) => [path, Buffer.from(b64, 'base64')]),
    );
    this.#accounts = new Map(parsed.accounts.map((a) => [a.login, a]));
  }

  /** Empties the disk — no files, no accounts — as deleting a VM and its overlay would. */
  eraseDisk(): void {
    this.files = new Map();
    this.#accounts = new Map();
  }

  /** Reads the whole disk (a capture) and records the read. */
  readDisk(): Buffer {
    this.diskReads.push({ at: performance.now(), power: this.#power });
    const files = Object.fromEntries(
      [...this.files].map(([path, data]) => [path, data.toString('base64')]),
    );
    return Buffer.from(JSON.stringify({ files, accounts: [...this.#accounts.values()] }));
  }

  /** An empty disk image with root and a host key: what a freshly installed OS would hold. */
  static baseImage(): Buffer {
    const machine = new MemoryMachine('base');
    machine.#accounts.set('root', { login: 'root', uid: 0, groups: ['root'], hasPassword: false });
    machine.files.set(MEMORY_HOST_KEY_PATH, newHostKey());
    machine.files.set('/etc/machine-id', Buffer.from(`${randomBytes(16).toString('hex')}\n`));
    return machine.readDiskWithoutRecord();
  }

  /** Reads the disk without recording a read (for building images in tests). */
  readDiskWithoutRecord(): Buffer {
    const image = this.readDisk();
    this.diskReads.pop();
    return image;
  }

  /**
   * Gives the disk a host key if it has none and returns the public key — what a deploy
   * environment does before first boot, so the deployer knows the key it must pin.
   */
  ensureHostKey(): string {
    if (!this.files.has(MEMORY_HOST_KEY_PATH)) this.files.set(MEMORY_HOST_KEY_PATH, newHostKey());
    return (this.files.get(MEMORY_HOST_KEY_PATH) as Buffer).toString('utf8');
  }

  /** Writes a file as the communicator's `put` would. */
  writeFile(path: string, data: Buffer): void {
    this.files.set(path, data);
  }

  /** Runs one command; see the class remarks for the command set. */
  exec(argv: readonly string[], stdin: Buffer): MemoryCommandResult {
    const [program, ...args] = argv;
    const ok = (stdout = ''): MemoryCommandResult => ({ code: 0, stdout, stderr: '' });
    const fail = (code: number, stderr: string): MemoryCommandResult => ({
      code,
      stdout: '',
      stderr,
    });
    switch (program) {
      case 'true':
        return ok();
      case 'cat': {
        const data = this.files.get(args[0] ?? '');
        return data === undefined
          ? fail(1, `cat: ${args[0]}: No such file or directory\n`)
          : ok(data.toString('utf8'));
      }
      case 'rm':
        for (const path of args.filter((a) => !a.startsWith('-'))) this.files.delete(path);
        return ok();
      case 'hostnamectl':
        if (args[0] !== 'set-hostname' || args[1] === undefined)
          return fail(1, 'hostnamectl: usage\n');
        this.hostname = args[1];
        return ok();
      case 'useradd':
        return this.#useradd(args);
      case 'userdel': {
        const login = args.at(-1) ?? '';
        if (!this.#accounts.has(login)) return fail(6, `userdel: user '${login}' does not exist\n`);
        this.#accounts.delete(login);
        for (const path of [...this.files.keys()])
          if (path.startsWith(`/home/${login}/`)) this.files.delete(path);
        return ok();
      }
      case 'usermod': {
        const login = args.at(-1) ?? '';
        const group = args[args.indexOf('--groups') + 1] ?? '';
        const account = this.#accounts.get(login);
        if (account === undefined) return fail(6, `usermod: user '${login}' does not exist\n`);
        this.#accounts.set(login, { ...account, groups: [...account.groups, group] });
        return ok();
      }
      case 'chpasswd':
        for (const line of stdin.toString('utf8').split('\n').filter(Boolean)) {
          const login = line.slice(0, line.indexOf(':'));
          const account = this.#accounts.get(login);
          if (account === undefined)
            return fail(1, `chpasswd: line 1: user '${login}' does not exist\n`);
          this.#accounts.set(login, { ...account, hasPassword: true });
        }
        return ok();
      case 'getent':
        return ok(
          [...this.#accounts.values()]
            .map((a) => `${a.login}:x:${a.uid}:${a.uid}::/home/${a.login}:/bin/sh\n`)
            .join(''),
        );
      case 'pkill':
        return fail(1, '');
      case 'ssh-keygen':
        this.ensureHostKey();
        return ok();
      case 'systemd-machine-id-setup':
        this.files.set('/etc/machine-id', Buffer.from(`${randomBytes(16).toString('hex')}\n`));
        return ok();
      case 'systemctl':
        if (args[0] === 'poweroff') {
          this.#schedulePowerChange(this.#timing.shutdownMs, () => this.#setPower('off'));
          return ok();
        }
        if (args[0] === 'reboot') {
          this.#schedulePowerChange(this.#timing.shutdownMs, () => {
            this.#setPower('off');
            this.#schedulePowerChange(this.#timing.rebootDownMs, () => this.powerOn());
          });
          return ok();
        }
        return fail(1, `systemctl: unknown verb ${args[0]}\n`);
      case 'sleep':
        return { code: 0, stdout: '', stderr: '', runsForMs: Number(args[0] ?? '0') * 1000 };
      case 'who':
        return ok(this.sessions.map((s) => `${s.login}\t${s.since}\t${s.from}\n`).join(''));
      default:
        return fail(127, `${program}: command not found\n`);
    }
  }

  #useradd(args: readonly string[]): MemoryCommandResult {
    const login = args.at(-1) ?? '';
    if (this.#accounts.has(login))
      return { code: 9, stdout: '', stderr: `useradd: user '${login}' already exists\n` };
    const uidIndex = args.indexOf('--uid');
    const used = [...this.#accounts.values()].map((a) => a.uid);
    const uid = uidIndex >= 0 ? Number(args[uidIndex + 1]) : Math.max(999, ...used) + 1;
    this.#accounts.set(login, { login, uid, groups: [login], hasPassword: false });
    return { code: 0, stdout: '', stderr: '' };
  }

  #setPower(state: Exclude<PowerState, 'unknown'>): void {
    this.#power = state;
    if (state === 'off') this.sessions = [];
    this.powerEvents.push({ at: performance.now(), state });
  }

  #schedulePowerChange(ms: number, change: () => void): void {
    this.#cancelPendingPowerChange();
    this.#pendingPowerChange = setTimeout(() => {
      this.#pendingPowerChange = undefined;
      change();
    }, ms);
  }

  #cancelPendingPowerChange(): void {
    if (this.#pendingPowerChange !== undefined) clearTimeout(this.#pendingPowerChange);
    this.#pendingPowerChange = undefined;
  }
}

function newHostKey(): Buffer {
  return Buffer.from(`ssh-ed25519 ${randomBytes(32).toString('base64')} memory\n`);
}
