import { createHash, randomBytes } from 'node:crypto';
import { IDENTITY_DISK, type IdentityDiskFile } from '../../identity-disk.js';
import type { PowerState } from '../../power.js';
import type { MachineEnvironment } from '../harness.js';
import { kitSeed, machineSeed, nextMachineSalt, seededRandom } from '../seeded-random.js';

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
  /** SHA-256 of the password `chpasswd` set (what a login is checked against). */
  readonly passwordHash?: string | undefined;
}

/** Who owns a file of a {@link MemoryMachine} and who may read it. @public */
export interface MemoryFileMeta {
  /** Permission bits, e.g. `0o644`. */
  readonly mode: number;
  /** The owning account's login. */
  readonly owner: string;
  /** The owning group. */
  readonly group: string;
}

/** A command a {@link MemoryMachine} ran, as recorded for the conformance kit. @public */
export interface MemoryCommandRecord {
  /** The argument vector. */
  readonly argv: readonly string[];
  /** What the command got on stdin. */
  readonly stdin: Buffer;
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
  /** What ran on the machine when the read started: its own OS, the deploy environment, or nothing. */
  readonly environment: MachineEnvironment;
}

/**
 * A duration in milliseconds: fixed, or drawn anew each time from `[min, max]` (whole
 * milliseconds, both included) with the kit's seeded random numbers (`VLAB_KIT_SEED`). @public
 */
export type MemoryDuration = number | readonly [min: number, max: number];

/**
 * Timing of a {@link MemoryMachine}: every duration is drawn anew for each boot, shutdown and
 * reboot (see {@link MemoryDuration}). @public
 */
export interface MemoryMachineTiming {
  /**
   * From `systemctl poweroff` or `systemctl reboot` until the OS stops answering (its SSH server
   * stopped); the power stays on. Default: `[1, 8]` ms.
   */
  readonly sshStopMs?: MemoryDuration;
  /**
   * From `systemctl poweroff` or `systemctl reboot` until the power may go off (at least
   * `sshStopMs`). A reboot goes down then by itself; a power-off goes off at the first BMC power
   * query ({@link MemoryMachine.power}) after it. Default: `[15, 90]` ms.
   */
  readonly shutdownMs?: MemoryDuration;
  /** How long a reboot keeps the power off before the machine boots again. Default: `[15, 50]` ms. */
  readonly rebootDownMs?: MemoryDuration;
  /**
   * From power-on until the booting OS answers; it also refuses at least one connection attempt
   * of each boot. Default: `[10, 60]` ms.
   */
  readonly bootMs?: MemoryDuration;
  /** The seed of this machine's draws. Default: derived from the kit's seed (`VLAB_KIT_SEED`). */
  readonly seed?: number;
}

