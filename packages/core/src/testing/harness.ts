import type { ComputerRef, OperationContext, OsContext, ProvisionerContext } from '../context.js';
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

/** A read of the machine's disk by the provisioner, stamped with `performance.now()`. @public */
export interface HarnessDiskRead {
  /** When the read started, in `performance.now()` milliseconds. */
  readonly at: number;
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
  /** Reads of the machine's disk by the provisioner since the last reset. */
  diskReads(): readonly HarnessDiskRead[];
  /** Makes the machine stop answering (commands hang) until the returned function is called. */
  stall(): Promise<() => Promise<void>>;
  /** Users for `reserve`: at least one with a password and one admin. */
  users(): readonly ReservationUser[];
  /** Every secret in play: user passwords, the machine's credentials. None may reach a log line. */
  secrets(): readonly Secret[];
  /** Every log record the contexts' loggers wrote, oldest first. */
  logs(): readonly LogRecord[];
}
