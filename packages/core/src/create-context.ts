import type { Communicator } from './communicator.js';
import type {
  ChildContextOptions,
  ComputerContext,
  ComputerRef,
  ImageRef,
  OperationContext,
  OsContext,
  ProvisionerContext,
  ReservationRef,
} from './context.js';
import { coreError } from './errors/core-errors.js';
import { followSignal } from './follow-signal.js';
import type { Logger } from './logger.js';
import type { OsModule } from './os-module.js';
import type { PowerProbe } from './power.js';
import { createProgressReporter, type ProgressSink } from './progress.js';
import { createSecretResolver, type SecretResolver } from './secret.js';

/** What every context is made from. @public */
export interface OperationContextInit {
  /** The context's logger, used as given (bind the computer yourself); each child adds its `phase`. */
  readonly log: Logger;
  /**
   * Epoch milliseconds by which the operation must finish. Its timer does not keep the process
   * alive by itself: whoever waits for the operation does (`runSteps` and the conformance kit's
   * checks do while they run).
   */
  readonly deadline: number;
  /**
   * The caller's cancel signal; the context's own signal also fires at the deadline. However many
   * contexts follow one caller signal, they add one `abort` listener to it, removed once none does.
   */
  readonly signal?: AbortSignal | undefined;
  /** Default: `'operation'`. */
  readonly phase?: string | undefined;
  /** Where progress events go. Default: nowhere. */
  readonly progress?: ProgressSink | undefined;
  /** Default: environment variables and files of this process. */
  readonly secrets?: SecretResolver | undefined;
}

/** Adds the computer and what the operation concerns. @public */
export interface ComputerContextInit extends OperationContextInit {
  /** The computer the operation acts on; its name goes into progress events and timeout errors. */
  readonly computer: ComputerRef;
  /** The image the operation concerns, when there is one. */
  readonly image?: ImageRef | undefined;
  /** The reservation the operation serves, when there is one. */
  readonly reservation?: ReservationRef | undefined;
}

/** Adds what an OS module needs. @public */
export interface OsContextInit extends ComputerContextInit {
  /** A communicator connected to the computer; the context does not open or close it. */
  readonly communicator: Communicator;
  /** The machine's power probe; children may replace it (`ChildContextOptions.power`). */
  readonly power: PowerProbe;
}

/** Adds the OS module a provisioner drives. @public */
export interface ProvisionerContextInit extends OsContextInit {
  /** The OS module of the image on the computer, which the provisioner calls through `ctx.os`. */
  readonly os: OsModule;
}

/** Makes an {@link OperationContext} (image store calls). @public */
export function createOperationContext(init: OperationContextInit): OperationContext {
  return build(init, init.signal);
}

/** Makes a {@link ComputerContext} (power calls). @public */
export function createComputerContext(init: ComputerContextInit): ComputerContext {
  return build(bindComputer(init), init.signal) as ComputerContext;
}

/** Makes an {@link OsContext}: what the manager passes to `reserve`, `sanitize`, `postReservation`. @public */
export function createOsContext(init: OsContextInit): OsContext {
  return build(bindComputer(init), init.signal) as OsContext;
}

/** Makes a {@link ProvisionerContext}: what the manager passes to `load`, `capture`, `nodeStatus`. @public */
export function createProvisionerContext(init: ProvisionerContextInit): ProvisionerContext {
  return build(bindComputer(init), init.signal) as ProvisionerContext;
}

type AnyInit = OperationContextInit & {
  readonly [K in keyof ProvisionerContextInit]?: ProvisionerContextInit[K] | undefined;
};

// One builder for all four kinds: a child keeps every field of its parent, so the context a
// provisioner derives for preCapture is an OsContext with the same computer and communicator.
function build(
  init: AnyInit,
  parentSignal: AbortSignal | undefined,
  parentDeadline?: number,
): OperationContext {
  const phase = init.phase ?? 'operation';
  const computerName = init.computer?.name;
  // A child with its parent's deadline follows the parent's timer rather than racing it.
  const ownDeadline = parentDeadline === undefined || init.deadline < parentDeadline;
  const signal = deadlineSignal(
    parentSignal,
    ownDeadline ? init.deadline : undefined,
    phase,
    computerName,
  );
  const secrets = init.secrets ?? createSecretResolver();
  const progressSink = init.progress ?? (() => {});
  const ctx = {
    computer: init.computer,
    image: init.image,
    reservation: init.reservation,
    communicator: init.communicator,
    power: init.power,
    os: init.os,
    log: init.log,
    signal,
    deadline: init.deadline,
    phase,
    progress: createProgressReporter(progressSink, { phase, computer: computerName }),
    secrets,
    remainingMs: () => Math.max(0, init.deadline - Date.now()),
    child(options: ChildContextOptions): OperationContext {
      const childPhase = `${phase}/${options.phase}`;
      if (options.detached === true && options.deadline === undefined) {
        throw new TypeError('a detached child context needs its own deadline');
      }
      const deadline =
        options.detached === true
          ? (options.deadline as number)
          : Math.min(init.deadline, options.deadline ?? init.deadline);
      return build(
        {
          ...init,
          phase: childPhase,
          deadline,
          log: init.log.child({ phase: childPhase }),
          power: options.power ?? init.power,
          secrets,
          progress: progressSink,
        },
        options.detached === true ? undefined : signal,
        options.detached === true ? undefined : init.deadline,
      );
    },
  };
  return ctx as OperationContext;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Binds the computer's name into the logger of a context made for a computer. */
function bindComputer<Init extends ComputerContextInit>(init: Init): Init {
  return { ...init, log: init.log.child({ computer: init.computer.name }) };
}

function deadlineSignal(
  parent: AbortSignal | undefined,
  deadline: number | undefined,
  phase: string,
  computer: string | undefined,
): AbortSignal {
  // No deadline of its own: the child ends exactly when its parent does, so it shares the parent's
  // signal — no listener on the parent, nothing to release however many children there are.
  if (deadline === undefined && parent !== undefined) return parent;
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return controller.signal;
  }
  if (deadline === undefined) return controller.signal;
  let timer: ReturnType<typeof setTimeout>;
  // Released at the deadline or when the parent fires, whichever is first.
  const unfollow =
    parent === undefined
      ? () => {}
      : followSignal(parent, (reason) => {
          clearTimeout(timer);
          controller.abort(reason);
        });
  // setTimeout holds at most about 24.8 days: re-arm until the deadline is really reached.
  const arm = (): void => {
    const left = deadline - Date.now();
    timer = setTimeout(
      left > MAX_TIMER_MS ? arm : expire,
      Math.min(MAX_TIMER_MS, Math.max(0, left)),
    );
    // The deadline guards an operation; the operation, not its deadline, keeps the process alive
    // (runSteps and the conformance kit do while they run), so a finished one never delays exit.
    timer.unref();
  };
  const expire = (): void => {
    unfollow();
    controller.abort(
      coreError(
        'VLAB_ERR_OP_TIMEOUT',
        `${phase} did not finish by its deadline ${new Date(deadline).toISOString()}`,
        { computer, details: { phase, deadline } },
      ),
    );
  };
  arm();
  return controller.signal;
}