/** Where a {@link MemoryMachine} boots next: its own OS from its disk, or the lab's deploy environment. @public */
export type MemoryBootTarget = 'os' | 'deploy';

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
 *
 * Timing, as on real hardware ({@link MemoryMachineTiming}; durations drawn with the kit's seed):
 * after power-on the OS refuses connections while it boots — and always refuses the first attempt
 * of a boot, so only a caller that waits for it (retrying) gets through. After
 * `systemctl poweroff` or `systemctl reboot` the OS answers a moment longer, then stops answering
 * while the power is still on. A reboot then goes down, stays off a while and boots again by
 * itself. A power-off goes off at the first BMC power query ({@link MemoryMachine.power}) once
 * its duration has passed: to a module that never asks the BMC — one that takes the connection
 * dropping, or a fixed sleep, for "off" — the machine stays on however long it waits, as a
 * machine with a hung stop job would. {@link MemoryMachine.meteredPower} and {@link MemoryMachine.answering} show the
 * machine without asking it anything (what the conformance harness reads).
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
  /** Owner and mode of each file of {@link MemoryMachine.files}; absent: root's, `0o644`. */
  fileMeta = new Map<string, MemoryFileMeta>();
  /** Every command run since the machine was made, oldest first (argv and stdin). */
  readonly commands: MemoryCommandRecord[] = [];
  /** Open login sessions ({@link MemoryMachine.openSession}), oldest first; gone at power off. */
  sessions: MemorySession[] = [];
  /**
   * Where the next boot goes: `deploy` boots the lab's deploy environment (a PXE boot), which can
   * read and write the disk with the power on and runs no guest OS (the guest's communicator gets
   * no answer). A one-time flag: every boot sets it back to `os`. Default: `os`.
   */
  nextBoot: MemoryBootTarget = 'os';
  #identityDisk: readonly IdentityDiskFile[] | undefined;
  #stallCountdown: number | undefined;
  #resumeStall: (() => void) | undefined;
  #power: Exclude<PowerState, 'unknown'> = 'off';
  #accounts = new Map<string, MemoryAccount>();
  #stalled = false;
  #stallWaiters: (() => void)[] = [];
  #pendingPowerChange: ReturnType<typeof setTimeout> | undefined;
  readonly #timing: Required<Omit<MemoryMachineTiming, 'seed'>>;
  readonly #seed: number | undefined;
  #random: (() => number) | undefined;
  // What runs while the power is on.
  #booted: MemoryBootTarget = 'os';
  // The boot: when the OS answers from, and whether it refused an attempt yet.
  #answersFrom = 0;
  #refusedThisBoot = true;
  // A shutdown under way: whether the OS stopped answering (a timer's doing, so never between two
  // steps of a caller that does not wait), and (power-off only) when the power may go off.
  #shutdown: { sshStopped: boolean; readonly offFrom: number | undefined } | undefined;

  /**
   * A machine that is off, with an empty disk and no accounts.
   * @param name - The computer's name.
   * @param timing - Its boot, shutdown and reboot durations; see {@link MemoryMachineTiming}.
   */
  constructor(name: string, timing: MemoryMachineTiming = {}) {
    this.name = name;
    this.#timing = {
      sshStopMs: timing.sshStopMs ?? [1, 8],
      shutdownMs: timing.shutdownMs ?? [15, 90],
      rebootDownMs: timing.rebootDownMs ?? [15, 50],
      bootMs: timing.bootMs ?? [10, 60],
    };
    this.#seed = timing.seed;
  }

  /**
   * Power as its BMC reports it. Asking is a BMC query: it is what completes a power-off whose
   * duration has passed (see the class remarks).
   */
  get power(): Exclude<PowerState, 'unknown'> {
    const shutdown = this.#shutdown;
    if (shutdown?.offFrom !== undefined && performance.now() >= shutdown.offFrom)
      this.#setPower('off');
    return this.#power;
  }

  /** Power as a meter on its supply shows it: reading it asks the BMC nothing (what the harness reads). */
  get meteredPower(): Exclude<PowerState, 'unknown'> {
    return this.#power;
  }

  /** What runs on the machine now: its own OS (booting, running or shutting down), the deploy environment, or nothing. */
  get environment(): MachineEnvironment {
    return this.#power === 'off' ? 'offline' : this.#booted;
  }

  /**
   * Whether the machine answers on its management network (its OS up, not stalled). Asking is a
   * connection attempt, as {@link MemoryMachine.connectionAttempt}.
   */
  get reachable(): boolean {
    return !this.#stalled && this.connectionAttempt() === undefined;
  }

  /** Whether the OS would answer a connection now (not stalled), seen from outside without trying one. */
  get answering(): boolean {
    return !this.#stalled && this.#refusal(false) === undefined;
  }

  /**
   * A connection attempt to the OS (what a communicator does first): `undefined` when the OS
   * accepts it, else why not. A refused attempt while the OS boots counts: each boot refuses at
   * least one. A stalled machine accepts, and then hangs.
   */
  connectionAttempt(): string | undefined {
    return this.#refusal(true);
  }

  #refusal(attempt: boolean): string | undefined {
    if (this.#power === 'off') return 'power is off';
    if (this.#booted === 'deploy') return 'it runs the deploy environment, not its OS';
    if (this.#shutdown?.sshStopped === true) return 'it is shutting down';
    if (performance.now() < this.#answersFrom || !this.#refusedThisBoot) {
      if (attempt) this.#refusedThisBoot = true;
      return 'it is still booting';
    }
    return undefined;
  }

  /** Accounts with uid ≥ 1000, i.e. not system accounts. */
  get userAccounts(): readonly MemoryAccount[] {
    return [...this.#accounts.values()].filter((a) => a.uid >= 1000);
  }

  /**
   * Powers on from outside and boots {@link MemoryMachine.nextBoot}; no-op when on (a shutdown under
   * way goes on). The OS answers only after its boot duration, unless `instantBoot` (what
   * `MemoryLab.deploy` does: a harness hands over a machine that answers).
   */
  powerOn(options: { readonly instantBoot?: boolean } = {}): void {
    if (this.#power === 'on') return;
    this.#cancelPendingPowerChange();
    this.#boot(options.instantBoot === true);
  }

  #boot(instant: boolean): void {
    this.#booted = this.nextBoot;
    this.nextBoot = 'os';
    this.#shutdown = undefined;
    if (this.#booted === 'os') this.#takeIdentity();
    this.#answersFrom = instant ? 0 : performance.now() + this.#draw(this.#timing.bootMs);
    this.#refusedThisBoot = instant;
    this.#setPower('on');
    this.bootCount += 1;
  }

  // A duration of the timing, drawn with the machine's seeded random numbers.
  #draw(duration: MemoryDuration): number {
    if (typeof duration === 'number') return duration;
    const [min, max] = duration;
    if (max <= min) return min;
    this.#random ??= seededRandom(this.#seed ?? machineSeed(kitSeed(), nextMachineSalt()));
    return min + Math.floor(this.#random() * (max - min + 1));
  }

  // `systemctl poweroff` or `reboot`: the OS answers until its SSH server stops, then not; the
  // power goes off after the shutdown duration (a power-off at the next BMC query).
  #beginShutdown(kind: 'poweroff' | 'reboot'): void {
    this.#cancelPendingPowerChange();
    const now = performance.now();
    const stopMs = this.#draw(this.#timing.sshStopMs);
    const downMs = Math.max(stopMs, this.#draw(this.#timing.shutdownMs));
    const shutdown = { sshStopped: false, offFrom: kind === 'poweroff' ? now + downMs : undefined };
    this.#shutdown = shutdown;
    setTimeout(() => {
      shutdown.sshStopped = true;
    }, stopMs);
    if (kind === 'reboot') {
      this.#schedulePowerChange(downMs, () => {
        this.#setPower('off');
        this.#schedulePowerChange(this.#draw(this.#timing.rebootDownMs), () => this.#boot(false));
      });
    }
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
    this.#shutdown = undefined;
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
      meta?: Record<string, MemoryFileMeta>;
    };
    this.files = new Map(
      Object.entries(parsed.files).map(([path, b64]) => [path, Buffer.from(b64, 'base64')]),
    );
    this.fileMeta = new Map(Object.entries(parsed.meta ?? {}));
    this.#accounts = new Map(parsed.accounts.map((a) => [a.login, a]));
  }

  /** Empties the disk — no files, no accounts — as deleting a VM and its overlay would. */
  eraseDisk(): void {
    this.files = new Map();
    this.fileMeta = new Map();
    this.#accounts = new Map();
  }

  /** Reads the whole disk (a capture) and records the read. */
  readDisk(): Buffer {
    this.diskReads.push({
      at: performance.now(),
      power: this.#power,
      environment: this.environment,
    });
    const files = Object.fromEntries(
      [...this.files].map(([path, data]) => [path, data.toString('base64')]),
    );
    const meta = Object.fromEntries(this.fileMeta);
    return Buffer.from(JSON.stringify({ files, accounts: [...this.#accounts.values()], meta }));
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

  /** Writes a file as the communicator's `put` would: root's and `0o644` unless `meta` says otherwise. */
  writeFile(path: string, data: Buffer, meta: Partial<MemoryFileMeta> = {}): void {
    this.files.set(path, data);
    this.fileMeta.set(path, { ...ROOT_FILE, ...meta });
  }

  /** Owner and mode of a file (root's, `0o644`, when never set). */
  metaOf(path: string): MemoryFileMeta {
    return this.fileMeta.get(path) ?? ROOT_FILE;
  }

  /**
   * A file written over the machine's management connection (the communicator's `put`): recorded
   * as the command `put PATH` with the content as its stdin, and counted like a command.
   */
  put(path: string, data: Buffer, meta: Partial<MemoryFileMeta> = {}): void {
    this.#record(['put', path], data);
    this.writeFile(path, data, meta);
  }

  /**
   * Stalls the machine once it has run `count` more commands (a `put` counts as one): the last
   * one takes effect, but its answer hangs until the returned function is called.
   */
  stallAfterCommands(count: number): () => void {
    this.#stallCountdown = count;
    return () => {
      this.#stallCountdown = undefined;
      this.#resumeStall?.();
    };
  }

  /** Whether `password` logs `login` in: the account exists and `chpasswd` set that password. */
  checkPassword(login: string, password: string): boolean {
    const account = this.#accounts.get(login);
    return account?.passwordHash !== undefined && account.passwordHash === hashPassword(password);
  }

  /** The machine's accounts, system ones included. */
  get allAccounts(): readonly MemoryAccount[] {
    return [...this.#accounts.values()];
  }

  /** Runs one command, recording it; see the class remarks for the command set. */
  exec(argv: readonly string[], stdin: Buffer): MemoryCommandResult {
    this.#record(argv, stdin);
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
        for (const path of args.filter((a) => !a.startsWith('-'))) {
          this.files.delete(path);
          this.fileMeta.delete(path);
        }
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
          if (path.startsWith(`/home/${login}/`)) {
            this.files.delete(path);
            this.fileMeta.delete(path);
          }
        return ok();
      }
      case 'usermod': {
        const login = args.at(-1) ?? '';
        const group = args[args.indexOf('--groups') + 1] ?? '';
        const account = this.#accounts.get(login);
        if (account === undefined) return fail(6, `usermod: user '${login}' does not exist\n`);
        // --append of a group it already has changes nothing, as on Linux.
        if (!account.groups.includes(group))
          this.#accounts.set(login, { ...account, groups: [...account.groups, group] });
        return ok();
      }
      case 'chpasswd':
        for (const line of stdin.toString('utf8').split('\n').filter(Boolean)) {
          const login = line.slice(0, line.indexOf(':'));
          const account = this.#accounts.get(login);
          if (account === undefined)
            return fail(1, `chpasswd: line 1: user '${login}' does not exist\n`);
          const passwordHash = hashPassword(line.slice(line.indexOf(':') + 1));
          this.#accounts.set(login, { ...account, hasPassword: true, passwordHash });
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
        if (args[0] === 'poweroff' || args[0] === 'reboot') {
          this.#beginShutdown(args[0]);
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

  #record(argv: readonly string[], stdin: Buffer): void {
    this.commands.push({ argv: [...argv], stdin });
    if (this.#stallCountdown === undefined) return;
    this.#stallCountdown -= 1;
    if (this.#stallCountdown > 0) return;
    this.#stallCountdown = undefined;
    this.#resumeStall = this.stall();
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
    if (state === 'off') {
      this.sessions = [];
      this.#shutdown = undefined;
    }
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

const ROOT_FILE: MemoryFileMeta = { mode: 0o644, owner: 'root', group: 'root' };

function hashPassword(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

function newHostKey(): Buffer {
  return Buffer.from(`ssh-ed25519 ${randomBytes(32).toString('base64')} memory\n`);
}
