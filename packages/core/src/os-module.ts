import type { OsContext } from './context.js';
import type { EndState } from './end-state.js';
import type { ImageStamp, StampTarget } from './stamp.js';
import type { ReservationUser, UserAccess } from './users.js';

/** Optional features an OS module may declare. @public */
export type OsFeature =
  /** It implements `postCapture`. */
  | 'postCapture'
  /** `reserve` honours `ReservationUser.password`; without it a password is refused with `VLAB_ERR_CAPABILITY_MISSING`. */
  | 'passwordLogin'
  /** `reserve` honours `ReservationUser.admin`; without it an admin user is refused with `VLAB_ERR_CAPABILITY_MISSING`. */
  | 'adminUsers'
  /** `reserve` opens the login port only to `ReservationUser.allowFrom`; without it the port is open to all and `allowFrom` is advisory. */
  | 'firewall'
  /** It implements `userConnected` (contract 1.1). */
  | 'userConnected'
  /**
   * Every image its `preCapture` leaves installs its identity from an identity disk at boot, before
   * the SSH server starts (the identity disk protocol, `IDENTITY_DISK`; contract 1.1).
   */
  | 'identityDisk';

/** What an OS module declares it can do. @public */
export interface OsCapabilities {
  /** The end states its `preCapture` can reach; must include `'off'`. */
  readonly endStates: readonly EndState[];
  /** The optional features it implements; the manager refuses requests that need others. */
  readonly features: readonly OsFeature[];
}

/** What `postLoad` did. @public */
export interface PostLoadResult {
  /** False when the machine already was in the state `postLoad` makes (a repeated call). */
  readonly changed: boolean;
  /** The stamp now on the machine (state `ready`). */
  readonly stamp: ImageStamp;
}

/** Arguments of `reserve`. @public */
export interface ReserveArgs {
  /** Every user of the reservation, the owner first. */
  readonly users: readonly ReservationUser[];
}

/** What `reserve` returns: how each user connects. @public */
export interface ReserveResult {
  /** One entry per user and protocol. */
  readonly access: readonly UserAccess[];
}

/** Arguments of `preCapture`. @public */
export interface PreCaptureArgs {
  /** Where to leave the machine. Default: `'off'`. */
  readonly endState?: EndState | undefined;
  /** The image and new revision being captured, written into the image as its stamp. */
  readonly stamp: StampTarget;
}

/** What `preCapture` returns. @public */
export interface PreCaptureResult {
  /** The end state reached (and, for `off`, confirmed through `ctx.power`). */
  readonly endState: EndState;
}

/** Arguments of `userConnected`. @public */
export interface UserConnectedArgs {
  /** The logins to look for (the reservation's users); sessions of other accounts are not reported. */
  readonly users: readonly string[];
}

/** A login session of a user, as the OS records it. @public */
export interface UserSession {
  /** The user's login. */
  readonly login: string;
  /** When the session began, as an ISO 8601 time from the machine's clock. */
  readonly since: string;
  /** The address the user came from, when the OS records one. */
  readonly from?: string | undefined;
}

/** What `userConnected` found. @public */
export interface UserConnectedResult {
  /** Every open session of one of the asked users, oldest first; empty when nobody is connected. */
  readonly sessions: readonly UserSession[];
}

/** Options of `shutdown` and `reboot`. @public */
export interface PowerActionOptions {
  /** How long to wait for the machine to go down (and, for `reboot`, to answer again). Default: 300000. */
  readonly timeoutMs?: number | undefined;
}

/** Options of `waitForResponse`. @public */
export interface WaitForResponseOptions {
  /** Give up after this many milliseconds. Default: 600000. */
  readonly timeoutMs?: number | undefined;
}

/**
 * An OS module: what happens inside the guest across a reservation's life. One instance serves
 * every computer; all per-machine state comes in the context.
 *
 * @remarks
 * Every operation talks to the machine only through `ctx.communicator`, honours `ctx.signal`
 * (stopping within a few seconds of it firing, with `VLAB_ERR_OP_CANCELLED` or
 * `VLAB_ERR_OP_TIMEOUT`), and never logs a revealed secret. `preCapture` and `postLoad` are a
 * mirrored pair: what the first removes to make the image generic, the second restores for the
 * specific machine. There is no "capture start": `preCapture` does every OS step and reaches the
 * end state itself.
 * @public
 */
export interface OsModule {
  /** The module's name as configured (`os-linux`). */
  readonly name: string;
  /**
   * The OS family it serves (`linux`, `windows`): a lowercase name, required since contract 1.0.
   * It is matched against `ImageRef.osFamily` and against the provisioner's
   * `capabilities.osFamilies` — the families whose first contact that provisioner can arrange —
   * by {@link isCompatible}.
   */
  readonly family: string;
  /**
   * Optional (contract 1.1): the command language its operations need from `ctx.communicator`
   * (`Communicator.shell`): `posix` for a POSIX shell, `powershell` for PowerShell. Declared, the
   * manager refuses a computer whose communicator speaks the other one ({@link isCompatible} with
   * the request's `shell`), before the first operation; undeclared (a 1.0 module), nothing is
   * checked and the module must cope with the communicator it gets.
   */
  readonly shell?: 'posix' | 'powershell' | undefined;
  /** What it declares it can do; the manager checks requests against it before calling. */
  readonly capabilities: OsCapabilities;

