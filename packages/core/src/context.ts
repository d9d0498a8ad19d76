import type { Communicator } from './communicator.js';
import type { Logger } from './logger.js';
import type { OsModule } from './os-module.js';
import type { PowerProbe } from './power.js';
import type { ProgressReporter } from './progress.js';
import type { SecretRef, SecretResolver } from './secret.js';

/** A computer of the lab, as operations see it. @public */
export interface ComputerRef {
  /** Unique name in the lab; every error and log line about the computer carries it. */
  readonly name: string;
  /** The host name the OS should carry once loaded. */
  readonly hostname: string;
  /** Management address (reached by the manager) and, when users reach another one, the public address. */
  readonly addresses: { readonly management: string; readonly public?: string | undefined };
  /** Credentials the provisioner needs (BMC, hypervisor), as references the manager resolves. */
  readonly credentials: Readonly<Record<string, SecretRef>>;
  /** Provisioner-specific facts: BMC address, VM name, disk path. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** An image revision as a request names it. @public */
export interface ImageRef {
  /** The image's name in the store. */
  readonly name: string;
  /** The revision of the image, an integer. */
  readonly revision: number;
  /** The OS family the image holds (`linux`, `windows`), matched against the OS module. */
  readonly osFamily: string;
}

/** The reservation an operation serves. @public */
export interface ReservationRef {
  /** The reservation's id in the manager, for logs and errors. */
  readonly id: string;
  /** ISO time the reservation ends. */
  readonly endsAt?: string | undefined;
}

/**
 * What {@link OperationContext.child} may change.
 *
 * @remarks
 * A child needs no disposal. In the contexts core makes (`createOperationContext` and its
 * siblings), a child with its parent's deadline shares its parent's signal; a child with an
 * earlier deadline follows the parent's signal until that deadline passes or the parent's signal
 * fires, through one `abort` listener on the parent however many children follow it; a detached
 * child does not follow it at all.
 * @public
 */
export interface ChildContextOptions {
  /** The phase the child works in; it names log lines and progress events. */
  readonly phase: string;
  /**
   * Epoch milliseconds; never later than the parent's deadline (the earlier one wins), except for
   * a `detached` child, whose own deadline applies as given.
   */
  readonly deadline?: number | undefined;
  /**
   * A child that the parent's signal does not cancel, bounded only by its own deadline — for
   * cleanups, which must run after an abort. Requires `deadline`.
   */
  readonly detached?: boolean | undefined;
  /** For provisioners: the power probe the OS module's context should use (defaults to the parent's). */
  readonly power?: PowerProbe | undefined;
}

/**
 * What every operation receives. The signal fires when the caller cancels or when the deadline
 * passes (its reason is then `VLAB_ERR_OP_TIMEOUT`); every remote call must honour it.
 * @public
 */
export interface OperationContext {
  /** Bound to the computer and phase. Never log a revealed secret. */
  readonly log: Logger;
  /** Fires on cancel or at the deadline; pass it to every remote call. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which the operation must have finished. */
  readonly deadline: number;
  /** The phase this context belongs to (`load`, `capture/preCapture`). */
  readonly phase: string;
  /** Progress of long work: bytes, rate, ETA. */
  readonly progress: ProgressReporter;
  /** Turns secret references into secrets. */
  readonly secrets: SecretResolver;
  /** Milliseconds left until the deadline (0 once it passed). */
  remainingMs(): number;
  /** A context for a sub-phase, with its own logger bindings, progress phase and (earlier) deadline. */
  child(options: ChildContextOptions): OperationContext;
}

/** The context of an operation on one computer. @public */
export interface ComputerContext extends OperationContext {
  /** The computer the operation acts on. */
  readonly computer: ComputerRef;
  /** The image the operation concerns, when there is one. */
  readonly image?: ImageRef | undefined;
  /** The reservation the operation serves, when there is one. */
  readonly reservation?: ReservationRef | undefined;
  /**
   * A child of the same kind: same computer, image and reservation; see
   * {@link OperationContext.child}. Throws a `TypeError` for `detached` without `deadline`.
   */
  child(options: ChildContextOptions): ComputerContext;
}

/**
 * The context of an OS module operation: a connected {@link Communicator} and a read-only
 * {@link PowerProbe}, both supplied by the caller.
 * @public
 */
export interface OsContext extends ComputerContext {
  /** The connection to the computer's OS: the only way an OS module reaches the machine. */
  readonly communicator: Communicator;
  /** The machine's power from its BMC or hypervisor; what confirms a shutdown. */
  readonly power: PowerProbe;
  /**
   * A child of the same kind: same communicator, and the power probe of `options.power` when
   * given (else the parent's); see {@link OperationContext.child}.
   */
  child(options: ChildContextOptions): OsContext;
}

/**
 * The context of a provisioner operation on a computer. It is an {@link OsContext} too:
 * `ctx.child({ phase: 'preCapture', deadline })` is the context a provisioner passes to
 * `ctx.os.preCapture`.
 * @public
 */
export interface ProvisionerContext extends OsContext {
  /** The OS module of the image on this computer. */
  readonly os: OsModule;
  /**
   * A child of the same kind, still carrying `os`; the child to pass to `ctx.os` operations. See
   * {@link OperationContext.child}.
   */
  child(options: ChildContextOptions): ProvisionerContext;
}
