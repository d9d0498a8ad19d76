import {
  type Communicator,
  type ComputerContext,
  type ComputerRef,
  createComputerContext,
  createOsContext,
  createProvisionerContext,
  type ImageRef,
  type Logger,
  type OsContext,
  type OsModule,
  type PowerProbe,
  type Provisioner,
  type ProvisionerContext,
  type ReservationRef,
  type SecretResolver,
} from '@vlab/core';
import type { ManagerConfig } from '../config/manager-config.js';
import { type ConfiguredComputer, configuredComputers } from '../config/manager-config.js';
import type { ComposedModules } from '../modules/compose-modules.js';
import type { ProgressRecorder } from './progress-recorder.js';

/**
 * Makes the communicator the OS modules reach a computer through (`ctx.communicator`), speaking
 * `shell`: the one the OS module of the computer's image declares (`OsModule.shell`, `posix` when
 * it declares none). Called once per computer and shell; the manager keeps what it returns for as
 * long as it runs.
 * @public
 */
export type CommunicatorFactory = (
  computer: ComputerRef,
  secrets: SecretResolver,
  shell: CommandShell,
) => Promise<Communicator>;

/** The remote command language of a communicator (`Communicator.shell`). @public */
export type CommandShell = 'posix' | 'powershell';

/** What one operation's context concerns. */
export interface OperationScope {
  /** Names the context's phase in logs, progress and timeout errors (`load`, `reserve`). */
  readonly phase: string;
  /** The operation's time limit. */
  readonly timeoutMs: number;
  /** Cancels the operation (the manager's shutdown). */
  readonly signal: AbortSignal;
  readonly image?: ImageRef | undefined;
  readonly reservation?: ReservationRef | undefined;
}

/**
 * The manager's way to the lab's computers: each computer's reference as the configuration
 * declares it, its provisioner, and the contexts the modules' operations get.
 */
export class ComputerAccess {
  readonly #computers: ReadonlyMap<string, ConfiguredComputer>;
  readonly #modules: ComposedModules;
  readonly #communicators: CommunicatorFactory;
  readonly #secrets: SecretResolver;
  readonly #log: Logger;
  readonly #progress: ProgressRecorder;
  readonly #open = new Map<string, Promise<Communicator>>();

  constructor(
    config: ManagerConfig,
    modules: ComposedModules,
    deps: {
      readonly communicators: CommunicatorFactory;
      readonly secrets: SecretResolver;
      readonly log: Logger;
      /** Where the operations' progress reports go. */
      readonly progress: ProgressRecorder;
    },
  ) {
    this.#computers = new Map(configuredComputers(config).map((c) => [c.computer.name, c]));
    this.#modules = modules;
    this.#communicators = deps.communicators;
    this.#secrets = deps.secrets;
    this.#log = deps.log;
    this.#progress = deps.progress;
  }

  /** Whether the configuration names the computer. */
  has(name: string): boolean {
    return this.#computers.has(name);
  }

  /** The computer as the configuration declares it. */
  computer(name: string): ComputerRef {
    return this.#configured(name).computer;
  }

  /** The provisioner instance that drives the computer. */
  provisioner(name: string): Provisioner {
    const key = this.#configured(name).provisioner;
    const provisioner = this.#modules.provisioners.get(key);
    if (provisioner === undefined) throw new TypeError(`no provisioner instance ${key}`);
    return provisioner;
  }

  /** The OS module of an OS family, or `undefined` when the configuration names none. */
  osModule(family: string): OsModule | undefined {
    return this.#modules.osModules.get(family);
  }

  /** The computer's power as its provisioner reads it: what confirms a shutdown. */
  powerProbe(name: string, scope: OperationScope): PowerProbe {
    const provisioner = this.provisioner(name);
    return {
      status: (options) =>
        provisioner.powerStatus(
          this.computerContext(name, {
            ...scope,
            phase: `${scope.phase}/power`,
            timeoutMs: 10_000,
            signal: options?.signal ?? scope.signal,
          }),
        ),
    };
  }

  /** A context for a power call or a store call about the computer. */
  computerContext(name: string, scope: OperationScope): ComputerContext {
    return createComputerContext(this.#init(name, scope));
  }

  /** A context for an operation of `os` on the computer. */
  async osContext(name: string, os: OsModule, scope: OperationScope): Promise<OsContext> {
    return createOsContext({
      ...this.#init(name, scope),
      communicator: await this.communicator(name, os),
      power: this.powerProbe(name, scope),
    });
  }

  /** A context for a provisioner's operation on the computer, whose image `os` serves. */
  async provisionerContext(
    name: string,
    os: OsModule,
    scope: OperationScope,
  ): Promise<ProvisionerContext> {
    return createProvisionerContext({
      ...this.#init(name, scope),
      communicator: await this.communicator(name, os),
      power: this.powerProbe(name, scope),
      os,
    });
  }

  /**
   * The computer's communicator for `os`, made at first use: one per computer and shell, read
   * from the OS module before connecting (a computer loaded with Windows after Linux needs the
   * other one).
   */
  communicator(name: string, os?: OsModule): Promise<Communicator> {
    const shell: CommandShell = os?.shell ?? 'posix';
    const key = `${shell}:${name}`;
    let communicator = this.#open.get(key);
    if (communicator === undefined) {
      communicator = this.#communicators(this.computer(name), this.#secrets, shell);
      // A failed attempt is not kept: the next operation tries again.
      communicator.catch(() => this.#open.delete(key));
      this.#open.set(key, communicator);
    }
    return communicator;
  }

  #init(name: string, scope: OperationScope) {
    return {
      log: this.#log,
      deadline: Date.now() + scope.timeoutMs,
      signal: scope.signal,
      phase: scope.phase,
      secrets: this.#secrets,
      computer: this.computer(name),
      image: scope.image,
      reservation: scope.reservation,
      progress: this.#progress.sink(scope.reservation?.id),
    };
  }

  #configured(name: string): ConfiguredComputer {
    const configured = this.#computers.get(name);
    if (configured === undefined)
      throw new TypeError(`the configuration names no computer ${name}`);
    return configured;
  }
}