  /**
   * Makes a freshly loaded image this machine: host name, new SSH host keys (reported through
   * `ctx.communicator.trustHostKeys` over the still-trusted connection), new machine id, the
   * lab's management access, clean-up of what `preCapture` left; then writes the stamp as
   * `ready`. Must be idempotent: a second call changes nothing and returns `changed: false`.
   */
  postLoad(ctx: OsContext): Promise<PostLoadResult>;

  /**
   * Creates the reservation's accounts (keys, password, admin only where granted), opens the
   * login port to each user's `allowFrom`, and says how users connect. `reserve` marks the stamp
   * tainted; a tainted computer is always reloaded before reuse (see
   * {@link ImageStamp}): `sanitize` removes the accounts but never clears the taint.
   * Must validate every user before changing anything, and reject fields the OS cannot hold
   * safely (`VLAB_ERR_CONFIG_INVALID`). Idempotent for the same users (the manager calls it again
   * after a checkpoint): an existing account is updated, not an error.
   */
  reserve(ctx: OsContext, args: ReserveArgs): Promise<ReserveResult>;

  /**
   * Revokes access: closes the firewall again, ends the users' sessions and processes, removes
   * every account `reserve` created and its home. Idempotent.
   */
  sanitize(ctx: OsContext): Promise<void>;

  /** Runs the image's end-of-reservation scripts, if it has any. Idempotent. */
  postReservation(ctx: OsContext): Promise<void>;

  /**
   * Generalizes the machine for capture — reservation users, host keys, machine id, logs,
   * histories, leases go; the stamp is written as `captured` for `args.stamp`; with the
   * `identityDisk` feature the image is left able to take its identity from an identity disk at
   * its next boot — and then reaches
   * `args.endState` (default `'off'`) before it returns: for `off`, power off confirmed through
   * `ctx.power` (never by the guest merely going silent), else `VLAB_ERR_POWER_UNCONFIRMED`; for
   * `reboot`, the machine confirmed gone down (power `off` or a changed `ctx.power.bootId`); for `on`, left running. Called by the provisioner
   * only, exactly once per capture, before any read of the disk. An end state the module does not
   * declare is refused with `VLAB_ERR_CAPABILITY_MISSING` before anything changes.
   */
  preCapture(ctx: OsContext, args: PreCaptureArgs): Promise<PreCaptureResult>;

  /**
   * Optional: runs after the manager recorded the new revision (declare the `postCapture` feature).
   * The machine is in the state `capture` left it: off after mode `image` (so only work that needs
   * no running guest belongs here), running after mode `checkpoint`.
   */
  postCapture?(ctx: OsContext): Promise<void>;

  /**
   * Optional (contract 1.1; declare the `userConnected` feature): the open login sessions of
   * `args.users`, from the OS's own session records (utmp, the session manager), so the manager can
   * move a reservation from reserved to in use, and reclaim one nobody connected to in time. A
   * session counts while it is open: once the user logged out it is not reported. Changes nothing
   * on the machine.
   */
  userConnected?(ctx: OsContext, args: UserConnectedArgs): Promise<UserConnectedResult>;

  /** Whether the OS answers now (one probe, bounded by the context). Never throws for "no". */
  isResponding(ctx: OsContext): Promise<boolean>;

  /** Resolves once the OS answers; throws `VLAB_ERR_OP_TIMEOUT` naming the last error. */
  waitForResponse(ctx: OsContext, options?: WaitForResponseOptions): Promise<void>;

  /** Shuts the OS down and confirms power off through `ctx.power`. */
  shutdown(ctx: OsContext, options?: PowerActionOptions): Promise<void>;

  /** Reboots the OS: confirms it went down, then waits until it answers again. */
  reboot(ctx: OsContext, options?: PowerActionOptions): Promise<void>;

  /** Reads the image stamp; `undefined` when the machine has none. Throws `VLAB_ERR_STAMP_INVALID`. */
  readStamp(ctx: OsContext): Promise<ImageStamp | undefined>;

  /**
   * Optional (contract 1.1): closes what the instance keeps open across operations (kept
   * sessions, connection pools). The manager calls it once when it unloads the module or shuts
   * down, after the last operation; the conformance kit calls it at the end of a run. Idempotent:
   * a second call resolves and does nothing. No operation is called after it.
   */
  close?(): Promise<void>;

  /**
   * Optional (contract 1.1): the operations this instance offers beyond the contract, by name,
   * each with a one-line description. A function-valued member (own or inherited) that is neither
   * a contract operation nor declared here makes `instantiateOsModule` refuse the instance with
   * `VLAB_ERR_MODULE_INVALID` — so no operation the contract dropped (a `captureStart`) can come
   * back unannounced. The manager never calls an extension on its own.
   */
  readonly extensions?: Readonly<Record<string, string>> | undefined;
}
