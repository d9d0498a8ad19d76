import type { ComputerRef, OperationContext, OsContext, ProvisionerContext } from '../context.js';
import type { ModuleDeps } from '../define.js';
import type { IdentityDiskFile } from '../identity-disk.js';
import type { LogRecord } from '../logger.js';
import type { OsModule } from '../os-module.js';
import type { PowerState } from '../power.js';
import type { ImageSource } from '../provisioner.js';
import type { Secret } from '../secret.js';
import type { ReservationUser } from '../users.js';

/** A power change as the harness saw it, stamped with `performance.now()`. @public */
export interface HarnessPowerEvent {
  /** When the change was seen, in `performance.now()` milliseconds. */
  readonly at: number;
  /** The power state the machine changed to. */
  readonly state: Exclude<PowerState, 'unknown'>;
}

/**
 * What runs on a machine: its own OS (booting, running or shutting down — the guest), a deploy or
 * capture environment the provisioner booted instead (PXE, a rescue system), or nothing (power
 * off). @public
 */
export type MachineEnvironment = 'os' | 'deploy' | 'offline';

/**
 * A read of the machine's disk by the provisioner, stamped with `performance.now()`, with what the
 * harness knew of the machine at that moment (kit 2: a harness fills in what it can observe).
 * @public
 */
export interface HarnessDiskRead {
  /** When the read started, in `performance.now()` milliseconds. */
  readonly at: number;
  /**
   * Optional (kit 2): the machine's power when the read started, as the harness saw it (not as
   * the provisioner's own probe said).
   */
  readonly power?: Exclude<PowerState, 'unknown'> | undefined;
  /**
   * Optional (kit 2): what ran on the machine when the read started. Reading the disk of a machine
   * whose own OS runs (`os`) captures a live guest: a provisioner whose capture end state is `off`
   * or `reboot` must read with the power off (`offline`) or in its deploy environment (`deploy`,
   * power on — right for bare metal).
   */
  readonly environment?: MachineEnvironment | undefined;
}

/** An account of the machine with what the kit compares, read from outside. @public */
export interface HarnessAccount {
  /** The login name. */
  readonly login: string;
  /** The numeric user id. */
  readonly uid: number;
  /** Every group it belongs to, its own included, sorted. */
  readonly groups: readonly string[];
  /** Whether it has administrator rights (sudo, the Administrators group). */
  readonly admin: boolean;
  /** Whether it has a usable password (not locked, not empty). */
  readonly hasPassword: boolean;
}

/** One file of the machine's disk as the kit compares it. @public */
export interface HarnessFile {
  /** Absolute path. */
  readonly path: string;
  /** Hex SHA-256 of the content (of the target's path, for a symbolic link). */
  readonly sha256: string;
  /** Permission bits (`0o644`). */
  readonly mode: number;
  /** The owning account (a login, or the numeric id when it has no name). */
  readonly owner: string;
  /** The owning group (a name, or the numeric id). */
  readonly group: string;
}

/** A command the machine ran, as the harness recorded it. @public */
export interface HarnessCommand {
  /** The argument vector. */
  readonly argv: readonly string[];
  /** Its environment beyond the login defaults, when the harness sees it. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** What it got on stdin, when the harness sees it. */
  readonly stdin?: Uint8Array | undefined;
}

/** What makes the machine this machine, read from its disk. @public */
export interface HarnessIdentity {
  /** The public SSH host keys on the disk (`type base64`); empty when it has none. */
  readonly hostKeys: readonly string[];
  /** The machine id (`/etc/machine-id`, the Windows SID); `undefined` when it has none. */
  readonly machineId: string | undefined;
}

