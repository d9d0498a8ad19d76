import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ChildMessage,
  ManagerMethod,
  ModuleMessage,
  ParentMessage,
  StepMessage,
} from './messages.js';

const here = dirname(fileURLToPath(import.meta.url));
/** apps/manager: where `tsx` and the manager's packages resolve. */
const MANAGER_DIR = join(here, '../..');

/** A finished step as a manager process reported it, with the test's clock. */
export interface StepReport extends Omit<StepMessage, 'kind' | 'id'> {
  readonly manager: string;
  /** `Date.now()` in the test when the report arrived. */
  readonly at: number;
}

/** A module point as a manager process reported it, with the test's clock. */
export interface ModuleReport extends Omit<ModuleMessage, 'kind' | 'id'> {
  readonly manager: string;
  readonly at: number;
}

/** How to start a manager process. */
export interface ManagerProcessOptions {
  /** Its `managerId` (DBOS executor id). */
  readonly id: string;
  readonly configPath: string;
  /** What its secret resolver reads (database url, BMC passwords). */
  readonly env: Readonly<Record<string, string>>;
  /** Sees each finished step; the manager's step waits until it settles. */
  readonly onStep?: ((step: StepReport) => unknown) | undefined;
  /** Sees each module point; the module waits until it settles. */
  readonly onModule?: ((point: ModuleReport) => unknown) | undefined;
}

/**
 * A manager running `createManager` in its own OS process (manager-child.ts), so a test can
 * SIGKILL it: nothing of it then runs on, as when a host dies. Its warnings and errors are kept
 * in `log`, its standard error in `stderr`.
 */
export class ManagerProcess {
  readonly id: string;
  readonly log: string[] = [];
  readonly stderr: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | string | null>;
  readonly #replies = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #next = 1;
  #ready: () => void = () => {};

  private constructor(options: ManagerProcessOptions) {
    this.id = options.id;
    this.#child = spawn(process.execPath, ['--import', 'tsx', join(here, 'manager-child.ts')], {
      cwd: MANAGER_DIR,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: {
        ...process.env,
        ...options.env,
        VLAB_SM_CONFIG: options.configPath,
        VLAB_SM_MANAGER_ID: options.id,
      },
    });
    this.#exited = new Promise((resolve) =>
      this.#child.once('exit', (code, signal) => resolve(code ?? signal)),
    );
    void this.#exited.then((outcome) => {
      for (const pending of this.#replies.values())
        pending.reject(new Error(`manager ${this.id} exited (${outcome})`));
      this.#replies.clear();
    });
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (text: string) => this.stderr.push(text));
    this.#child.on('message', (message: ChildMessage) => this.#receive(options, message));
  }

  /**
   * Starts a manager process and waits until its manager runs. Fails loudly, with its standard
   * error, when it exits first or does not start within `boundMs` (a hang, not a slow start:
   * a start takes seconds).
   */
  static async start(
    options: ManagerProcessOptions,
    boundMs = 5 * 60_000,
  ): Promise<ManagerProcess> {
    const started = new ManagerProcess(options);
    const ready = new Promise<'ready'>((resolve) => {
      started.#ready = () => resolve('ready');
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), boundMs);
    });
    const outcome = await Promise.race([ready, started.#exited, bound]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      started.#child.kill('SIGKILL');
      await started.#exited;
      throw new Error(
        `manager ${options.id} did not start (${outcome === 'hung' ? `not ready after ${boundMs / 1000} s` : `exited: ${outcome}`}): ${started.stderr.join('')} ${started.log.join('\n')}`,
      );
    }
    return started;
  }

  /** Calls the manager's API in its process. */
  call<T>(method: ManagerMethod, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#replies.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#send({ kind: 'call', id, method, args });
    });
  }

  /** SIGKILLs the process and waits until it is gone; returns `Date.now()` at the signal. */
  async kill(): Promise<number> {
    const at = Date.now();
    this.#child.kill('SIGKILL');
    await this.#exited;
    return at;
  }

  /** Closes the manager (`Manager.close`) and waits for its exit; a process that hangs is killed. */
  async close(boundMs = 120_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#send({ kind: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), boundMs);
    });
    const outcome = await Promise.race([this.#exited, bound]);
    clearTimeout(timer);
    if (outcome === 'hung') {
      this.log.push(`did not close within ${boundMs / 1000} s: killed`);
      await this.kill();
    }
  }

  #send(message: ParentMessage): void {
    if (this.#child.connected) this.#child.send(message);
  }

  #receive(options: ManagerProcessOptions, message: ChildMessage): void {
    const at = Date.now();
    switch (message.kind) {
      case 'ready':
        this.#ready();
        return;
      case 'log':
        this.log.push(`[${this.id} ${message.level}] ${message.message} ${message.fields}`);
        return;
      case 'reply': {
        const pending = this.#replies.get(message.id);
        this.#replies.delete(message.id);
        if (message.error === undefined) pending?.resolve(message.result);
        else
          pending?.reject(
            Object.assign(new Error(message.error.message), { code: message.error.code }),
          );
        return;
      }
      case 'step':
      case 'module': {
        const { kind, id, ...report } = message;
        const seen =
          kind === 'step'
            ? options.onStep?.({
                ...(report as Omit<StepMessage, 'kind' | 'id'>),
                manager: this.id,
                at,
              })
            : options.onModule?.({
                ...(report as Omit<ModuleMessage, 'kind' | 'id'>),
                manager: this.id,
                at,
              });
        void Promise.resolve(seen).then(() => this.#send({ kind: 'ack', id }));
        return;
      }
    }
  }
}