/** How the kit asks the harness for a context. @public */
export interface HarnessContextOptions {
  /** The context's phase: the operation the kit is about to call (`postLoad`). */
  readonly phase: string;
  /** The context's deadline, in milliseconds from now. */
  readonly timeoutMs: number;
  /** The caller's cancel signal (the kit's abort checks); absent, only the deadline cancels. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * What a module author supplies so the conformance kit can drive and observe one machine.
 *
 * @remarks
 * The kit drives the module under test through the contexts the harness makes, and observes the
 * machine **only** through the harness — its power, accounts, files and disk reads, the secrets in
 * play and the log sink — never through the module or its communicator. So the harness must see
 * the machine from outside: a BMC for power, the disk image or a separate SSH connection for files
 * and accounts. `@vlab/core/testing` ships one for in-memory machines (`createMemoryLab`).
 * @public
 */
export interface ConformanceHarness {
  /** The computer under test. */
  readonly computer: ComputerRef;
  /** The image revision {@link ConformanceHarness.reset} loads; load checks use it. */
  readonly image: { readonly name: string; readonly revision: number; readonly osFamily: string };
  /** Where the OS module keeps the image stamp (e.g. `IMAGE_STAMP_PATHS.posix`). */
  readonly stampPath: string;
  /**
   * Brings the machine to the state right after a provisioner deployed {@link ConformanceHarness.image}
   * and booted it: on, answering, its stamp in state `captured`, `postLoad` not yet run, no
   * reservation accounts, the communicator's host-key pin matching the machine.
   */
  reset(): Promise<void>;
  /** A context for OS module calls on the machine; its logger writes to the harness's log sink. */
  osContext(options: HarnessContextOptions): OsContext;
  /** A context for provisioner calls on the machine, carrying `os`. */
  provisionerContext(os: OsModule, options: HarnessContextOptions): ProvisionerContext;
  /** A context for image-store calls. */
  operationContext(options: HarnessContextOptions): OperationContext;
  /** The machine's power, from its BMC or hypervisor. */
  power(): Promise<PowerState>;
  /**
   * Power changes seen since the last reset. A reboot must show as `off` then `on` even where
   * chassis power stays on (a warm reboot): derive it from the boot id if the BMC cannot tell.
   */
  powerEvents(): readonly HarnessPowerEvent[];
  /** Logins of the machine's non-system accounts (uid ≥ 1000 on POSIX), read from outside. */
  accounts(): Promise<readonly string[]>;
  /** A file from the machine's disk, whatever its power; `undefined` when absent. */
  readFile(path: string): Promise<Buffer | undefined>;
  /**
   * Optional (contract 1.1): the raw disk image of {@link ConformanceHarness.image} as an
   * `importImage` source, a fresh one each call. When it is there and the provisioner declares
   * the `importImage` feature, the provisioner kit seeds the provisioner's own store with it
   * through `importImage` (unless the store already has the revision) and checks the import.
   * Without it (or without the feature) {@link ConformanceHarness.image} must already be in the
   * provisioner's store before the run.
   */
  imageSource?(): Promise<ImageSource>;
  /**
   * Optional (contract 1.1), needed to check an OS module that declares the `identityDisk` feature:
   * powers the machine off if it is on, attaches an identity disk holding `files`
   * (`IDENTITY_DISK`: whole-disk ext4 labelled `VLAB-ID`) and boots it once from its disk as the
   * disk is now, the way a provisioner without write access to the disk would; resolves once the
   * machine is on. The next {@link ConformanceHarness.reset} detaches the identity disk.
   */
  bootWithIdentityDisk?(files: readonly IdentityDiskFile[]): Promise<void>;
  /**
   * Optional (contract 1.1), with {@link ConformanceHarness.bootWithIdentityDisk}: the public host
   * keys the machine's SSH server presents now, of every key type, read from outside as a client
   * sees them (`ssh-keyscan`), each as `type base64` without comment; empty while it does not answer.
   */
  presentedHostKeys?(): Promise<readonly string[]>;
  /**
   * Optional (contract 1.1), needed to check an OS module that declares the `userConnected`
   * feature: logs in as `login` (an account `reserve` created for one of
   * {@link ConformanceHarness.users}) from outside, the way the user would, and keeps the session
   * open until the returned function is called, which ends it and resolves once it is gone.
   */
  openSession?(login: string): Promise<() => Promise<void>>;
  /**
   * Optional (kit 2): the machine's accounts, system ones included, with groups, admin rights and
   * password state, read from outside (the disk, or a connection the module does not use). With
   * {@link ConformanceHarness.snapshotFiles} it lets the kit compare the whole machine state.
   */
  accountDetails?(): Promise<readonly HarnessAccount[]>;
  /**
   * Optional (kit 2): every file of the machine's disk, whatever its power, except the harness's
   * documented noise (see the kit's docs: caches, logs, runtime files), as path, hash, mode and
   * owner. The kit compares snapshots taken before and after operations.
   */
  snapshotFiles?(): Promise<readonly HarnessFile[]>;
  /** Optional (kit 2): whether `login` can log in with `password` now, tried as the user would. */
  canLogin?(login: string, password: Secret): Promise<boolean>;
  /** Optional (kit 2): the host keys and machine id on the machine's disk, whatever its power. */
  identity?(): Promise<HarnessIdentity>;
  /**
   * Optional (kit 2): every command the machine ran since the last reset, with argv (and env and
   * stdin where the harness sees them). Only a harness that sees every command can offer it: one
   * that runs the machine itself, or one that owns the communicator it hands to the contexts and
   * records there (the module has no other channel to the machine): each `run`, and each `put` as
   * the command `put PATH` with the content as its stdin, as the memory machine counts them. A real
   * machine's short-lived processes cannot be sampled reliably from outside the module's channel.
   */
  commands?(): readonly HarnessCommand[];
  /**
   * Optional (kit 2): makes the machine stop answering once it has run `count` more commands, until
   * the returned function is called — so the kit can abort an operation at a known point of its
   * work rather than after a time. The command that completes the count takes effect, but its
   * answer hangs, and so does every later call; a hanging call still rejects when its signal fires
   * or its deadline passes, as the communicator's calls do. A harness that records at the
   * communicator it hands to the contexts (see {@link ConformanceHarness.commands}) can hold the
   * calls there.
   */
  stallAfterCommands?(count: number): Promise<() => Promise<void>>;
  /**
   * Optional (kit 2): dependencies for the module's `create` (its logger writes into
   * {@link ConformanceHarness.logs}, so the kit searches what the module logs outside operations
   * too). Create the module under test with them.
   */
  moduleDeps?(): ModuleDeps;
  /**
   * Reads of the machine's disk by the provisioner since the last reset, each with the power and
   * the environment at that moment where the harness can tell (kit 2).
   */
  diskReads(): readonly HarnessDiskRead[];
  /**
   * Optional (kit 2): every entry of the provisioner's image store as the harness sees it from
   * outside — published and temporary alike (the files of a store directory, the volumes of a
   * pool) — each by a name of the harness's choosing. The kit compares listings taken before and
   * after a failed or aborted capture: whatever is new was left behind.
   */
  storeEntries?(): Promise<readonly string[]>;
  /**
   * Optional (kit 2): whether the machine's OS answers connections now, seen from outside (its SSH
   * port), without logging in. The kit asks it when `load` calls `postLoad`, which must come after
   * the OS answers; a memory machine does not count this as a connection attempt.
   */
  answering?(): Promise<boolean>;
  /** Makes the machine stop answering (commands hang) until the returned function is called. */
  stall(): Promise<() => Promise<void>>;
  /** Users for `reserve`: at least one with a password and one admin. */
  users(): readonly ReservationUser[];
  /** Every secret in play: user passwords, the machine's credentials. None may reach a log line. */
  secrets(): readonly Secret[];
  /** Every log record the contexts' loggers wrote, oldest first. */
  logs(): readonly LogRecord[];
}
